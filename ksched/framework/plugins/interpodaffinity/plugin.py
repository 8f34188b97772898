"""InterPodAffinity: place pods with or away from other pods by topology domain.

Upstream interpodaffinity/plugin.go, filtering.go and scoring.go.  Filter
enforces the pod's required (anti-)affinity and the existing pods' required
anti-affinity; Score prefers domains by preferred terms both ways and by
existing pods' required affinity weighted by ``hardPodAffinityWeight``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ksched.api import Node
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.interface import PreFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.interpodaffinity import filtering, scoring
from ksched.framework.plugins.interpodaffinity.filtering import (
    ERR_REASON_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
    PRE_FILTER_STATE_KEY,
    PreFilterState,
)
from ksched.framework.plugins.interpodaffinity.scoring import PRE_SCORE_STATE_KEY, PreScoreState
from ksched.framework.plugins.interpodaffinity.terms import (
    NamespaceLabels,
    matches_all,
    pod_terms,
)
from ksched.framework.plugins.interpodaffinity.topology import ClusterPods, PodGroupIndex
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import SKIP, Status

NAME: Final = names.INTER_POD_AFFINITY
DEFAULT_HARD_POD_AFFINITY_WEIGHT: Final = 1
NAMESPACE_LABELS_KEY: Final = "namespace_labels"
"""``handle.extra`` entry: namespace -> labels, for terms' namespaceSelector."""

__all__ = [
    "DEFAULT_HARD_POD_AFFINITY_WEIGHT",
    "ERR_REASON_AFFINITY_RULES_NOT_MATCH",
    "ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH",
    "ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH",
    "NAME",
    "NAMESPACE_LABELS_KEY",
    "Args",
    "InterPodAffinity",
    "InterPodAffinityArgs",
    "new",
]


class InterPodAffinityArgs(BaseModel):
    """Upstream ``InterPodAffinityArgs`` (validation: hardPodAffinityWeight in [0, 100])."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    hard_pod_affinity_weight: int = Field(DEFAULT_HARD_POD_AFFINITY_WEIGHT, ge=0, le=100)
    ignore_preferred_terms_of_existing_pods: bool = False


Args = InterPodAffinityArgs


class InterPodAffinity:
    """PreFilter/Filter on required terms, PreScore/Score on preferred ones."""

    def __init__(self, args: InterPodAffinityArgs, handle: Any) -> None:
        self.args = args
        self._handle = handle
        self._pod_groups = PodGroupIndex()

    @property
    def name(self) -> str:
        return NAME

    # -- helpers ----------------------------------------------------------------------
    @property
    def _snapshot(self) -> ClusterSnapshot:
        return self._handle.snapshot  # type: ignore[no-any-return]

    def _ns_labels(self) -> NamespaceLabels:
        extra: Mapping[str, Any] = getattr(self._handle, "extra", None) or {}
        return extra.get(NAMESPACE_LABELS_KEY) or {}

    def _cluster_pods(self, snapshot: ClusterSnapshot) -> ClusterPods:
        return self._pod_groups.of(snapshot)

    # -- queueing -----------------------------------------------------------------------
    def events_to_register(self) -> list[ClusterEventWithHint]:
        # plugin.go with queueing hints enabled (no preCheck, so no UpdateNodeTaint).
        return [
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.POD,
                    ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE,
                ),
                self.is_schedulable_after_pod_change,
            ),
            ClusterEventWithHint(
                ClusterEvent(
                    EventResource.NODE,
                    ActionType.ADD | ActionType.UPDATE_NODE_LABEL,
                ),
                self.is_schedulable_after_node_change,
            ),
        ]

    def is_schedulable_after_pod_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Upstream ``isSchedulableAfterPodChange``."""
        original = old if isinstance(old, PodInfo) else None
        modified = new if isinstance(new, PodInfo) else None
        if (modified is not None and not modified.node_name) or (
            original is not None and not original.node_name
        ):
            return QueueingHint.QUEUE_SKIP  # an unscheduled pod affects no domain
        terms = pod_terms(pod)
        if terms.error is not None:
            return QueueingHint.QUEUE
        ns = self._ns_labels()
        aff, anti = terms.required_affinity, terms.required_anti_affinity
        if modified is not None and original is not None:
            if not matches_all(aff, original, ns) and matches_all(aff, modified, ns):
                return QueueingHint.QUEUE
            if matches_all(anti, original, ns) and not matches_all(anti, modified, ns):
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP
        if modified is not None:
            return QueueingHint.QUEUE if matches_all(aff, modified, ns) else QueueingHint.QUEUE_SKIP
        if original is not None and matches_all(anti, original, ns):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP

    def is_schedulable_after_node_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Upstream ``isSchedulableAfterNodeChange``: the node carries one of the topology keys."""
        if not isinstance(new, Node):
            return QueueingHint.QUEUE  # a batch of nodes without the objects: cannot tell
        terms = pod_terms(pod)
        if terms.error is not None:
            return QueueingHint.QUEUE
        labels = new.metadata.labels
        for t in (*terms.required_affinity, *terms.required_anti_affinity):
            if t.topology_key in labels:
                return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP

    # -- PreFilter / Filter -------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        if pod.pod.spec.affinity is None and not nodes.snapshot.pods_with_required_anti_affinity:
            return None, SKIP  # the common pod in the common cluster: nothing to parse
        terms = pod_terms(pod)
        if terms.error is not None:
            return None, Status.unresolvable(f"parsing pod: {terms.error}")
        has_required = bool(terms.required_affinity or terms.required_anti_affinity)
        snapshot = nodes.snapshot
        if not has_required and not snapshot.pods_with_required_anti_affinity:
            return None, SKIP
        s = filtering.build_pre_filter_state(
            pod,
            terms,
            snapshot,
            self._ns_labels(),
            self._cluster_pods(snapshot) if has_required else None,
        )
        if not has_required and s.existing_anti_affinity.is_empty():
            return None, SKIP
        state.write(PRE_FILTER_STATE_KEY, s)
        return None, None

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        s.update_with_pod(pod_to_add, node, 1)
        return None

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        s.update_with_pod(pod_to_remove, node, -1)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        return filtering.filter_node(s, node)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        return filtering.filter_codes(s, nodes)

    # -- PreScore / Score ---------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        if not len(nodes):
            return SKIP
        has_preferred = scoring.has_preferred_terms(pod)
        if self.args.ignore_preferred_terms_of_existing_pods and not has_preferred:
            return SKIP
        snapshot = nodes.snapshot
        if not has_preferred and not snapshot.pods_with_affinity:
            return SKIP  # nothing could contribute a pair
        terms = pod_terms(pod)
        if terms.error is not None:
            return Status.from_error(f"failed to parse pod: {terms.error}")
        score = scoring.build_topology_score(
            pod,
            terms,
            snapshot,
            self._ns_labels(),
            self.args.hard_pod_affinity_weight,
            self._cluster_pods(snapshot) if has_preferred else None,
        )
        if not score.touched:
            return SKIP
        state.write(PRE_SCORE_STATE_KEY, PreScoreState(score))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        return scoring.score_node(s, node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        return scoring.score_codes(s, nodes)

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        if s.topology_score.touched:
            scoring.normalize(scores)
        return None


def new(args: InterPodAffinityArgs | None, handle: Any) -> InterPodAffinity:
    return InterPodAffinity(args or InterPodAffinityArgs(), handle)
