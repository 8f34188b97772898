"""PodTopologySpread: keep matching pods evenly spread over topology domains.

Filter (DoNotSchedule): ``count(node's domain) + selfMatch - globalMin <= maxSkew``,
with ``globalMin`` 0 while fewer than ``minDomains`` domains exist
(upstream podtopologyspread/filtering.go).  Score (ScheduleAnyway): per
constraint ``count * log(domains + 2) + maxSkew - 1``, then inverted so the
emptiest domain scores 100 (scoring.go).  Only nodes carrying every
constraint key, and passing the inclusion policies, count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.podtopologyspread.constraints import (
    HOSTNAME,
    Constraint,
    build_constraints,
    has_all_keys,
    included,
    inclusion_mask,
    matching_counts,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status

NAME: Final = names.POD_TOPOLOGY_SPREAD
ERR_REASON_CONSTRAINTS_NOT_MATCH: Final = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH: Final = (
    ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
)
_PRE_FILTER_KEY: Final = "PreFilter" + NAME
_PRE_SCORE_KEY: Final = "PreScore" + NAME


class PodTopologySpreadArgs(BaseModel):
    """Upstream's args; with no Service/ReplicaSet listers, system defaults select nothing."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )
    default_constraints: list[dict[str, Any]] = Field(default_factory=list)
    defaulting_type: Literal["System", "List"] = "System"


Args = PodTopologySpreadArgs


@dataclass(slots=True)
class _FilterState:
    """Per constraint: domain code of each node, matching count and presence per domain."""

    constraints: list[Constraint]
    codes: list[NDArray[np.int32]]
    domain_counts: list[NDArray[np.int64]]
    domain_present: list[NDArray[np.bool_]]
    self_match: list[bool]

    def clone(self) -> _FilterState:
        return _FilterState(
            self.constraints,
            self.codes,
            [c.copy() for c in self.domain_counts],
            [p.copy() for p in self.domain_present],
            self.self_match,
        )

    def min_match(self, i: int) -> int:
        present = self.domain_present[i]
        if int(present.sum()) < self.constraints[i].min_domains:
            return 0
        return int(self.domain_counts[i][present].min())


@dataclass(slots=True)
class _ScoreState:
    constraints: list[Constraint]
    ignored: NDArray[np.bool_]
    ignored_names: set[str] = field(default_factory=set)
    weights: list[float] = field(default_factory=list)
    pair_counts: list[NDArray[np.int64]] = field(default_factory=list)
    codes: list[NDArray[np.int32]] = field(default_factory=list)
    node_counts: list[NDArray[np.int64]] = field(default_factory=list)


