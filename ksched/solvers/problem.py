"""The placement problem every solver reads, and the assignment every solver returns.

One shape for all algorithms (CP-SAT, greedy, min-cost flow) so that one
validator (``ksched.solvers.validate``) checks them all, as networkx checks
every flow algorithm with ``validate_flows``. Everything is numpy: nodes x
resources, nodes x GPUs, pods x resources.

GPUs are modelled per card, as Open-Gpu-Share allocates them: a pod asking
``num_gpu`` x ``gpu_milli`` takes ``gpu_milli`` on each of ``num_gpu``
distinct cards of one node (a whole-GPU pod asks 1000 per card, so it needs
idle cards). ``gpu_free[n, g]`` is the free milli of card ``g`` of node
``n``, -1 where the node has fewer cards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = ["NO_NODE", "Assignment", "PlacementProblem", "fits_gpus", "pick_gpus"]

NO_NODE: Final = -1
GPU_MILLI_PER_CARD: Final = 1000

IntArray = NDArray[np.int64]
IndexArray = NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class PlacementProblem:
    """Pods to place on nodes with free capacity, each pod on one of its candidate nodes.

    ``free``: (nodes, resources) free amounts; ``demand``: (pods, resources)
    requests in the same columns. ``candidates[p]`` are the nodes pod ``p``
    may use (its profile's Filter plugins passed them), best first, and
    ``scores[p]`` their framework scores. ``value[p]`` is what placing ``p``
    is worth to the "placed" objective (GPU milli, or 1 per pod, times a
    priority weight); ``priority`` orders the greedy fallback.
    """

    free: IntArray
    gpu_free: IntArray
    demand: IntArray
    num_gpu: IntArray
    gpu_milli: IntArray
    candidates: list[IndexArray]
    scores: list[IntArray]
    value: IntArray
    priority: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    node_used: NDArray[np.bool_] | None = None
    pod_keys: list[str] = field(default_factory=list)
    node_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n_pods, n_nodes = len(self.demand), len(self.free)
        if self.priority.shape != (n_pods,):
            object.__setattr__(self, "priority", np.zeros(n_pods, dtype=np.int64))
        checks = (
            ("demand", self.demand.ndim == 2 and self.demand.shape[1] == self.free.shape[1]),
            ("gpu_free", self.gpu_free.ndim == 2 and len(self.gpu_free) == n_nodes),
            ("num_gpu", self.num_gpu.shape == (n_pods,)),
            ("gpu_milli", self.gpu_milli.shape == (n_pods,)),
            ("value", self.value.shape == (n_pods,)),
            ("candidates", len(self.candidates) == n_pods),
            ("scores", [len(s) for s in self.scores] == [len(c) for c in self.candidates]),
        )
        for name, ok in checks:
            if not ok:
                raise ValueError(f"PlacementProblem: {name!r} does not match the other arrays")
        for p, cand in enumerate(self.candidates):
            if len(cand) and (cand.min() < 0 or cand.max() >= n_nodes):
                raise ValueError(f"PlacementProblem: pod {p} has a candidate outside the nodes")

    @property
    def n_pods(self) -> int:
        return len(self.demand)

    @property
    def n_nodes(self) -> int:
        return len(self.free)

    def pod_label(self, p: int) -> str:
        return self.pod_keys[p] if self.pod_keys else f"pod {p}"

    def node_label(self, n: int) -> str:
        return self.node_names[n] if self.node_names else f"node {n}"


@dataclass(eq=False)
class Assignment:
    """Where each pod goes (``NO_NODE``: not placed), which GPU cards, and how good it is.

    ``objective`` and ``bound`` are in the solver's objective units (higher
    is better); ``gap`` is CP-SAT's relative optimality gap, 0 when proved
    optimal, NaN when no bound is known (greedy).
    """

    node: IndexArray
    gpus: list[tuple[int, ...]]
    status: str
    objective: float = math.nan
    bound: float = math.nan
    wall_seconds: float = 0.0
    detail: dict[str, float] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_pods: int, status: str) -> Assignment:
        return cls(np.full(n_pods, NO_NODE, dtype=np.intp), [()] * n_pods, status)

    @property
    def placed(self) -> int:
        return int((self.node != NO_NODE).sum())

    @property
    def gap(self) -> float:
        if math.isnan(self.bound) or math.isnan(self.objective):
            return math.nan
        return abs(self.bound - self.objective) / max(1.0, abs(self.bound))


def fits_gpus(gpu_free: IntArray, num_gpu: int, milli: int) -> NDArray[np.bool_]:
    """Per node: at least ``num_gpu`` cards with ``milli`` free (vectorised over rows)."""
    if num_gpu == 0:
        return np.ones(len(gpu_free), dtype=bool)
    ok: NDArray[np.bool_] = (gpu_free >= milli).sum(axis=1) >= num_gpu
    return ok


def pick_gpus(free_row: IntArray, num_gpu: int, milli: int) -> tuple[int, ...] | None:
    """Best fit: the ``num_gpu`` cards with the least room that still take ``milli``.

    Ties go to the lowest index, as the FGD notes (item 4) describe BestFit's
    GPU choice; whole-GPU requests thus take the lowest-index idle cards.
    """
    if num_gpu == 0:
        return ()
    ok = np.flatnonzero(free_row >= milli)
    if len(ok) < num_gpu:
        return None
    order = ok[np.argsort(free_row[ok], kind="stable")]
    return tuple(sorted(int(g) for g in order[:num_gpu]))
