"""NodeAffinity: required node selector/affinity as a Filter, preferred terms as a Score.

Upstream nodeaffinity/node_affinity.go: ``spec.nodeSelector`` and the
required terms must both match; a term pinning ``metadata.name`` with
matchFields In becomes a PreFilterResult; Score sums the weights of the
matching preferred terms, normalised by the largest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ksched.api import NodeAffinity as NodeAffinitySpec
from ksched.api import NodeSelector, NodeSelectorTerm, PreferredSchedulingTerm
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.interface import PreFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.node_selector import labels_mask, terms_mask, terms_match
from ksched.framework.plugins.helper.normalize import default_normalize_score
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status

NAME: Final = names.NODE_AFFINITY
ERR_REASON_POD: Final = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
_SKIP_FILTER: Final = (None, SKIP)


class NodeAffinityArgs(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )
    added_affinity: NodeAffinitySpec | None = None


Args = NodeAffinityArgs


@dataclass(frozen=True, slots=True)
class _Required:
    selector: dict[str, str]
    terms: list[NodeSelectorTerm] | None


def _required(pod: PodInfo) -> _Required:
    hit = pod.cache.get(NAME)
    if hit is None:
        aff = pod.pod.spec.affinity
        node_aff = aff.node_affinity if aff is not None else None
        sel: NodeSelector | None = (
            node_aff.required_during_scheduling_ignored_during_execution if node_aff else None
        )
        hit = _Required(
            dict(pod.pod.spec.node_selector), None if sel is None else list(sel.node_selector_terms)
        )
        pod.cache[NAME] = hit
    return hit


def _preferred(pod: PodInfo) -> list[PreferredSchedulingTerm]:
    aff = pod.pod.spec.affinity
    node_aff = aff.node_affinity if aff is not None else None
    return list(node_aff.preferred_during_scheduling_ignored_during_execution) if node_aff else []


def _pinned_names(terms: list[NodeSelectorTerm]) -> frozenset[str] | None:
    """Node names every term restricts to with matchFields metadata.name In (upstream PreFilter)."""
    out: set[str] = set()
    for term in terms:
        pinned: set[str] | None = None
        for req in term.match_fields:
            if req.key == "metadata.name" and req.operator == "In":
                vals = set(req.values)
                pinned = vals if pinned is None else pinned & vals
        if pinned is None:
            return None
        out |= pinned
    return frozenset(out)


class NodeAffinity:
    node_local = True  # a node's verdict depends only on its own labels and name

    def __init__(self, args: NodeAffinityArgs) -> None:
        added = args.added_affinity
        req = added.required_during_scheduling_ignored_during_execution if added else None
        self.added_required = list(req.node_selector_terms) if req else None
        self.added_preferred = (
            list(added.preferred_during_scheduling_ignored_during_execution) if added else []
        )

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)
            )
        ]

    # -- filter -------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        req = _required(pod)
        if not req.selector and req.terms is None and self.added_required is None:
            return _SKIP_FILTER
        if req.terms is not None:
            pinned = _pinned_names(req.terms)
            if pinned is not None:
                return PreFilterResult(pinned), None
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if self.added_required is not None and not terms_match(
            self.added_required, node.labels, node.name
        ):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_ENFORCED,))
        req = _required(pod)
        ok = all(node.labels.get(k) == v for k, v in req.selector.items())
        if ok and req.terms is not None:
            ok = terms_match(req.terms, node.labels, node.name)
        return None if ok else Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_POD,))

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        snap = nodes.snapshot
        req = _required(pod)
        ok = labels_mask(req.selector, snap, nodes)
        if req.terms is not None:
            ok &= terms_mask(req.terms, snap, nodes)
        if self.added_required is not None:
            ok &= terms_mask(self.added_required, snap, nodes)
        return (~ok).astype(np.uint8) * np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    # -- score ----------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        if not _preferred(pod) and not self.added_preferred:
            return SKIP
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = 0
        for term in [*self.added_preferred, *_preferred(pod)]:
            if term.weight and terms_match([term.preference], node.labels, node.name):
                total += term.weight
        return total

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        total = np.zeros(len(nodes), dtype=np.int64)
        for term in [*self.added_preferred, *_preferred(pod)]:
            if term.weight:
                total += terms_mask([term.preference], nodes.snapshot, nodes) * term.weight
        return total

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        default_normalize_score(scores, reverse=False)
        return None


def new(args: NodeAffinityArgs | None, handle: Any) -> NodeAffinity:
    return NodeAffinity(args or NodeAffinityArgs())
