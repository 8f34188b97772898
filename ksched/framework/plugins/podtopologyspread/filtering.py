"""PreFilter and Filter: DoNotSchedule constraints (upstream podtopologyspread/filtering.go).

A node passes when, for every constraint,
``matching pods in its domain + selfMatch - global minimum <= maxSkew``; the
global minimum is 0 while fewer than ``minDomains`` domains are eligible.
Domains are ``ClusterSnapshot.label_codes`` codes, so PreFilter counts with
``np.bincount`` and Filter gathers by code for any set of nodes at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins import names
from ksched.framework.plugins.podtopologyspread.common import (
    Constraint,
    MatchCounter,
    includes,
    inclusion_mask,
    node_has_all_keys,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Code, Status

PRE_FILTER_STATE_KEY: Final = "PreFilter" + names.POD_TOPOLOGY_SPREAD
ERR_REASON_CONSTRAINTS_NOT_MATCH: Final = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH: Final = (
    ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
)
_UNSCHEDULABLE: Final = np.uint8(Code.UNSCHEDULABLE)
_UNRESOLVABLE: Final = np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


@dataclass(slots=True)
class PreFilterState:
    """Upstream ``preFilterState``: per constraint, the matching pods of each domain.

    ``codes[i]`` is every snapshot row's domain code (-1: no label),
    ``domains[i]`` the label value of each code.  ``present[i]`` marks the
    domains that hold an eligible node (upstream's map keys), which count
    towards ``minDomains`` and the global minimum even with no matching pod.
    """

    constraints: list[Constraint]
    codes: list[NDArray[np.int32]]
    domains: list[list[str]]
    domain_counts: list[NDArray[np.int64]]
    present: list[NDArray[np.bool_]]
    self_match: list[int]
    # Per constraint, label value -> code, built when a per-node method first asks.
    _value_codes: dict[int, dict[str, int]] = field(default_factory=dict)
    # Per constraint, the global minimum once computed (Filter asks for it on every node).
    _min_match: dict[int, int] = field(default_factory=dict)

    def clone(self) -> PreFilterState:
        """Counts are copied (the PreFilter extensions edit them); the rest is shared."""
        return PreFilterState(
            self.constraints,
            self.codes,
            self.domains,
            [c.copy() for c in self.domain_counts],
            [p.copy() for p in self.present],
            self.self_match,
            self._value_codes,
            dict(self._min_match),
        )

    def code_of(self, i: int, value: str) -> int | None:
        """Domain code of label ``value`` for constraint ``i`` (None: no node has it)."""
        index = self._value_codes.get(i)
        if index is None:
            index = self._value_codes[i] = {v: k for k, v in enumerate(self.domains[i])}
        return index.get(value)

    def match_num(self, i: int, value: str) -> int:
        """``TpValueToMatchNum[i][value]``, 0 for a domain with no eligible node."""
        code = self.code_of(i, value)
        return 0 if code is None else int(self.domain_counts[i][code])

    def min_match_num(self, i: int) -> int:
        """``minMatchNum``: the least matching domain, or 0 below ``minDomains`` domains."""
        hit = self._min_match.get(i)
        if hit is None:
            present = self.present[i]
            domains = int(np.count_nonzero(present))
            if domains == 0 or domains < self.constraints[i].min_domains:
                hit = 0
            else:
                hit = int(self.domain_counts[i][present].min())
            self._min_match[i] = hit
        return hit

    def add(self, i: int, code: int, delta: int) -> None:
        """``TpValueToMatchNum[i][value] += delta`` (the domain becomes present, as a map key)."""
        self.domain_counts[i][code] += delta
        self.present[i][code] = True
        self._min_match.pop(i, None)


def compute_pre_filter_state(
    pod: PodInfo, constraints: list[Constraint], nodes: NodeSet, counter: MatchCounter
) -> PreFilterState:
    """``calPreFilterState`` over ``nodes``: eligible nodes carry every key and pass inclusion."""
    snap = nodes.snapshot
    has_all = np.zeros(snap.n, dtype=bool)
    has_all[nodes.idx] = True
    labels = [snap.label_codes(c.topology_key) for c in constraints]
    for codes, _ in labels:
        has_all &= codes >= 0
    domain_counts: list[NDArray[np.int64]] = []
    present: list[NDArray[np.bool_]] = []
    for c, (codes, table) in zip(constraints, labels, strict=True):
        eligible = has_all & inclusion_mask(c, pod, snap)
        per_node = counter.per_node(snap, pod.namespace, c.selector)
        domain = codes[eligible]
        width = len(table)
        summed = np.bincount(domain, weights=per_node[eligible], minlength=width)
        domain_counts.append(summed.astype(np.int64))
        present.append(np.bincount(domain, minlength=width) > 0)
    return PreFilterState(
        constraints=constraints,
        codes=[codes for codes, _ in labels],
        domains=[table for _, table in labels],
        domain_counts=domain_counts,
        present=present,
        self_match=[int(c.selector.matches(pod.labels)) for c in constraints],
    )


def filter_node(s: PreFilterState, node: NodeInfo) -> Status | None:
    """Upstream ``Filter`` on one node: the first constraint that fails decides."""
    for i, c in enumerate(s.constraints):
        value = node.labels.get(c.topology_key)
        if value is None:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_NODE_LABEL_NOT_MATCH,))
        skew = s.match_num(i, value) + s.self_match[i] - s.min_match_num(i)
        if skew > c.max_skew:
            return Status(Code.UNSCHEDULABLE, (ERR_REASON_CONSTRAINTS_NOT_MATCH,))
    return None


def filter_nodes(s: PreFilterState, nodes: NodeSet) -> NDArray[np.uint8]:
    """``filter_node`` for every node of ``nodes``, one gather per constraint."""
    out = np.zeros(len(nodes), dtype=np.uint8)
    undecided = np.ones(len(nodes), dtype=bool)
    for i, c in enumerate(s.constraints):
        codes = s.codes[i][nodes.idx]
        missing = undecided & (codes < 0)
        out[missing] = _UNRESOLVABLE
        undecided &= ~missing
        # A trailing 0 is what code -1 (no label, already decided above) reads.
        match = np.append(s.domain_counts[i], 0)[codes]
        skewed = undecided & (match + (s.self_match[i] - s.min_match_num(i)) > c.max_skew)
        out[skewed] = _UNSCHEDULABLE
        undecided &= ~skewed
    return out


def update_with_pod(
    s: PreFilterState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int
) -> None:
    """``updateWithPod``: count ``other`` in (+1) or out (-1) of ``node``'s domains."""
    if other.namespace != pod.namespace or not node_has_all_keys(node.labels, s.constraints):
        return
    for i, c in enumerate(s.constraints):
        if not c.selector.matches(other.labels) or not includes(c, pod, node):
            continue
        # Nodes do not change within a cycle, so PreFilter saw this node's value.
        code = s.code_of(i, node.labels[c.topology_key])
        if code is None:
            continue
        s.add(i, code, delta)
