"""InterPodAffinity PreFilter/Filter (upstream interpodaffinity/filtering.go).

PreFilter counts, per topology pair, the existing pods whose required
anti-affinity matches the incoming pod and the existing pods matching the
incoming pod's required affinity (all terms) and anti-affinity (each term).
Filter then only reads those counts for a node's label values.
"""

from __future__ import annotations

from functools import partial
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins import names
from ksched.framework.plugins.interpodaffinity.terms import (
    NamespaceLabels,
    PodTerms,
    matches_all,
    pod_terms,
)
from ksched.framework.plugins.interpodaffinity.topology import ClusterPods, TopologyCounts
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Code, Status

PRE_FILTER_STATE_KEY: Final = "PreFilter" + names.INTER_POD_AFFINITY
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: Final = (
    "node(s) didn't satisfy existing pods anti-affinity rules"
)
ERR_REASON_AFFINITY_RULES_NOT_MATCH: Final = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: Final = "node(s) didn't match pod anti-affinity rules"

_AFFINITY_FAILED = Status.unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH)
_ANTI_AFFINITY_FAILED = Status.unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
_EXISTING_ANTI_AFFINITY_FAILED = Status.unschedulable(
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH
)


class PreFilterState:
    """Upstream ``preFilterState``: the three count maps plus the incoming pod's terms."""

    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity", "ns_labels", "pod", "terms")

    def __init__(
        self, pod: PodInfo, terms: PodTerms, ns_labels: NamespaceLabels, snapshot: ClusterSnapshot
    ) -> None:
        self.pod = pod
        self.terms = terms
        self.ns_labels = ns_labels
        self.existing_anti_affinity = TopologyCounts(snapshot)
        self.affinity = TopologyCounts(snapshot)
        self.anti_affinity = TopologyCounts(snapshot)

    def clone(self) -> PreFilterState:
        copy = PreFilterState.__new__(PreFilterState)
        copy.pod, copy.terms, copy.ns_labels = self.pod, self.terms, self.ns_labels
        copy.existing_anti_affinity = self.existing_anti_affinity.clone()
        copy.affinity = self.affinity.clone()
        copy.anti_affinity = self.anti_affinity.clone()
        return copy

    def update_with_pod(self, other: PodInfo, node: NodeInfo, multiplier: int) -> None:
        """``updateWithPod``: count ``other`` on ``node`` in (+1) or out (-1) of every map."""
        row = node.index
        for t in pod_terms(other).required_anti_affinity:
            if t.matches(self.pod, self.ns_labels):
                self.existing_anti_affinity.add(t.topology_key, row, multiplier)
        if matches_all(self.terms.required_affinity, other, self.ns_labels):
            for t in self.terms.required_affinity:
                self.affinity.add(t.topology_key, row, multiplier)
        for t in self.terms.required_anti_affinity:
            if t.matches(other, self.ns_labels):
                self.anti_affinity.add(t.topology_key, row, multiplier)


def build_pre_filter_state(
    pod: PodInfo,
    terms: PodTerms,
    snapshot: ClusterSnapshot,
    ns_labels: NamespaceLabels,
    all_pods: ClusterPods | None,
) -> PreFilterState:
    """Upstream PreFilter's three maps; ``all_pods`` is needed when the pod has required terms."""
    state = PreFilterState(pod, terms, ns_labels, snapshot)
    # getExistingAntiAffinityCounts: only nodes hosting pods with required anti-affinity.
    if snapshot.pods_with_required_anti_affinity:
        for info in snapshot.nodes:
            if not info.pods_with_required_anti_affinity:
                continue
            for existing in info.pods.values():
                for t in pod_terms(existing).required_anti_affinity:
                    if t.matches(pod, ns_labels):
                        state.existing_anti_affinity.add(t.topology_key, info.index, 1)
    # getIncomingAffinityAntiAffinityCounts: every existing pod against the pod's own terms.
    # Keys are set up here so that Filter only reads the state.
    for t in terms.required_affinity:
        state.affinity.ensure(t.topology_key)
    for t in terms.required_anti_affinity:
        state.anti_affinity.ensure(t.topology_key)
    if all_pods is not None and len(all_pods):
        if terms.required_affinity:
            every = np.ones(len(all_pods), dtype=bool)
            for t in terms.required_affinity:
                every &= all_pods.mask(partial(t.matches, ns_labels=ns_labels))
            rows = all_pods.rows[every]
            for t in terms.required_affinity:
                state.affinity.add_rows(t.topology_key, rows, 1)
        for t in terms.required_anti_affinity:
            hit = all_pods.mask(partial(t.matches, ns_labels=ns_labels))
            state.anti_affinity.add_rows(t.topology_key, all_pods.rows[hit], 1)
    return state


# -- per-node reference (satisfyPodAffinity & co.) -----------------------------------


def satisfy_pod_affinity(state: PreFilterState, node: NodeInfo) -> bool:
    pods_exist = True
    labels = node.labels
    for t in state.terms.required_affinity:
        value = labels.get(t.topology_key)
        if value is None:
            return False  # every topology label must exist on the node
        if state.affinity.get(t.topology_key, value) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # The first of a series of pods with affinity to themselves: nothing matches yet,
    # so it may go anywhere that has the topology labels if it matches its own terms.
    return state.affinity.is_empty() and matches_all(
        state.terms.required_affinity, state.pod, state.ns_labels
    )


def satisfy_pod_anti_affinity(state: PreFilterState, node: NodeInfo) -> bool:
    labels = node.labels
    for t in state.terms.required_anti_affinity:
        value = labels.get(t.topology_key)
        if value is not None and state.anti_affinity.get(t.topology_key, value) > 0:
            return False
    return True


def satisfy_existing_pods_anti_affinity(state: PreFilterState, node: NodeInfo) -> bool:
    counts = state.existing_anti_affinity
    return not any(counts.get(k, v) > 0 for k, v in node.labels.items())


def filter_node(state: PreFilterState, node: NodeInfo) -> Status | None:
    """Upstream Filter: the pod's affinity, its anti-affinity, then existing pods' anti-affinity."""
    if not satisfy_pod_affinity(state, node):
        return _AFFINITY_FAILED
    if not satisfy_pod_anti_affinity(state, node):
        return _ANTI_AFFINITY_FAILED
    if not satisfy_existing_pods_anti_affinity(state, node):
        return _EXISTING_ANTI_AFFINITY_FAILED
    return None


# -- vectorised ------------------------------------------------------------------------


def filter_codes(state: PreFilterState, nodes: NodeSet) -> NDArray[np.uint8]:
    """``filter_node`` for every node of ``nodes`` as Code values."""
    idx = nodes.idx
    m = len(nodes)
    out = np.zeros(m, dtype=np.uint8)
    existing = state.existing_anti_affinity
    for key in existing.topology_keys():
        out[existing.at(key, idx) > 0] = Code.UNSCHEDULABLE
    for t in state.terms.required_anti_affinity:
        out[state.anti_affinity.at(t.topology_key, idx) > 0] = Code.UNSCHEDULABLE
    required = state.terms.required_affinity
    if required:
        labelled = np.ones(m, dtype=bool)
        pods_exist = np.ones(m, dtype=bool)
        for t in required:
            labelled &= state.affinity.has_label(t.topology_key, idx)
            pods_exist &= state.affinity.at(t.topology_key, idx) > 0
        first_pod = state.affinity.is_empty() and matches_all(required, state.pod, state.ns_labels)
        ok = labelled if first_pod else labelled & pods_exist
        out[~ok] = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    return out
