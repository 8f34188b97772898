"""FGD's workload tuning: bring the submitted GPU request to ``ratio`` x cluster GPU capacity.

The FGD paper's simulator (NOTES-fgd-experiments.md, "Workload tuning" and
items 7; its ``SortClusterPods`` and ``TunePodsByNodeTotalResource``) does,
with one seeded generator:

1. sort the original pods by name and shuffle them (the arrival order);
2. tune up, when their total GPU request (num_gpu x gpu_milli) is below the
   target: draw pods uniformly with replacement from the *name-sorted*
   originals, rename each copy ``<name>-tuned-<i>`` (``i`` counts the copies
   appended, from 0) and append it; stop at the first draw for which
   ``total + gpu_milli`` (the per-GPU share, not num_gpu x gpu_milli: the
   quirk that lets a multi-GPU copy overshoot) exceeds the target, without
   appending it;
3. tune down, when the total is above the target: remove pods picked
   uniformly from the current list, one at a time, until the total is at or
   below the target.

Step 3 here draws one random permutation and removes its prefix, which picks
the same pods with the same probabilities as repeated uniform removal. The
Go simulator's random generator cannot be reproduced, so individual seeds
differ from its runs; distributions over seeds match.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from ksched.traces.workload import PodTable, Workload

__all__ = ["TunedPods", "gpu_request_milli", "tune_pods", "tune_workload"]

Direction = Literal["up", "down", "none"]
_DRAW_BLOCK: Final = 1024


@dataclass(frozen=True, eq=False)
class TunedPods:
    """The arrival order after tuning: rows of the original table and each pod's name.

    ``rows`` repeats a row for every tuned-up copy. Totals are milli-GPU.
    """

    rows: NDArray[np.intp]
    names: NDArray[np.object_]
    direction: Direction
    target_milli: float
    total_before_milli: int
    total_after_milli: int

    def __len__(self) -> int:
        return len(self.rows)


def gpu_request_milli(pods: PodTable) -> NDArray[np.int64]:
    """Each pod's total GPU request, num_gpu x gpu_milli."""
    return pods.num_gpu.astype(np.int64) * pods.gpu_milli.astype(np.int64)


def _check(name: str, value: float, ok: bool, rule: str) -> None:
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of tune_pods must be {rule}. Got {value!r} instead."
        )


def tune_pods(
    pods: PodTable,
    ratio: float,
    gpu_capacity_milli: int,
    rng: np.random.Generator,
    *,
    shuffle: bool = True,
) -> TunedPods:
    """Order and tune ``pods`` as the FGD simulator does (see the module docstring).

    ``ratio <= 0`` means no tuning (the order is still shuffled, as upstream);
    ``shuffle=False`` keeps the name order.
    """
    _check("ratio", ratio, bool(np.isfinite(ratio)), "finite")
    _check("gpu_capacity_milli", gpu_capacity_milli, gpu_capacity_milli >= 0, ">= 0")
    by_name = np.argsort(pods.name, kind="stable").astype(np.intp)
    order = by_name[rng.permutation(len(by_name))] if shuffle else by_name
    request = gpu_request_milli(pods)
    total = int(request.sum())
    target = ratio * gpu_capacity_milli
    names = pods.name[order]
    if ratio <= 0 or float(total) == target:
        return TunedPods(order, names, "none", target, total, total)
    if float(total) > target:
        return _tune_down(order, names, request, total, target, rng)
    return _tune_up(pods, by_name, order, request, total, target, rng)


def _tune_down(
    order: NDArray[np.intp],
    names: NDArray[np.object_],
    request: NDArray[np.int64],
    total: int,
    target: float,
    rng: np.random.Generator,
) -> TunedPods:
    removal = rng.permutation(len(order))
    left = total - np.cumsum(request[order[removal]])
    # The removal that first brings the total to the target is the last one made.
    stop = int(np.argmax(left <= target)) + 1 if (left <= target).any() else len(order)
    keep = np.ones(len(order), dtype=bool)
    keep[removal[:stop]] = False
    after = int(left[stop - 1]) if stop else total
    return TunedPods(order[keep], names[keep], "down", target, total, after)


def _tune_up(
    pods: PodTable,
    by_name: NDArray[np.intp],
    order: NDArray[np.intp],
    request: NDArray[np.int64],
    total: int,
    target: float,
    rng: np.random.Generator,
) -> TunedPods:
    if total == 0:
        # Nothing to scale: every copy would add 0 and the draws would never stop.
        raise ValueError("cannot tune up a workload that requests no GPU")
    per_gpu = pods.gpu_milli.astype(np.int64)
    copies: list[int] = []
    running = total
    while True:
        for pick in rng.integers(len(by_name), size=_DRAW_BLOCK):
            row = int(by_name[pick])
            if running + int(per_gpu[row]) > target:  # the quirk: per-GPU share checked
                rows = np.concatenate([order, np.asarray(copies, dtype=np.intp)])
                names = np.empty(len(rows), dtype=object)
                names[: len(order)] = pods.name[order]
                for i, row_i in enumerate(copies):
                    names[len(order) + i] = f"{pods.name[row_i]}-tuned-{i}"
                return TunedPods(rows, names, "up", target, total, running)
            running += int(request[row])
            copies.append(row)


def tune_workload(
    workload: Workload, ratio: float, seed: int = 0, *, shuffle: bool = True
) -> Workload:
    """The workload with its pods tuned against its own cluster's GPU capacity, in arrival order."""
    capacity = 1000 * int(workload.nodes.gpu_count.sum())
    tuned = tune_pods(workload.pods, ratio, capacity, np.random.default_rng(seed), shuffle=shuffle)
    pods = replace(workload.pods.subset(tuned.rows), name=tuned.names)
    meta = {
        **workload.meta,
        "tune_ratio": ratio,
        "tune_seed": seed,
        "tune_direction": tuned.direction,
        "tune_total_before_milli": tuned.total_before_milli,
        "tune_total_after_milli": tuned.total_after_milli,
    }
    return Workload(workload.name, workload.nodes, pods, meta)
