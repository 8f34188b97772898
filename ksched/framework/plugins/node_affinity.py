"""NodeAffinity: a pod's nodeSelector and required node affinity as a Filter, preferred as a Score.

Upstream nodeaffinity/node_affinity.go.  ``spec.nodeSelector`` and the
required terms must both match (terms ORed, expressions ANDed); a required
term pinning ``metadata.name`` with matchFields In narrows the candidates in
PreFilter; Score sums the weights of the matching preferred terms and
NormalizeScore scales by the largest.  ``addedAffinity`` (NodeAffinityArgs)
is enforced on every pod of the profile.

Parsed selectors live in ``PodInfo.cache`` rather than in CycleState: they
depend on the pod alone, so a retried pod does not parse them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel

from ksched.api import Node, NodeSelectorTerm
from ksched.api import NodeAffinity as NodeAffinitySpec
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.interface import MAX_NODE_SCORE, PreFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.node_selector import (
    IN,
    NODE_NAME_FIELD,
    NodeSelectorMatcher,
    PreferredTerms,
    SelectorError,
    required_node_affinity,
)
from ksched.framework.plugins.helper.normalize import default_normalize_score
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status

NAME: Final = names.NODE_AFFINITY
ERR_REASON_POD: Final = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT: Final = "pod affinity terms conflict"
_PREFERRED_KEY: Final = NAME + "/preferred"
_UNRESOLVABLE: Final = np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


class NodeAffinityArgs(BaseModel):
    """``addedAffinity`` applies to every pod of the profile, ANDed with the pod's own."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )
    added_affinity: NodeAffinitySpec | None = None

    @model_validator(mode="after")
    def _parses(self) -> NodeAffinityArgs:
        # ValidateNodeAffinityArgs: both parts must parse strictly.
        _added_selector(self)
        _added_preferred(self)
        return self


Args = NodeAffinityArgs


def _added_selector(args: NodeAffinityArgs) -> NodeSelectorMatcher | None:
    added = args.added_affinity
    required = added.required_during_scheduling_ignored_during_execution if added else None
    if required is None:
        return None
    try:
        return NodeSelectorMatcher.from_terms(required.node_selector_terms, strict=True)
    except SelectorError as exc:
        raise ValueError(
            f"addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: {exc}"
        ) from exc


def _added_preferred(args: NodeAffinityArgs) -> PreferredTerms | None:
    added = args.added_affinity
    terms = added.preferred_during_scheduling_ignored_during_execution if added else []
    if not terms:
        return None
    try:
        return PreferredTerms.from_terms(terms)
    except SelectorError as exc:
        raise ValueError(
            f"addedAffinity.preferredDuringSchedulingIgnoredDuringExecution: {exc}"
        ) from exc


def pinned_node_names(terms: list[NodeSelectorTerm]) -> frozenset[str] | None:
    """Node names the required terms allow through matchFields ``metadata.name`` In.

    None when some term pins no name (terms are ORed, so every node stays a
    candidate); an empty set when the pins of every term conflict.
    """
    out: set[str] = set()
    for term in terms:
        pinned: set[str] | None = None
        for req in term.match_fields:
            if req.key == NODE_NAME_FIELD and req.operator == IN:
                pinned = set(req.values) if pinned is None else pinned & set(req.values)
        if pinned is None:
            return None
        out |= pinned
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class _Preferred:
    terms: PreferredTerms | None
    error: str | None = None


def _pod_preferred(pod: PodInfo) -> _Preferred:
    """``getPodPreferredNodeAffinity``, parsed once per pod."""
    hit = pod.cache.get(_PREFERRED_KEY)
    if hit is None:
        aff = pod.pod.spec.affinity
        node_aff = aff.node_affinity if aff is not None else None
        terms = node_aff.preferred_during_scheduling_ignored_during_execution if node_aff else []
        try:
            hit = _Preferred(PreferredTerms.from_terms(terms) if terms else None)
        except SelectorError as exc:
            hit = _Preferred(None, str(exc))
        pod.cache[_PREFERRED_KEY] = hit
    return hit