class PodTopologySpread:
    def __init__(self, args: PodTopologySpreadArgs) -> None:
        self.args = args

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.POD,
                    ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE,
                )
            ),
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.NODE,
                    ActionType.ADD
                    | ActionType.DELETE
                    | ActionType.UPDATE_NODE_LABEL
                    | ActionType.UPDATE_NODE_TAINT,
                )
            ),
        ]

    # -- filter ---------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[None, Status | None]:
        constraints = build_constraints(pod, "DoNotSchedule")
        if not constraints:
            return None, SKIP
        snap = nodes.snapshot
        everything = snap.all_nodes()
        has_all = np.ones(snap.n, dtype=bool)
        codes_all = []
        for c in constraints:
            codes, _ = snap.label_codes(c.topology_key)
            codes_all.append(codes)
            has_all &= codes >= 0
        domain_counts, domain_present = [], []
        for c, codes in zip(constraints, codes_all, strict=True):
            valid = has_all & inclusion_mask(c, pod, everything)
            counts = matching_counts(snap, c, pod.namespace)
            size = int(codes.max()) + 1 if len(codes) else 0
            domain_counts.append(
                np.bincount(codes[valid], weights=counts[valid], minlength=size).astype(np.int64)
            )
            domain_present.append(np.bincount(codes[valid], minlength=size) > 0)
        self_match = [c.matches(pod, pod.namespace) for c in constraints]
        state.write(
            _PRE_FILTER_KEY,
            _FilterState(constraints, codes_all, domain_counts, domain_present, self_match),
        )
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(_PRE_FILTER_KEY)
        if not has_all_keys(node.labels, s.constraints):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_NODE_LABEL_NOT_MATCH,))
        for i, c in enumerate(s.constraints):
            code = int(s.codes[i][node.index])
            match = int(s.domain_counts[i][code]) if s.domain_present[i][code] else 0
            if match + int(s.self_match[i]) - s.min_match(i) > c.max_skew:
                return Status(Code.UNSCHEDULABLE, (ERR_REASON_CONSTRAINTS_NOT_MATCH,))
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        s: _FilterState = state.read(_PRE_FILTER_KEY)
        out = np.zeros(len(nodes), dtype=np.uint8)
        missing = np.zeros(len(nodes), dtype=bool)
        for codes in s.codes:
            missing |= codes[nodes.idx] < 0
        for i, c in enumerate(s.constraints):
            codes = np.where(missing, 0, s.codes[i][nodes.idx])
            counts = np.where(s.domain_present[i], s.domain_counts[i], 0)
            match = counts[codes] if len(counts) else np.zeros(len(nodes), dtype=np.int64)
            too_skewed = match + int(s.self_match[i]) - s.min_match(i) > c.max_skew
            out[too_skewed & ~missing] = Code.UNSCHEDULABLE
        out[missing] = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        return out

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int
    ) -> None:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if (
            s is None
            or other.namespace != pod.namespace
            or not has_all_keys(node.labels, s.constraints)
        ):
            return
        for i, c in enumerate(s.constraints):
            if not c.matches(other, pod.namespace) or not included(c, pod, node):
                continue
            code = int(s.codes[i][node.index])
            s.domain_counts[i][code] += delta
            s.domain_present[i][code] = True

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        self._update(state, pod, pod_to_add, node, +1)
        return None

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        self._update(state, pod, pod_to_remove, node, -1)
        return None

    # -- score ----------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        constraints = build_constraints(pod, "ScheduleAnyway")
        if not constraints or not len(nodes):
            return SKIP
        snap = nodes.snapshot
        everything = snap.all_nodes()
        has_all = np.ones(snap.n, dtype=bool)
        codes_all = []
        for c in constraints:
            codes, _ = snap.label_codes(c.topology_key)
            codes_all.append(codes)
            has_all &= codes >= 0
        cand = nodes.indices
        ignored = ~has_all[cand]
        st = _ScoreState(
            constraints, ignored, {nodes.snapshot.nodes[int(r)].name for r in cand[ignored]}
        )
        kept = cand[~ignored]
        for c, codes in zip(constraints, codes_all, strict=True):
            counts = matching_counts(snap, c, pod.namespace)
            if c.topology_key == HOSTNAME:
                size = len(kept)
                pair = np.zeros(0, dtype=np.int64)
            else:
                size = len(np.unique(codes[kept]))
                valid = has_all & inclusion_mask(c, pod, everything)
                width = int(codes.max()) + 1 if len(codes) else 0
                pair = np.bincount(codes[valid], weights=counts[valid], minlength=width).astype(
                    np.int64
                )
                # Only domains of candidate nodes are counted (TopologyPairToPodCounts keys).
                candidate_domain = np.zeros(width, dtype=bool)
                candidate_domain[codes[kept]] = True
                pair = np.where(candidate_domain, pair, 0)
            st.weights.append(math.log(size + 2))
            st.pair_counts.append(pair)
            st.codes.append(codes)
            st.node_counts.append(counts)
        state.write(_PRE_SCORE_KEY, st)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState = state.read(_PRE_SCORE_KEY)
        if node.name in s.ignored_names:
            return 0
        total = 0.0
        for i, c in enumerate(s.constraints):
            if c.topology_key not in node.labels:
                continue
            if c.topology_key == HOSTNAME:
                cnt = int(s.node_counts[i][node.index])
            else:
                cnt = int(s.pair_counts[i][int(s.codes[i][node.index])])
            total += cnt * s.weights[i] + float(c.max_skew - 1)
        return math.floor(total + 0.5)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        s: _ScoreState = state.read(_PRE_SCORE_KEY)
        rows = nodes.indices
        total = np.zeros(len(rows))
        for i, c in enumerate(s.constraints):
            codes = s.codes[i][rows]
            has = codes >= 0
            if c.topology_key == HOSTNAME:
                cnt = s.node_counts[i][rows]
            else:
                cnt = (
                    s.pair_counts[i][np.where(has, codes, 0)]
                    if len(s.pair_counts[i])
                    else np.zeros(len(rows), dtype=np.int64)
                )
            total = np.where(has, total + (cnt * s.weights[i] + float(c.max_skew - 1)), total)
        ignored = np.array(
            [nodes.snapshot.nodes[int(r)].name in s.ignored_names for r in rows], dtype=bool
        )
        out = np.floor(total + 0.5).astype(np.int64)
        out[ignored] = 0
        return out

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        s: _ScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return None
        ignored = s.ignored if len(s.ignored) == len(scores) else np.zeros(len(scores), dtype=bool)
        kept = scores[~ignored]
        if not len(kept):
            scores[:] = 0
            return None
        lo, hi = int(kept.min()), int(kept.max())
        if hi == 0:
            scores[:] = MAX_NODE_SCORE
        else:
            scores[:] = MAX_NODE_SCORE * (hi + lo - scores) // hi
        scores[ignored] = 0
        return None


def new(args: PodTopologySpreadArgs | None, handle: Any) -> PodTopologySpread:
    return PodTopologySpread(args or PodTopologySpreadArgs())
