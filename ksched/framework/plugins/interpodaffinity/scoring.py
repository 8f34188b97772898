"""InterPodAffinity PreScore/Score/NormalizeScore (upstream interpodaffinity/scoring.go).

PreScore sums, per topology pair, the weights of every (anti-)affinity
relation between the incoming pod and an existing pod in that domain; a
node's score is the sum over the pairs its labels name, min-max scaled to
0..100 afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.plugins.interpodaffinity.terms import (
    NamespaceLabels,
    PodTerms,
    WeightedTerm,
    pod_terms,
)
from ksched.framework.plugins.interpodaffinity.topology import ClusterPods, TopologyCounts
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet

PRE_SCORE_STATE_KEY: Final = "PreScore" + names.INTER_POD_AFFINITY


class PreScoreState:
    """Upstream ``preScoreState``: the summed weight of each topology pair."""

    __slots__ = ("topology_score",)

    def __init__(self, topology_score: TopologyCounts) -> None:
        self.topology_score = topology_score


def has_preferred_terms(pod: PodInfo) -> bool:
    """Upstream ``hasConstraints``: the pod has preferred affinity or anti-affinity terms."""
    aff = pod.pod.spec.affinity
    if aff is None:
        return False
    pa, paa = aff.pod_affinity, aff.pod_anti_affinity
    return bool(
        (pa is not None and pa.preferred_during_scheduling_ignored_during_execution)
        or (paa is not None and paa.preferred_during_scheduling_ignored_during_execution)
    )


def build_topology_score(
    pod: PodInfo,
    terms: PodTerms,
    snapshot: ClusterSnapshot,
    ns_labels: NamespaceLabels,
    hard_pod_affinity_weight: int,
    all_pods: ClusterPods | None,
) -> TopologyCounts:
    """Upstream PreScore's ``processExistingPod`` over the relevant existing pods.

    ``all_pods`` is given when the incoming pod has preferred terms (they are
    matched against every pod); the existing pods' own terms are walked only
    on nodes hosting pods with affinity, since other pods have none.
    """
    score = TopologyCounts(snapshot)
    if all_pods is not None and len(all_pods):
        for weighted, sign in (
            *((w, 1) for w in terms.preferred_affinity),
            *((w, -1) for w in terms.preferred_anti_affinity),
        ):
            t = weighted.term
            hit = all_pods.mask(partial(t.matches, ns_labels=ns_labels))
            score.add_rows(t.topology_key, all_pods.rows[hit], sign * weighted.weight)
    if snapshot.pods_with_affinity:
        for info in snapshot.nodes:
            if not info.pods_with_affinity:
                continue
            for existing in info.pods.values():
                _process_existing_terms(
                    score, pod_terms(existing), pod, ns_labels, info.index, hard_pod_affinity_weight
                )
    return score


def _process_existing_terms(
    score: TopologyCounts,
    existing: PodTerms,
    pod: PodInfo,
    ns_labels: NamespaceLabels,
    row: int,
    hard_weight: int,
) -> None:
    """The existing pod's terms against the incoming pod, on the existing pod's node."""
    if hard_weight > 0:
        for t in existing.required_affinity:
            if t.matches(pod, ns_labels):
                score.add(t.topology_key, row, hard_weight)
    _process_weighted(score, existing.preferred_affinity, pod, ns_labels, row, 1)
    _process_weighted(score, existing.preferred_anti_affinity, pod, ns_labels, row, -1)


def _process_weighted(
    score: TopologyCounts,
    terms: Sequence[WeightedTerm],
    pod: PodInfo,
    ns_labels: NamespaceLabels,
    row: int,
    sign: int,
) -> None:
    for w in terms:
        if w.term.matches(pod, ns_labels):
            score.add(w.term.topology_key, row, sign * w.weight)


def score_node(state: PreScoreState, node: NodeInfo) -> int:
    """Upstream Score: the sum of the node's topology pairs."""
    labels = node.labels
    counts = state.topology_score
    return sum(counts.get(k, labels[k]) for k in counts.topology_keys() if k in labels)


def score_codes(state: PreScoreState, nodes: NodeSet) -> NDArray[np.int64]:
    counts = state.topology_score
    total = np.zeros(len(nodes), dtype=np.int64)
    for key in counts.topology_keys():
        total += counts.at(key, nodes.idx)
    return total


def normalize(scores: NDArray[np.int64]) -> None:
    """Upstream NormalizeScore: ``int64(100 * (s - min) / (max - min))`` in float64, in place."""
    if not len(scores):
        return
    lo = int(scores.min())
    diff = int(scores.max()) - lo
    if diff > 0:
        scores[:] = (MAX_NODE_SCORE * ((scores - lo) / diff)).astype(np.int64)
    else:
        scores[:] = 0
