"""TaintToleration: keep pods off nodes whose taints they do not tolerate.

Filter rejects a node with an untolerated NoSchedule/NoExecute taint; Score
counts untolerated PreferNoSchedule taints, reversed by normalisation, so
fewer is better (upstream tainttoleration/taint_toleration.go).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.api import Taint, Toleration
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.normalize import default_normalize_score
from ksched.framework.plugins.helper.taints import find_untolerated_taint, tolerates_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Code, Status

NAME: Final = names.TAINT_TOLERATION
_HARD: Final = frozenset({"NoSchedule", "NoExecute"})
_PRE_SCORE_KEY: Final = "PreScore" + NAME


def untolerated_reason(taint: Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value or ''}}}"


@dataclass(frozen=True, slots=True)
class _TaintTable:
    """Distinct taints of the cluster and which node carries which (nodes x taints)."""

    generation: int
    taints: list[Taint]
    incidence: NDArray[np.bool_]
    hard: NDArray[np.bool_]
    prefer: NDArray[np.bool_]


def _prefer_tolerations(pod: PodInfo) -> list[Toleration]:
    """Tolerations that can tolerate PreferNoSchedule (effect empty or PreferNoSchedule)."""
    return [t for t in pod.pod.spec.tolerations if not t.effect or t.effect == "PreferNoSchedule"]


class TaintToleration:
    node_local = True  # a node's verdict depends only on its own taints

    def __init__(self) -> None:
        self._table: _TaintTable | None = None

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)
            ),
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATIONS)
            ),
        ]

    def _taints(self, snap: ClusterSnapshot) -> _TaintTable:
        table = self._table
        if table is not None and table.generation == snap.node_generation:
            return table
        ids: dict[tuple[str, str, str], int] = {}
        taints: list[Taint] = []
        pairs: list[tuple[int, int]] = []
        for row, info in enumerate(snap.nodes):
            for t in info.taints:
                k = (t.key, t.value or "", t.effect)
                if k not in ids:
                    ids[k] = len(taints)
                    taints.append(t)
                pairs.append((row, ids[k]))
        incidence = np.zeros((snap.n, len(taints)), dtype=bool)
        for row, tid in pairs:
            incidence[row, tid] = True
        table = _TaintTable(
            snap.node_generation,
            taints,
            incidence,
            np.array([t.effect in _HARD for t in taints], dtype=bool),
            np.array([t.effect == "PreferNoSchedule" for t in taints], dtype=bool),
        )
        self._table = table
        return table

    def _tolerated(self, pod: PodInfo, table: _TaintTable, prefer: bool) -> NDArray[np.bool_]:
        slot = f"{NAME}/{'prefer' if prefer else 'hard'}"
        hit = pod.cache.get(slot)
        if hit is not None and hit[0] == table.generation:
            return hit[1]  # type: ignore[no-any-return]
        tolerations = _prefer_tolerations(pod) if prefer else pod.pod.spec.tolerations
        out = np.array([tolerates_taint(tolerations, t) for t in table.taints], dtype=bool)
        pod.cache[slot] = (table.generation, out)
        return out

    # -- filter -----------------------------------------------------------------
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        taint = find_untolerated_taint(node.taints, pod.pod.spec.tolerations, _HARD)
        if taint is None:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (untolerated_reason(taint),))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        table = self._taints(nodes.snapshot)
        if not table.hard.any():
            return np.zeros(len(nodes), dtype=np.uint8)
        bad = table.hard & ~self._tolerated(pod, table, prefer=False)
        hit = np.asarray(table.incidence[nodes.idx][:, bad].any(axis=1))
        out: NDArray[np.uint8] = hit.astype(np.uint8) * np.uint8(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        )
        return out

    # -- score --------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        state.write(_PRE_SCORE_KEY, _prefer_tolerations(pod))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.get(_PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = _prefer_tolerations(pod)
        return sum(
            1
            for t in node.taints
            if t.effect == "PreferNoSchedule" and not tolerates_taint(tolerations, t)
        )

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        table = self._taints(nodes.snapshot)
        if not table.prefer.any():
            return np.zeros(len(nodes), dtype=np.int64)
        counted = table.prefer & ~self._tolerated(pod, table, prefer=True)
        counts: NDArray[np.int64] = table.incidence[nodes.idx][:, counted].sum(axis=1)
        return counts.astype(np.int64)

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        default_normalize_score(scores, reverse=True)
        return None


def new(args: Any, handle: Any) -> TaintToleration:
    return TaintToleration()
