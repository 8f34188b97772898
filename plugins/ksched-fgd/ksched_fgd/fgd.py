"""FGDScore: fragmentation gradient descent, the FGD paper's policy.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads
with Fragmentation Gradient Descent" (USENIX ATC '23), section 4; the
simulator's ``fgd_score.go``. A node's fragment against a target workload M
of typical pods m with popularity p_m is F(n) = sum_m p_m F_m(n), the idle
GPU milli that m could not use (``ksched.sim.metrics.Fragmentation``, the
same code the replay measures with). Placing the pod moves the node from n
to n'; the score is

    int(100 * sigmoid((F(n) - F(n')) / 1000))

so a placement that does not change the fragment scores exactly 50. For a
pod sharing one GPU, n' is tried on every GPU with room and the best
(lowest index on ties) counts; Reserve then uses that GPU (``select_gpus``,
OpenGpuShare ``gpuSelection: score``). Whole GPUs go to the lowest-index free
ones. A pod with no requests at all scores 100.

The target workload (``targetPods``): the pod shapes (cpu, GPU share, GPU
count, GPU models) that cover ``coverage`` (95%) of the pods of a pod list,
most popular first, CPU-only pods included (NOTES-fgd-experiments.md item 5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins.gpushare import (
    GPU_ANNOTATIONS,
    GpuRequest,
    GpuShareState,
    first_free,
    gpu_request,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU, CPU_COL
from ksched.framework.runtime import ROW_PATH_MAX_ROWS
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.sim.metrics import DEFAULT_COVERAGE, Fragmentation, TargetWorkload

__all__ = ["NAME", "FGDArgs", "FGDScore", "TargetShape", "new", "target_workload"]

NAME: Final = "FGDScore"
OPENB_PREFIX: Final = "openb:"
# Fragment differences are sums of float products; round off the noise so that an
# unchanged fragment gives exactly sigmoid(0) = 0.5 -> 50, as in the simulator.
_DECIMALS: Final = 6


class _Args(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class TargetShape(_Args):
    """One typical pod and its weight (weights are renormalised to sum to 1)."""

    cpu_milli: int = Field(ge=0)
    gpu_milli: int = Field(0, ge=0, le=1000)
    gpu_count: int = Field(0, ge=0)
    gpu_models: list[str] = Field(default_factory=list)
    weight: float = Field(gt=0)


class FGDArgs(_Args):
    """``targetPods``: ``openb:<variant>`` (the local openb trace copy) or the path of a
    pod list CSV in the openb layout; or ``targetShapes`` given inline. Neither: an
    empty target, under which every placement scores 50."""

    target_pods: str | None = None
    target_shapes: list[TargetShape] | None = None
    coverage: float = Field(DEFAULT_COVERAGE, gt=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> FGDArgs:
        if self.target_pods is not None and self.target_shapes is not None:
            raise ValueError("give targetPods or targetShapes, not both")
        return self


Args = FGDArgs


def target_workload(args: FGDArgs) -> TargetWorkload:
    """The target workload ``args`` describe; a bad source raises ValueError naming it."""
    from ksched.traces import load_openb, read_openb_pods

    if args.target_shapes is not None:
        shapes = args.target_shapes
        weight = np.asarray([s.weight for s in shapes], dtype=np.float64)
        return TargetWorkload(
            cpu_milli=np.asarray([s.cpu_milli for s in shapes], dtype=np.int64),
            gpu_milli=np.asarray([s.gpu_milli if s.gpu_count else 0 for s in shapes], np.int64),
            num_gpu=np.asarray([s.gpu_count if s.gpu_milli else 0 for s in shapes], np.int64),
            gpu_models=tuple(tuple(s.gpu_models) for s in shapes),
            weight=weight / weight.sum() if len(shapes) else weight,
        )
    if args.target_pods is None:
        none = np.zeros(0, dtype=np.int64)
        return TargetWorkload(none, none, none, (), np.zeros(0))
    source = args.target_pods
    try:
        if source.startswith(OPENB_PREFIX):
            pods = load_openb(variant=source[len(OPENB_PREFIX) :]).pods
        else:
            pods = read_openb_pods(Path(source))
    except (OSError, ValueError) as err:
        raise ValueError(f"FGDScore args targetPods {source!r}: {err}") from err
    return TargetWorkload.from_pods(pods, args.coverage)


def fgd_scores(delta: NDArray[np.float64]) -> NDArray[np.int64]:
    """int(100 * sigmoid(delta / 1000)) for fragment decreases ``delta`` (milli-GPU)."""
    x = np.round(delta, _DECIMALS) / 1000.0
    return np.trunc(MAX_NODE_SCORE / (1.0 + np.exp(-x))).astype(np.int64)


def fgd_score(delta: float) -> int:
    """``fgd_scores`` of one fragment decrease, equal to it bit for bit.

    ``np.round(x, 6)`` is rint(x * 10**6) / 10**6 (numpy's ``PyArray_Round``);
    ``round`` rounds half to even as rint does. The exponential stays numpy's, whose
    SIMD loops need not agree with ``math.exp`` in the last bit.
    """
    x = round(delta * 10.0**_DECIMALS) / 10.0**_DECIMALS / 1000.0
    return int(MAX_NODE_SCORE / (1.0 + float(np.exp(-x))))


def packed_placement(free: NDArray[np.int64], request: GpuRequest) -> NDArray[np.int64]:
    """The layout after ``request`` takes the least-free GPUs that fit (``NodeResource.Sub``)."""
    order = np.argsort(free, axis=1, kind="stable")
    ranked = np.take_along_axis(free, order, axis=1)
    fits = ranked >= request.milli
    take = fits & (np.cumsum(fits, axis=1) <= request.count)
    out = np.empty_like(free)
    np.put_along_axis(out, order, ranked - take * request.milli, axis=1)
    return out


def packed_placement_row(free: list[int], request: GpuRequest) -> list[int]:
    """``packed_placement`` of one node's layout."""
    out = list(free)
    left = request.count
    for g in sorted(range(len(free)), key=free.__getitem__):  # stable, as argsort there
        if left and free[g] >= request.milli:
            out[g] -= request.milli
            left -= 1
    return out


class FGDScore:
    node_local = True  # the node's own CPU and GPU layout only
    pod_annotations = GPU_ANNOTATIONS  # the pod's GPU request (``gpu_request``)

    def __init__(self, target: TargetWorkload, handle: Any) -> None:
        self.target = target
        self.gpus = GpuShareState.of(handle.snapshot)
        self._frag: Fragmentation | None = None
        self._models: list[str] = []
        # F(n) of every node now, refreshed on the rows the snapshot logs as changed:
        # a node's fragment is the same whichever pod is being scored.
        self._before = np.zeros(0)
        self._before_generation = -1
        self._before_position = -1

    @property
    def name(self) -> str:
        return NAME

    def _fragmentation(self) -> Fragmentation:
        if self._frag is None or self._models != self.gpus.models:
            self._models = list(self.gpus.models)
            self._frag = Fragmentation(self.target, self._models)
        return self._frag

    def _fragments(self) -> NDArray[np.float64]:
        """F(n) of every snapshot row, recomputed only where pods changed since the last call.

        Sound for the reason the framework's per-class score cache is: every change
        of a node's pods, hence of its free CPU and GPU shares, is in the snapshot's log.
        """
        gpus = self.gpus
        gpus.sync()
        snap = gpus.snapshot
        changed = snap.rows_changed_since(self._before_position)
        rows: NDArray[np.intp] | slice
        if (
            changed is None
            or self._before_generation != snap.node_generation
            or len(self._before) != snap.n
        ):
            rows = slice(0, snap.n)
            self._before = np.zeros(snap.n)
        elif changed:
            unique = sorted(set(changed))  # np.unique's sort costs more on a short log
            if len(unique) <= ROW_PATH_MAX_ROWS:
                # A cycle changes a node or two: numpy's per-call cost outweighs the work.
                self._patch(unique)
                return self._before
            rows = np.asarray(unique, dtype=np.intp)
        else:
            return self._before
        cpu_free = snap.allocatable[rows, CPU_COL] - snap.requested[rows, CPU_COL]
        self._before[rows] = self._fragmentation().amount(
            gpus.free[rows], cpu_free, gpus.model[rows]
        )
        self._before_generation = snap.node_generation
        self._before_position = snap.log_position
        return self._before

    def _patch(self, rows: list[int]) -> None:
        """``_fragments`` of a few rows through ``amount_row`` (equal bit for bit)."""
        frag, gpus = self._fragmentation(), self.gpus
        snap = gpus.snapshot
        for row in rows:
            cpu_free = int(snap.allocatable[row, CPU_COL] - snap.requested[row, CPU_COL])
            self._before[row] = frag.amount_row(
                gpus.free[row].tolist(), cpu_free, int(gpus.model[row])
            )
        self._before_position = snap.log_position

    def per_gpu_scores(
        self, row: int, request: GpuRequest, cpu_free: int, cpu: int, before: float | None = None
    ) -> list[int]:
        """Score of placing a one-GPU share pod on each GPU of snapshot row ``row`` (-1: no room).

        ``cpu_free``: the node's free CPU before the pod, ``cpu`` the pod's CPU request;
        ``before``: the node's fragment at ``cpu_free`` when known.
        """
        frag = self._fragmentation()
        gpus = self.gpus
        free: list[int] = gpus.free[row].tolist()
        model = int(gpus.model[row])
        if before is None:
            before = frag.amount_row(free, cpu_free, model)
        after = frag.amount_after_share_row(free, cpu_free - cpu, model, request.milli)
        return [-1 if a is None else fgd_score(before - a) for a in after]

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score_nodes`` for one node in plain Python, for the few rows a cached class patches."""
        if not pod.requests:
            return MAX_NODE_SCORE
        row = node.index
        before = float(self._fragments()[row])
        gpus = self.gpus
        snap = gpus.snapshot
        cpu_free = int(snap.allocatable[row, CPU_COL] - snap.requested[row, CPU_COL])
        request = gpu_request(pod)
        cpu = pod.non_zero_cpu
        if request is not None and request.count == 1 and request.shares_a_gpu:
            return max(max(self.per_gpu_scores(row, request, cpu_free, cpu, before)), 0)
        frag = self._fragmentation()
        free: list[int] = gpus.free[row].tolist()
        model = int(gpus.model[row])
        after_free = free if request is None else packed_placement_row(free, request)
        return fgd_score(before - frag.amount_row(after_free, cpu_free - cpu, model))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        if not pod.requests:
            return np.full(len(nodes), MAX_NODE_SCORE, dtype=np.int64)
        before = self._fragments()[nodes.idx]
        view = self.gpus.view(nodes)
        request = gpu_request(pod)
        cpu = pod.non_zero_cpu
        frag = self._fragmentation()
        if request is not None and request.count == 1 and request.shares_a_gpu:
            rows, _, after = frag.amount_after_share(
                view.free, view.cpu_free - cpu, view.model, request.milli
            )
            best = np.zeros(len(nodes), dtype=np.int64)  # no GPU with room: 0
            np.maximum.at(best, rows, fgd_scores(before[rows] - after))
            return best
        after_free = view.free if request is None else packed_placement(view.free, request)
        after = frag.amount(after_free, view.cpu_free - cpu, view.model)
        return fgd_scores(before - after)

    def select_gpus(
        self, pod: PodInfo, request: GpuRequest, row: int, state: GpuShareState
    ) -> tuple[int, ...] | None:
        """The GPU whose use scores best (first on ties); whole GPUs: lowest-index free ones."""
        count = int(state.gpus[row])
        if not (request.count == 1 and request.shares_a_gpu):
            return first_free(state.free[row], count, request.count)
        snap = state.snapshot
        cpu_free = int(snap.allocatable[row, CPU_COL] - snap.requested[row, CPU_COL])
        if snap.pod_nodes.get(pod.key) is not None:
            # Reserve runs after the pod is assumed; score the node as Score saw it.
            cpu_free += pod.requests.get(CPU, 0)
        scores = self.per_gpu_scores(row, request, cpu_free, pod.non_zero_cpu)
        best = max(scores)
        if best < 0:
            return None
        return (scores.index(best),)


def new(args: FGDArgs | None, handle: Any) -> FGDScore:
    return FGDScore(target_workload(args or FGDArgs()), handle)
