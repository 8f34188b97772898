"""PreScore, Score and NormalizeScore: ScheduleAnyway constraints (upstream scoring.go).

A node's raw score sums, over the constraints whose key it carries,
``matching pods in its domain * log(domains + 2) + maxSkew - 1`` (per node
for ``kubernetes.io/hostname``), rounded half away from zero.  Domains and
their weights come from the candidate nodes; pods are counted on every
eligible node of those domains.  NormalizeScore inverts, so the emptiest
domain scores 100, and nodes missing a topology key score 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.podtopologyspread.common import (
    HOSTNAME,
    Constraint,
    MatchCounter,
    count_matching,
    inclusion_mask,
    round_half_away,
    round_half_away_array,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Status

PRE_SCORE_STATE_KEY: Final = "PreScore" + names.POD_TOPOLOGY_SPREAD


@dataclass(slots=True)
class PreScoreState:
    """Upstream ``preScoreState``, laid out by snapshot row and domain code.

    ``ignored`` is per snapshot row (upstream's ``IgnoredNodes``) and
    ``ignored_scored`` the same aligned with the nodes PreScore was given,
    which NormalizeScore's array follows.  For a non-hostname constraint
    ``codes[i]`` maps rows to domains and ``domain_counts[i]`` counts each;
    for a hostname constraint ``node_counts[i]`` counts each row.
    """

    constraints: list[Constraint]
    ignored: NDArray[np.bool_]
    ignored_scored: NDArray[np.bool_]
    weights: list[float] = field(default_factory=list)
    has_key: list[NDArray[np.bool_]] = field(default_factory=list)
    codes: list[NDArray[np.int32]] = field(default_factory=list)
    domains: list[list[str]] = field(default_factory=list)
    domain_counts: list[NDArray[np.int64]] = field(default_factory=list)
    node_counts: list[NDArray[np.int64]] = field(default_factory=list)
    _value_codes: dict[int, dict[str, int]] = field(default_factory=dict)

    def pod_count(self, i: int, value: str) -> int:
        """``*TopologyValueToPodCounts[i][value]``."""
        index = self._value_codes.get(i)
        if index is None:
            index = self._value_codes[i] = {v: k for k, v in enumerate(self.domains[i])}
        code = index.get(value)
        return 0 if code is None else int(self.domain_counts[i][code])


def _scoring_domains(
    codes: NDArray[np.int32], table: list[str], missing_as_empty: bool
) -> tuple[NDArray[np.int32], list[str]]:
    """Domain codes; without requireAllTopologies a node missing the key is in domain ``""``.

    Upstream reads ``node.Labels[key]`` there, which is ``""`` for a missing
    key, so such nodes share a domain with nodes labelled ``""``.
    """
    if not missing_as_empty or not (codes < 0).any():
        return codes, table
    try:
        empty = table.index("")
        values = table
    except ValueError:
        empty = len(table)
        values = [*table, ""]
    return np.where(codes < 0, np.int32(empty), codes), values


def compute_pre_score_state(
    pod: PodInfo,
    constraints: list[Constraint],
    nodes: NodeSet,
    counter: MatchCounter,
    require_all_topologies: bool,
) -> PreScoreState:
    """``initPreScoreState`` over the candidates ``nodes``, then the counts over all nodes."""
    snap = nodes.snapshot
    rows = nodes.indices
    labels = [snap.label_codes(c.topology_key) for c in constraints]
    has_key = [codes >= 0 for codes, _ in labels]
    has_all = np.logical_and.reduce(has_key)
    ignored = np.zeros(snap.n, dtype=bool)
    if require_all_topologies:
        ignored[rows] = ~has_all[rows]
    kept = rows[~ignored[rows]]
    countable = has_all if require_all_topologies else np.ones(snap.n, dtype=bool)
    state = PreScoreState(constraints, ignored, ignored[rows].copy(), has_key=has_key)
    for c, (codes, table) in zip(constraints, labels, strict=True):
        if c.topology_key == HOSTNAME:
            # Per-node counts; every scored node is its own domain.
            state.weights.append(math.log(len(kept) + 2))
            state.node_counts.append(counter.per_node(snap, pod.namespace, c.selector).copy())
            state.codes.append(codes)
            state.domains.append(table)
            state.domain_counts.append(np.zeros(0, dtype=np.int64))
            continue
        domain, values = _scoring_domains(codes, table, not require_all_topologies)
        width = len(values)
        # Domains of candidate nodes only; the trailing slot is what code -1 reads.
        candidate = np.zeros(width + 1, dtype=bool)
        candidate[domain[kept]] = True
        state.weights.append(math.log(int(np.count_nonzero(candidate[:width])) + 2))
        counted = countable & inclusion_mask(c, pod, snap) & candidate[domain]
        per_node = counter.per_node(snap, pod.namespace, c.selector)
        summed = np.bincount(domain[counted], weights=per_node[counted], minlength=width)
        state.codes.append(domain)
        state.domains.append(values)
        state.domain_counts.append(summed.astype(np.int64))
        state.node_counts.append(np.zeros(0, dtype=np.int64))
    return state


def score_for_count(count: int, max_skew: int, weight: float) -> float:
    """``scoreForCount``: ``maxSkew - 1`` waters down small differences between domains."""
    return float(count) * weight + float(max_skew - 1)


def score_node(s: PreScoreState, pod: PodInfo, node: NodeInfo) -> int:
    """Upstream ``Score`` on one node (hostname counts read straight from the node's pods)."""
    if s.ignored[node.index]:
        return 0
    total = 0.0
    for i, c in enumerate(s.constraints):
        value = node.labels.get(c.topology_key)
        if value is None:
            continue
        if c.topology_key == HOSTNAME:
            count = count_matching(node.pods.values(), c.selector, pod.namespace)
        else:
            count = s.pod_count(i, value)
        total += score_for_count(count, c.max_skew, s.weights[i])
    return round_half_away(total)


def score_nodes(s: PreScoreState, nodes: NodeSet) -> NDArray[np.int64]:
    """``score_node`` for every node of ``nodes``, summed in the same order."""
    rows = nodes.idx
    total = np.zeros(len(nodes), dtype=np.float64)
    for i, c in enumerate(s.constraints):
        if c.topology_key == HOSTNAME:
            count = s.node_counts[i][rows]
        else:
            count = np.append(s.domain_counts[i], 0)[s.codes[i][rows]]
        part = count * s.weights[i] + float(c.max_skew - 1)
        total = np.where(s.has_key[i][rows], total + part, total)
    out = round_half_away_array(total)
    out[s.ignored[rows]] = 0
    return out


def normalize(s: PreScoreState, scores: NDArray[np.int64]) -> Status | None:
    """Upstream ``NormalizeScore``: ``100 * (max + min - score) / max``; ignored nodes get 0."""
    ignored = s.ignored_scored
    if len(ignored) != len(scores):
        return Status.from_error(
            f"NormalizeScore got {len(scores)} scores for the {len(ignored)} nodes PreScore saw"
        )
    valid = scores[~ignored]
    if not len(valid):
        scores[:] = 0
        return None
    low, high = int(valid.min()), max(int(valid.max()), 0)
    if high == 0:
        scores[:] = MAX_NODE_SCORE
    else:
        # Scores are non-negative, so floor division is Go's truncation.
        scores[:] = MAX_NODE_SCORE * (high + low - scores) // high
    scores[ignored] = 0
    return None
