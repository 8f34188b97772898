"""NodeResourcesBalancedAllocation: prefer nodes whose resources fill up evenly.

Balance = (1 - std of the requested/allocatable fractions) x 100, with the
fractions capped at 1; requests are the real ones, not the defaults.  Since
Kubernetes v1.37 the score rewards the pod's effect on the balance:
50 + (50 + balance with the pod - balance without it) / 2 (upstream
``balanced_allocation.go``, ``balancedResourceScorer``).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.noderesources.allocation import (
    ResourceSpec,
    allocation_matrix,
    pod_request_list,
)
from ksched.framework.plugins.noderesources.fit import ResourceSpecArgs
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL, MEMORY_COL
from ksched.framework.snapshot import NodeInfo, NodeSet, rows_of

NAME: Final = names.NODE_RESOURCES_BALANCED_ALLOCATION


def _default_resources() -> list[ResourceSpecArgs]:
    return [ResourceSpecArgs(name="cpu", weight=1), ResourceSpecArgs(name="memory", weight=1)]


class NodeResourcesBalancedAllocationArgs(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )
    resources: list[ResourceSpecArgs] = Field(default_factory=_default_resources)


Args = NodeResourcesBalancedAllocationArgs


class BalancedAllocation:
    # Verdicts on a node depend only on the pod and that node (see ksched.framework.equivalence).
    node_local = True
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation

    def __init__(self, args: NodeResourcesBalancedAllocationArgs) -> None:
        self.resources = tuple(ResourceSpec(r.name, r.weight) for r in args.resources)
        self._cpu_memory = tuple(r.name for r in self.resources) == ("cpu", "memory")

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.DELETE)),
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE
                )
            ),
        ]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Readable reference: the same formula, one node, plain floats."""
        alloc = node.allocatable
        used = node.requested
        with_pod: list[float] = []
        without_pod: list[float] = []
        for spec, pod_req in zip(
            self.resources, pod_request_list(pod, self.resources, True), strict=True
        ):
            a = alloc.get(spec.name, 0)
            if a == 0 or (pod_req == 0 and spec.name not in ("cpu", "memory", "ephemeral-storage")):
                continue
            with_pod.append(min((used.get(spec.name, 0) + pod_req) / a, 1.0))
            without_pod.append(min(used.get(spec.name, 0) / a, 1.0))
        half = MAX_NODE_SCORE // 2
        return half + (half + _balance(with_pod) - _balance(without_pod)) // 2

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        half = MAX_NODE_SCORE // 2
        if self._cpu_memory:
            snap = nodes.snapshot
            alloc = rows_of(snap.allocatable, nodes.idx)[:, :2]
            if np.count_nonzero(alloc) == alloc.size:  # every node has both (cheaper than all())
                used = rows_of(snap.requested, nodes.idx)[:, :2]
                cpu_memory = np.array(
                    (pod.requests.get("cpu", 0), pod.requests.get("memory", 0)), dtype=np.int64
                )
                with_pod = self._two_balance(used + cpu_memory, alloc)
                without_pod = self._two_balance(used, alloc)
                return half + (half + with_pod - without_pod) // 2
        pod_req = pod_request_list(pod, self.resources, use_requested=True)
        req, alloc = allocation_matrix(nodes, self.resources, pod_req, use_requested=True)
        present = alloc != 0
        without = np.where(present, req - np.array(pod_req, dtype=np.int64), 0)
        with_pod = self._balance_nodes(req, alloc, present)
        without_pod = self._balance_nodes(without, alloc, present)
        return half + (half + with_pod - without_pod) // 2

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score_nodes`` on one node: its cpu-memory shortcut in plain floats, else itself."""
        snap, i = node.snapshot, node.index
        if self._cpu_memory:
            alloc = snap.allocatable_row(i)
            a_cpu, a_mem = alloc[CPU_COL], alloc[MEMORY_COL]
            if a_cpu and a_mem:
                used = snap.requested_row(i)
                u_cpu, u_mem = used[CPU_COL], used[MEMORY_COL]
                p_cpu, p_mem = pod.requests.get("cpu", 0), pod.requests.get("memory", 0)
                with_pod = _two_balance_row(u_cpu + p_cpu, u_mem + p_mem, a_cpu, a_mem)
                without_pod = _two_balance_row(u_cpu, u_mem, a_cpu, a_mem)
                half = MAX_NODE_SCORE // 2
                return half + (half + with_pod - without_pod) // 2
        return int(self.score_nodes(state, pod, NodeSet(snap, slice(i, i + 1)))[0])

    @staticmethod
    def _two_balance(req: NDArray[np.int64], alloc: NDArray[np.int64]) -> NDArray[np.int64]:
        frac = np.minimum(req / alloc, 1.0)
        std = np.abs((frac[:, 0] - frac[:, 1]) / 2)
        return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)

    def _balance_nodes(
        self, req: NDArray[np.int64], alloc: NDArray[np.int64], present: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """``_balance`` of every node at once."""
        frac = np.minimum(req / np.where(present, alloc, 1), 1.0)
        frac[~present] = 0.0
        count = present.sum(axis=1)
        std = np.zeros(len(req))
        if self.resources:
            # Sum column by column, in order, so rounding matches the per-node loop.
            total = np.zeros(len(req))
            for j in range(frac.shape[1]):
                total += frac[:, j]
            mean = total / np.maximum(count, 1)
            sq = np.zeros(len(req))
            for j in range(frac.shape[1]):
                d = np.where(present[:, j], frac[:, j] - mean, 0.0)
                sq += d * d
            many = np.sqrt(sq / np.maximum(count, 1))
            two = self._two_std(frac, present)
            std = np.where(count == 2, two, np.where(count > 2, many, 0.0))
        return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)

    @staticmethod
    def _two_std(frac: NDArray[np.float64], present: NDArray[np.bool_]) -> NDArray[np.float64]:
        """|f1 - f2| / 2 over the two present fractions of each node, in column order."""
        k = frac.shape[0]
        first = np.zeros(k)
        second = np.zeros(k)
        seen = np.zeros(k, dtype=np.int64)
        for j in range(frac.shape[1]):
            p = present[:, j]
            first = np.where(p & (seen == 0), frac[:, j], first)
            second = np.where(p & (seen == 1), frac[:, j], second)
            seen += p
        return np.abs((first - second) / 2)


def _two_balance_row(req_cpu: int, req_mem: int, alloc_cpu: int, alloc_mem: int) -> int:
    """``_two_balance`` of one node (balancedResourceScorer's two-resource std).

    numpy divides int64 arrays as float64, so the amounts are converted first:
    Python's int / int rounds the exact quotient and could differ beyond 2**53.
    """
    f_cpu = min(float(req_cpu) / float(alloc_cpu), 1.0)
    f_mem = min(float(req_mem) / float(alloc_mem), 1.0)
    return int((1 - abs((f_cpu - f_mem) / 2)) * MAX_NODE_SCORE)


def _balance(fractions: list[float]) -> int:
    """(1 - std of ``fractions``) x 100; the two-resource case as upstream's shortcut."""
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        total = 0.0
        for f in fractions:
            total += (f - mean) * (f - mean)
        std = float(np.sqrt(total / len(fractions)))
    return int((1 - std) * MAX_NODE_SCORE)


def new(args: NodeResourcesBalancedAllocationArgs | None, handle: Any) -> BalancedAllocation:
    return BalancedAllocation(args or NodeResourcesBalancedAllocationArgs())
