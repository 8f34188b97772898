"""NodeResourcesFit: does the node have room, and how full would it be.

Filter: kube-scheduler's ``fitsRequest`` (noderesources/fit.go).  Score: the
configured strategy (LeastAllocated by default, MostAllocated or
RequestedToCapacityRatio) from ``least_allocated.go``, ``most_allocated.go``
and ``requested_to_capacity_ratio.go``.
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.noderesources.allocation import (
    ResourceSpec,
    allocation_matrix,
    go_div,
    pod_request_list,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import (
    CPU_COL,
    EPHEMERAL_COL,
    MEMORY_COL,
    PODS_COL,
    ResourceIndex,
    is_scalar_resource,
)
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet, rows_of
from ksched.framework.status import Code, Status

NAME: Final = names.NODE_RESOURCES_FIT
_DEFAULT_COLUMNS: Final = (
    ("cpu", CPU_COL),
    ("memory", MEMORY_COL),
    ("ephemeral-storage", EPHEMERAL_COL),
)
ERR_REASON_TOO_MANY_PODS: Final = "Too many pods"
MAX_UTILIZATION: Final = 100
MAX_CUSTOM_PRIORITY_SCORE: Final = 10


class ScoringStrategyType(StrEnum):
    LEAST_ALLOCATED = "LeastAllocated"
    MOST_ALLOCATED = "MostAllocated"
    REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"


class _Args(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class ResourceSpecArgs(_Args):
    name: str
    weight: int = Field(1, ge=1, le=100)


class UtilizationShapePoint(_Args):
    utilization: int = Field(ge=0, le=MAX_UTILIZATION)
    score: int = Field(ge=0, le=MAX_CUSTOM_PRIORITY_SCORE)


class RequestedToCapacityRatioParam(_Args):
    shape: list[UtilizationShapePoint]

    @field_validator("shape")
    @classmethod
    def _increasing(cls, shape: list[UtilizationShapePoint]) -> list[UtilizationShapePoint]:
        if not shape:
            raise ValueError("at least one point must be specified")
        for a, b in itertools.pairwise(shape):
            if b.utilization <= a.utilization:
                raise ValueError("utilization values must be sorted in increasing order")
        return shape


def _default_resources() -> list[ResourceSpecArgs]:
    return [ResourceSpecArgs(name="cpu", weight=1), ResourceSpecArgs(name="memory", weight=1)]


class ScoringStrategy(_Args):
    type: ScoringStrategyType = ScoringStrategyType.LEAST_ALLOCATED
    resources: list[ResourceSpecArgs] = Field(default_factory=_default_resources)
    requested_to_capacity_ratio: RequestedToCapacityRatioParam | None = None

    @model_validator(mode="after")
    def _shape_required(self) -> ScoringStrategy:
        if (
            self.type == ScoringStrategyType.REQUESTED_TO_CAPACITY_RATIO
            and self.requested_to_capacity_ratio is None
        ):
            raise ValueError(
                "requestedToCapacityRatio is required for type RequestedToCapacityRatio"
            )
        return self


class NodeResourcesFitArgs(_Args):
    ignored_resources: list[str] = Field(default_factory=list)
    ignored_resource_groups: list[str] = Field(default_factory=list)
    scoring_strategy: ScoringStrategy = Field(default_factory=ScoringStrategy)


Args = NodeResourcesFitArgs


def broken_linear(shape: list[tuple[int, int]], p: NDArray[np.int64]) -> NDArray[np.int64]:
    """Piecewise-linear through ``shape`` in Go integer maths (helper.BuildBrokenLinearFunction)."""
    out = np.full(p.shape, shape[-1][1], dtype=np.int64)
    done = np.zeros(p.shape, dtype=bool)
    for i, (u, s) in enumerate(shape):
        hit = ~done & (p <= u)
        if i == 0:
            out[hit] = s
        else:
            u0, s0 = shape[i - 1]
            out[hit] = s0 + go_div((s - s0) * (p[hit] - u0), u - u0)
        done |= hit
    return out


_Columns = tuple[NDArray[np.intp], NDArray[np.int64], list[int], list[int]]
_COLUMNS_KEY: Final = NAME + "/columns"


class NodeResourcesFit:
    """Filter on free resources; score by the configured strategy."""

    # Verdicts on a node depend only on the pod and that node (see ksched.framework.equivalence).
    node_local = True
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation

    def __init__(self, args: NodeResourcesFitArgs) -> None:
        self.args = args
        strategy = args.scoring_strategy
        self.strategy = strategy.type
        self.resources = tuple(ResourceSpec(r.name, r.weight) for r in strategy.resources)
        self.ignored = frozenset(args.ignored_resources)
        self.ignored_groups = frozenset(args.ignored_resource_groups)
        self._cpu_memory = tuple(r.name for r in self.resources) == ("cpu", "memory")
        self.shape: list[tuple[int, int]] = []
        self._columns_by_requests: dict[
            tuple[tuple[str, int], ...], tuple[ResourceIndex, int, _Columns]
        ] = {}
        if strategy.requested_to_capacity_ratio is not None:
            factor = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
            self.shape = [
                (pt.utilization, pt.score * factor)
                for pt in strategy.requested_to_capacity_ratio.shape
            ]

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.POD, ActionType.DELETE | ActionType.UPDATE_POD_SCALE_DOWN
                )
            ),
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                )
            ),
        ]

    # -- filter -------------------------------------------------------------------
    def _checked(self, pod: PodInfo) -> list[str]:
        """Extended resources the pod asks for that are not ignored."""
        out = pod.cache.get(NAME)
        if out is None:
            out = sorted(
                r
                for r, q in pod.requests.items()
                if q and is_scalar_resource(r) and not self._ignored(r)
            )
            pod.cache[NAME] = out
        return out

    def _ignored(self, resource: str) -> bool:
        if "/" not in resource:
            return False  # hugepages-* and other non-extended scalars are always checked
        return resource in self.ignored or resource.split("/", 1)[0] in self.ignored_groups

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[None, Status | None]:
        nodes.snapshot.pod_vector(pod)  # make sure every requested resource has a column
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        alloc = node.allocatable
        used = node.requested
        reasons: list[str] = []
        unresolvable = False
        if used["pods"] + 1 > alloc["pods"]:
            reasons.append(ERR_REASON_TOO_MANY_PODS)
        req = pod.requests
        checks = [r for r in ("cpu", "memory", "ephemeral-storage") if req.get(r, 0) > 0]
        if checks or self._checked(pod):
            for r in [*checks, *self._checked(pod)]:
                q = req[r]
                if q > alloc.get(r, 0) - used.get(r, 0):
                    reasons.append(f"Insufficient {r}")
                    unresolvable |= q > alloc.get(r, 0)
        if not reasons:
            return None
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return Status(code, tuple(reasons))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        snap = nodes.snapshot
        cols, need, _, _ = self._columns(pod, snap)
        alloc = rows_of(snap.allocatable, nodes.idx)[:, cols]
        used = rows_of(snap.requested, nodes.idx)[:, cols]
        used += need
        bad = np.asarray((used > alloc).any(axis=1))
        out: NDArray[np.uint8] = bad.astype(np.uint8)
        if not np.count_nonzero(bad):  # count_nonzero: no reduction machinery, as any() has
            return out
        out *= np.uint8(Code.UNSCHEDULABLE)
        # The pod alone exceeds the node (pods column excluded): preemption cannot help.
        hard = (need[1:] > alloc[:, 1:]).any(axis=1) & bad
        out[hard] = np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        return out

    def filter_reasons_nodes(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> list[tuple[str, NDArray[np.bool_]]]:
        """The reasons ``filter`` gives, each with the nodes it applies to, in one pass.

        For the FailedScheduling message of a cycle that failed on many nodes.
        """
        snap = nodes.snapshot
        cols, need, _, _ = self._columns(pod, snap)
        vec = snap.pod_vector(pod)
        # The order of _columns: pods, the default resources asked for, extended ones.
        names = [f"Insufficient {r}" for r, c in _DEFAULT_COLUMNS if vec[c] > 0]
        names = [
            ERR_REASON_TOO_MANY_PODS,
            *names,
            *(f"Insufficient {r}" for r in self._checked(pod)),
        ]
        short = snap.requested[nodes.idx][:, cols] + need > snap.allocatable[nodes.idx][:, cols]
        return [(name, short[:, k]) for k, name in enumerate(names)]

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``filter_nodes`` on one node (``fitsRequest``, noderesources/fit.go), plain integers."""
        snap = node.snapshot
        columns = self._columns(pod, snap)
        cols, need = columns[2], columns[3]
        alloc = snap.allocatable_row(node.index)
        used = snap.requested_row(node.index)
        for c, q in zip(cols, need, strict=True):
            if used[c] + q > alloc[c]:
                break
        else:
            return 0
        # As filter_nodes: the pod alone exceeds the node, the pods column (first) aside.
        if any(q > alloc[c] for c, q in zip(cols[1:], need[1:], strict=True)):
            return Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        return Code.UNSCHEDULABLE

    def _columns(self, pod: PodInfo, snap: ClusterSnapshot) -> _Columns:
        """Columns Filter checks for this pod (pods first) and the pod's amounts in them.

        As arrays for ``filter_nodes`` and as lists for ``filter_row``.
        """
        # They follow from the requests alone: pods of one template share the answer,
        # and a pod keeps it for its rows of the cycle.
        hit = pod.cache.get(_COLUMNS_KEY)
        if hit is None or hit[0] is not snap.resources or hit[1] != snap.resources.version:
            hit = self._columns_by_requests.get(tuple(pod.requests.items()))
        if hit is not None and hit[0] is snap.resources and hit[1] == snap.resources.version:
            pod.cache[_COLUMNS_KEY] = hit
            return hit[2]
        vec = snap.pod_vector(pod)
        cols = [PODS_COL]
        cols += [c for _, c in _DEFAULT_COLUMNS if vec[c] > 0]
        cols += [snap.resources.column(r) for r in self._checked(pod)]
        arr = np.asarray(cols, dtype=np.intp)
        need = vec[arr]
        out = (arr, need, cols, need.tolist())
        if len(self._columns_by_requests) >= 1024:
            self._columns_by_requests.clear()
        hit = pod.cache[_COLUMNS_KEY] = (snap.resources, snap.resources.version, out)
        self._columns_by_requests[tuple(pod.requests.items())] = hit
        return out

    # -- score --------------------------------------------------------------------
    def _score_cpu_memory(self, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64] | None:
        """The default resources (cpu, memory) on nodes that have both: a few whole-array ops."""
        snap = nodes.snapshot
        alloc = rows_of(snap.allocatable, nodes.idx)[:, :2]
        if np.count_nonzero(alloc) != alloc.size:
            return None
        req = rows_of(snap.non_zero_requested, nodes.idx) + np.array(
            (pod.non_zero_cpu, pod.non_zero_memory), dtype=np.int64
        )
        if self.strategy == ScoringStrategyType.LEAST_ALLOCATED:
            # A node over-requested on a resource scores 0 for it, as the negative floor clamps.
            per = np.maximum((alloc - req) * MAX_NODE_SCORE // alloc, 0)
        else:
            per = np.minimum(req, alloc) * MAX_NODE_SCORE // alloc
        w_cpu, w_mem = self.resources[0].weight, self.resources[1].weight
        return (per[:, 0] * w_cpu + per[:, 1] * w_mem) // (w_cpu + w_mem)  # type: ignore[no-any-return]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Readable reference of ``score_nodes``: one node, plain integers."""
        alloc = node.allocatable
        used = node.requested
        nz_cpu, nz_mem = node.non_zero_requested
        total = weights = 0
        pod_req = pod_request_list(pod, self.resources, use_requested=False)
        for spec, q in zip(self.resources, pod_req, strict=True):
            if q == 0 and is_scalar_resource(spec.name):
                continue
            a = alloc.get(spec.name, 0)
            if a == 0:
                continue
            base = {"cpu": nz_cpu, "memory": nz_mem}.get(spec.name, used.get(spec.name, 0))
            r = base + q
            if self.strategy == ScoringStrategyType.LEAST_ALLOCATED:
                per = 0 if r > a else (a - r) * MAX_NODE_SCORE // a
            elif self.strategy == ScoringStrategyType.MOST_ALLOCATED:
                per = min(r, a) * MAX_NODE_SCORE // a
            else:
                util = MAX_UTILIZATION if r > a else r * MAX_UTILIZATION // a
                per = int(broken_linear(self.shape, np.array([util], dtype=np.int64))[0])
                if per <= 0:
                    continue
            total += per * spec.weight
            weights += spec.weight
        if weights == 0:
            return 0
        if self.strategy == ScoringStrategyType.REQUESTED_TO_CAPACITY_RATIO:
            return int(np.floor(total / weights + 0.5))
        return total // weights

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score_nodes`` on one node: its cpu-memory shortcut in plain integers, else itself."""
        snap, i = node.snapshot, node.index
        if self._cpu_memory and self.strategy != ScoringStrategyType.REQUESTED_TO_CAPACITY_RATIO:
            alloc = snap.allocatable_row(i)
            a_cpu, a_mem = alloc[CPU_COL], alloc[MEMORY_COL]
            if a_cpu and a_mem:
                nz_cpu, nz_mem = snap.non_zero_requested_row(i)
                r_cpu, r_mem = nz_cpu + pod.non_zero_cpu, nz_mem + pod.non_zero_memory
                # leastRequestedScore / mostRequestedScore (least_ and most_allocated.go).
                if self.strategy == ScoringStrategyType.LEAST_ALLOCATED:
                    p_cpu = max((a_cpu - r_cpu) * MAX_NODE_SCORE // a_cpu, 0)
                    p_mem = max((a_mem - r_mem) * MAX_NODE_SCORE // a_mem, 0)
                else:
                    p_cpu = min(r_cpu, a_cpu) * MAX_NODE_SCORE // a_cpu
                    p_mem = min(r_mem, a_mem) * MAX_NODE_SCORE // a_mem
                w_cpu, w_mem = self.resources[0].weight, self.resources[1].weight
                return (p_cpu * w_cpu + p_mem * w_mem) // (w_cpu + w_mem)
        return int(self.score_nodes(state, pod, NodeSet(snap, slice(i, i + 1)))[0])

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        if self._cpu_memory and self.strategy != ScoringStrategyType.REQUESTED_TO_CAPACITY_RATIO:
            fast = self._score_cpu_memory(pod, nodes)
            if fast is not None:
                return fast
        pod_req = pod_request_list(pod, self.resources, use_requested=False)
        req, alloc = allocation_matrix(nodes, self.resources, pod_req, use_requested=False)
        weights = np.array([r.weight for r in self.resources], dtype=np.int64)
        present = alloc != 0
        safe = np.where(present, alloc, 1)
        if self.strategy == ScoringStrategyType.LEAST_ALLOCATED:
            per = np.where(req > alloc, 0, (alloc - req) * MAX_NODE_SCORE // safe)
        elif self.strategy == ScoringStrategyType.MOST_ALLOCATED:
            per = np.minimum(req, alloc) * MAX_NODE_SCORE // safe
        else:
            util = np.where(req > alloc, MAX_UTILIZATION, req * MAX_UTILIZATION // safe)
            per = broken_linear(self.shape, util)
            counted = present & (per > 0)
            wsum = (counted * weights).sum(axis=1)
            total = (np.where(counted, per, 0) * weights).sum(axis=1)
            # math.Round(float64(nodeScore) / float64(weightSum)): halves away from zero.
            ratio = total / np.where(wsum == 0, 1, wsum)
            return np.where(wsum == 0, 0, np.floor(ratio + 0.5)).astype(np.int64)
        per = np.where(present, per, 0)
        wsum = (present * weights).sum(axis=1)
        total = (per * weights).sum(axis=1)
        return np.where(wsum == 0, 0, total // np.where(wsum == 0, 1, wsum)).astype(np.int64)


def new(args: NodeResourcesFitArgs | None, handle: Any) -> NodeResourcesFit:
    return NodeResourcesFit(args or NodeResourcesFitArgs())