class NodeAffinity:
    """Filter on required node affinity and nodeSelector; score preferred node affinity."""

    node_local = True  # a node's verdict depends only on the pod and that node's labels and name
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation
    node_object_only = True

    def __init__(self, args: NodeAffinityArgs) -> None:
        self.added_selector = _added_selector(args)
        self.added_preferred = _added_preferred(args)

    @property
    def name(self) -> str:
        return NAME

    # -- queueing -----------------------------------------------------------------------
    def events_to_register(self) -> list[ClusterEventWithHint]:
        # With queueing hints (no preCheck), Node Add and label updates only.
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL),
                self.is_schedulable_after_node_change,
            )
        ]

    def is_schedulable_after_node_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Queue when the added node matches, or an update turned a mismatch into a match."""
        if not isinstance(new, Node):
            return QueueingHint.QUEUE  # no object to judge (a batch of nodes)
        name = new.metadata.name or ""
        labels = new.metadata.labels
        if self.added_selector is not None and not self.added_selector.matches(labels, name):
            return QueueingHint.QUEUE_SKIP
        required = required_node_affinity(pod)
        if not required.matches(labels, name):
            return QueueingHint.QUEUE_SKIP
        if isinstance(old, Node) and required.matches(old.metadata.labels, old.metadata.name or ""):
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE

    # -- filter -------------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        spec = pod.pod.spec
        if spec.affinity is None and not spec.node_selector and self.added_selector is None:
            return None, SKIP  # the common pod: nothing to parse
        required = required_node_affinity(pod)
        if required.empty and self.added_selector is None:
            return None, SKIP
        aff = spec.affinity
        node_aff = aff.node_affinity if aff is not None else None
        selector = (
            node_aff.required_during_scheduling_ignored_during_execution if node_aff else None
        )
        if selector is None or not selector.node_selector_terms:
            return None, None
        pinned = pinned_node_names(selector.node_selector_terms)
        if pinned is None:
            return None, None
        if not pinned:
            return None, Status.unresolvable(ERR_REASON_CONFLICT)
        return PreFilterResult(pinned), None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if self.added_selector is not None and not self.added_selector.matches(
            node.labels, node.name
        ):
            return Status.unresolvable(ERR_REASON_ENFORCED)
        if not required_node_affinity(pod).matches(node.labels, node.name):
            return Status.unresolvable(ERR_REASON_POD)
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        ok = required_node_affinity(pod).mask(nodes.snapshot, nodes.idx)
        if self.added_selector is not None:
            ok &= self.added_selector.mask(nodes.snapshot, nodes.idx)
        out: NDArray[np.uint8] = (~ok).astype(np.uint8) * _UNRESOLVABLE
        return out

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        labels, name = node.labels, node.name
        if required_node_affinity(pod).matches(labels, name) and (
            self.added_selector is None or self.added_selector.matches(labels, name)
        ):
            return 0
        return Code.UNSCHEDULABLE_AND_UNRESOLVABLE

    # -- score --------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        if pod.pod.spec.affinity is None and self.added_preferred is None:
            return SKIP  # the common pod: nothing to parse
        preferred = _pod_preferred(pod)
        if preferred.error is not None:
            return Status.from_error(preferred.error)
        if preferred.terms is None and self.added_preferred is None:
            return SKIP
        return None

    @staticmethod
    def _preferred(pod: PodInfo) -> PreferredTerms | None:
        preferred = _pod_preferred(pod)
        if preferred.error is not None:
            raise SelectorError(preferred.error)  # PreScore did not run to report it
        return preferred.terms

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = 0
        if self.added_preferred is not None:
            total += self.added_preferred.score(node.labels, node.name)
        preferred = self._preferred(pod)
        if preferred is not None:
            total += preferred.score(node.labels, node.name)
        return total

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        total = np.zeros(len(nodes), dtype=np.int64)
        if self.added_preferred is not None:
            total += self.added_preferred.scores(nodes.snapshot, nodes.idx)
        preferred = self._preferred(pod)
        if preferred is not None:
            total += preferred.scores(nodes.snapshot, nodes.idx)
        return total

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.score(state, pod, node)

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        return default_normalize_score(MAX_NODE_SCORE, False, scores)


def new(args: NodeAffinityArgs | None, handle: Any) -> NodeAffinity:
    return NodeAffinity(args if args is not None else NodeAffinityArgs())
