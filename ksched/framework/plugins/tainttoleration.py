"""TaintToleration: keep pods off nodes whose taints they do not tolerate.

Filter rejects a node with an untolerated NoSchedule/NoExecute taint; Score
counts the untolerated PreferNoSchedule taints and NormalizeScore reverses
the count, so fewer is better (upstream tainttoleration/taint_toleration.go).

The vectorised form numbers the distinct taints of the cluster once per node
generation and keeps (node, taint) pairs; a pod's verdict on every node is
then a gather over the pairs of the taints it does not tolerate.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.api import Node, Taint, Toleration
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.normalize import default_normalize_score
from ksched.framework.plugins.helper.taints import find_untolerated_taint, tolerates_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Code, Status

NAME: Final = names.TAINT_TOLERATION
NO_SCHEDULE: Final = "NoSchedule"
NO_EXECUTE: Final = "NoExecute"
PREFER_NO_SCHEDULE: Final = "PreferNoSchedule"
# helper.DoNotScheduleTaintsFilterFunc: the effects Filter enforces.
DO_NOT_SCHEDULE_EFFECTS: Final = frozenset({NO_SCHEDULE, NO_EXECUTE})
_PRE_SCORE_KEY: Final = "PreScore" + NAME
_UNRESOLVABLE: Final = np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def untolerated_reason(taint: Taint) -> str:
    """Upstream's Filter message, e.g. ``node(s) had untolerated taint {dedicated: gpu}``."""
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value or ''}}}"


def prefer_no_schedule_tolerations(tolerations: list[Toleration]) -> list[Toleration]:
    """Tolerations that can tolerate PreferNoSchedule: that effect, or none (every effect)."""
    return [t for t in tolerations if not t.effect or t.effect == PREFER_NO_SCHEDULE]


def _untolerated(node: Node | None, tolerations: list[Toleration]) -> bool:
    return (
        node is not None
        and find_untolerated_taint(node.spec.taints, tolerations, DO_NOT_SCHEDULE_EFFECTS)
        is not None
    )


@dataclass(frozen=True, slots=True, eq=False)
class _TaintTable:
    """The cluster's distinct taints and which node carries which, as (row, taint id) pairs."""

    snapshot: weakref.ref[ClusterSnapshot]
    node_generation: int
    n: int
    taints: list[Taint]
    pair_rows: NDArray[np.intp]
    pair_taints: NDArray[np.intp]
    hard: NDArray[np.bool_]  # per taint: NoSchedule or NoExecute
    prefer: NDArray[np.bool_]  # per taint: PreferNoSchedule
    hard_nodes: NDArray[np.bool_]  # per node: carries any hard taint

    @classmethod
    def build(cls, snap: ClusterSnapshot) -> _TaintTable:
        ids: dict[tuple[str, str, str], int] = {}
        taints: list[Taint] = []
        rows: list[int] = []
        tids: list[int] = []
        for row, info in enumerate(snap.nodes):
            for t in info.taints:
                key = (t.key, t.value or "", t.effect)
                tid = ids.get(key)
                if tid is None:
                    tid = ids[key] = len(taints)
                    taints.append(t)
                rows.append(row)
                tids.append(tid)
        pair_rows = np.array(rows, dtype=np.intp)
        pair_taints = np.array(tids, dtype=np.intp)
        hard = np.array([t.effect in DO_NOT_SCHEDULE_EFFECTS for t in taints], dtype=bool)
        prefer = np.array([t.effect == PREFER_NO_SCHEDULE for t in taints], dtype=bool)
        return cls(
            weakref.ref(snap),
            snap.node_generation,
            snap.n,
            taints,
            pair_rows,
            pair_taints,
            hard,
            prefer,
            _nodes_with(pair_rows, pair_taints, hard, snap.n),
        )

    def current_for(self, snap: ClusterSnapshot) -> bool:
        return self.snapshot() is snap and self.node_generation == snap.node_generation

    def tolerated(self, tolerations: list[Toleration]) -> NDArray[np.bool_]:
        """Per distinct taint: does any of ``tolerations`` tolerate it?"""
        return np.array([tolerates_taint(tolerations, t) for t in self.taints], dtype=bool)


def _nodes_with(
    pair_rows: NDArray[np.intp], pair_taints: NDArray[np.intp], taints: NDArray[np.bool_], n: int
) -> NDArray[np.bool_]:
    """Per node: does it carry any taint selected by ``taints``?"""
    out = np.zeros(n, dtype=bool)
    out[pair_rows[taints[pair_taints]]] = True
    return out


class TaintToleration:
    """Filter on NoSchedule/NoExecute taints; score by untolerated PreferNoSchedule taints."""

    node_local = True  # a node's verdict depends only on the pod and that node's taints
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation
    node_object_only = True

    def __init__(self) -> None:
        self._table: _TaintTable | None = None

    @property
    def name(self) -> str:
        return NAME

    # -- queueing -----------------------------------------------------------------------
    def events_to_register(self) -> list[ClusterEventWithHint]:
        # Upstream's list with queueing hints enabled (no preCheck, so no UpdateNodeLabel).
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
                self.is_schedulable_after_node_change,
            ),
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATIONS),
                self.is_schedulable_after_pod_toleration_change,
            ),
        ]

    def is_schedulable_after_node_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Queue only when the node went from untolerated (or absent) to tolerated."""
        if not isinstance(new, Node):
            return QueueingHint.QUEUE  # no object to judge (a batch of nodes)
        tolerations = pod.pod.spec.tolerations
        was = _untolerated(old, tolerations) if isinstance(old, Node) else True
        if was and not _untolerated(new, tolerations):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP

    def is_schedulable_after_pod_toleration_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Only the rejected pod's own toleration update can help it."""
        if isinstance(new, PodInfo) and new.uid != pod.uid:
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE

    # -- cluster tables -------------------------------------------------------------------
    def _taints(self, snap: ClusterSnapshot) -> _TaintTable:
        table = self._table
        if table is None or not table.current_for(snap):
            table = self._table = _TaintTable.build(snap)
        return table

    def _pod_tolerates(self, pod: PodInfo, table: _TaintTable, key: str) -> NDArray[np.bool_]:
        """Per distinct taint, tolerated by the pod (``key`` picks all or PreferNoSchedule ones)."""
        slot = f"{NAME}/{key}"
        hit = pod.cache.get(slot)
        if hit is not None and hit[0] is table:
            return hit[1]  # type: ignore[no-any-return]
        tolerations = pod.pod.spec.tolerations
        if key == PREFER_NO_SCHEDULE:
            tolerations = prefer_no_schedule_tolerations(tolerations)
        out = (
            table.tolerated(tolerations) if tolerations else np.zeros(len(table.taints), dtype=bool)
        )
        pod.cache[slot] = (table, out)
        return out

    # -- filter -------------------------------------------------------------------------
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taint = find_untolerated_taint(
            node.taints, pod.pod.spec.tolerations, DO_NOT_SCHEDULE_EFFECTS
        )
        if taint is None:
            return None
        return Status.unresolvable(untolerated_reason(taint))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        table = self._taints(nodes.snapshot)
        if not pod.pod.spec.tolerations:
            bad = table.hard_nodes
        else:
            untolerated = table.hard & ~self._pod_tolerates(pod, table, "all")
            bad = _nodes_with(table.pair_rows, table.pair_taints, untolerated, table.n)
        out: NDArray[np.uint8] = bad[nodes.idx].astype(np.uint8) * _UNRESOLVABLE
        return out

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        taints = node.taints
        if not taints:
            return 0
        taint = find_untolerated_taint(taints, pod.pod.spec.tolerations, DO_NOT_SCHEDULE_EFFECTS)
        return 0 if taint is None else Code.UNSCHEDULABLE_AND_UNRESOLVABLE

    # -- score --------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        state.write(_PRE_SCORE_KEY, prefer_no_schedule_tolerations(pod.pod.spec.tolerations))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """countIntolerableTaintsPreferNoSchedule."""
        tolerations: list[Toleration] = state.read(_PRE_SCORE_KEY)
        return sum(
            1
            for t in node.taints
            if t.effect == PREFER_NO_SCHEDULE and not tolerates_taint(tolerations, t)
        )

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        table = self._taints(nodes.snapshot)
        counted = table.prefer & ~self._pod_tolerates(pod, table, PREFER_NO_SCHEDULE)
        rows = table.pair_rows[counted[table.pair_taints]]
        counts = np.bincount(rows, minlength=table.n).astype(np.int64)
        return counts[nodes.idx]

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score`` without the PreScore state: countIntolerableTaintsPreferNoSchedule."""
        taints = node.taints
        if not taints:
            return 0
        tolerations = prefer_no_schedule_tolerations(pod.pod.spec.tolerations)
        return sum(
            1
            for t in taints
            if t.effect == PREFER_NO_SCHEDULE and not tolerates_taint(tolerations, t)
        )

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        return default_normalize_score(MAX_NODE_SCORE, True, scores)


def new(args: None, handle: Any) -> TaintToleration:
    return TaintToleration()
