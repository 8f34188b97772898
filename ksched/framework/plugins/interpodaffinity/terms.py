"""Pod (anti-)affinity terms as the scheduler evaluates them (upstream ``framework.AffinityTerm``).

A pod's terms are parsed once into ``pod.cache`` (upstream does it in
``NewPodInfo``), and so are the results of matching selectors against the
pod's labels: replicas share selectors, so each existing pod answers a given
selector once however many cycles ask.

Namespaces: ksched has no Namespace objects, so a term's
``namespaceSelector`` is matched against ``handle.extra["namespace_labels"]``
(namespace -> labels; unknown namespaces have no labels).  Upstream folds the
incoming pod's selector into its namespace set from the Namespace lister
(``mergeAffinityTermNamespacesIfNotEmpty``) and matches existing pods' terms
against the incoming pod's namespace labels; both come to the rule in
``AffinityTerm.matches``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ksched.api import Affinity, PodAffinityTerm, WeightedPodAffinityTerm
from ksched.framework.plugins import names
from ksched.framework.plugins.interpodaffinity.selector import (
    NOTHING,
    Requirement,
    Selector,
    compile_selector,
)
from ksched.framework.pod_info import PodInfo

NamespaceLabels = Mapping[str, Mapping[str, str]]
"""Namespace name -> its labels (``handle.extra["namespace_labels"]``)."""
LabelGroup = tuple[str, frozenset[tuple[str, str]]]
"""(namespace, labels): all a term looks at when matching a pod."""

_CACHE_KEY: Final = names.INTER_POD_AFFINITY
_NO_LABELS: Final[Mapping[str, str]] = {}


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """One ``PodAffinityTerm`` of a pod, with the owner's namespace and label keys resolved."""

    selector: Selector
    namespaces: frozenset[str]
    namespace_selector: Selector
    topology_key: str

    def matches(self, pod: PodInfo, ns_labels: NamespaceLabels) -> bool:
        """``AffinityTerm.Matches``: the pod's namespace is selected and its labels match."""
        if pod.namespace in self.namespaces or self.namespace_selector.matches(
            ns_labels.get(pod.namespace, _NO_LABELS)
        ):
            return selector_matches(self.selector, pod)
        return False


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    term: AffinityTerm
    weight: int


@dataclass(slots=True)
class PodTerms:
    """A pod's parsed terms and its selector-match memo (upstream PodInfo's term fields)."""

    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[WeightedTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedTerm, ...] = ()
    errors: tuple[str, ...] = ()
    matched: dict[Selector, bool] = field(default_factory=dict)
    group: LabelGroup | None = None

    @property
    def error(self) -> str | None:
        return ", ".join(self.errors) if self.errors else None


def pod_terms(pod: PodInfo) -> PodTerms:
    """The pod's terms, parsed on first use and kept in ``pod.cache``."""
    hit = pod.cache.get(_CACHE_KEY)
    if hit is None:
        hit = _parse(pod)
        pod.cache[_CACHE_KEY] = hit
    return hit


def selector_matches(selector: Selector, pod: PodInfo) -> bool:
    memo = pod_terms(pod).matched
    hit = memo.get(selector)
    if hit is None:
        hit = memo[selector] = selector.matches(pod.labels)
    return hit


def label_group(pod: PodInfo) -> LabelGroup:
    """The pod's (namespace, labels), computed once per pod."""
    terms = pod_terms(pod)
    if terms.group is None:
        terms.group = (pod.namespace, frozenset(pod.labels.items()))
    return terms.group


def matches_all(terms: Sequence[AffinityTerm], pod: PodInfo, ns_labels: NamespaceLabels) -> bool:
    """``podMatchesAllAffinityTerms``: false for no terms, as upstream."""
    return bool(terms) and all(t.matches(pod, ns_labels) for t in terms)


def _parse(pod: PodInfo) -> PodTerms:
    aff: Affinity | None = pod.pod.spec.affinity
    if aff is None or (aff.pod_affinity is None and aff.pod_anti_affinity is None):
        return PodTerms()
    errors: list[str] = []
    pa, paa = aff.pod_affinity, aff.pod_anti_affinity

    def required(kind: str, raw: list[PodAffinityTerm]) -> tuple[AffinityTerm, ...]:
        # A bad term drops the whole list, as upstream getAffinityTerms returns nil on error.
        try:
            return tuple(_term(pod, t) for t in raw)
        except ValueError as exc:
            errors.append(f"{kind}: {exc}")
            return ()

    def preferred(kind: str, raw: list[WeightedPodAffinityTerm]) -> tuple[WeightedTerm, ...]:
        try:
            return tuple(WeightedTerm(_term(pod, w.pod_affinity_term), w.weight) for w in raw)
        except ValueError as exc:
            errors.append(f"{kind}: {exc}")
            return ()

    return PodTerms(
        required_affinity=required(
            "requiredAffinityTerms",
            pa.required_during_scheduling_ignored_during_execution if pa else [],
        ),
        required_anti_affinity=required(
            "requiredAntiAffinityTerms",
            paa.required_during_scheduling_ignored_during_execution if paa else [],
        ),
        preferred_affinity=preferred(
            "preferredAffinityTerms",
            pa.preferred_during_scheduling_ignored_during_execution if pa else [],
        ),
        preferred_anti_affinity=preferred(
            "preferredAntiAffinityTerms",
            paa.preferred_during_scheduling_ignored_during_execution if paa else [],
        ),
        errors=tuple(errors),
    )


def _term(pod: PodInfo, term: PodAffinityTerm) -> AffinityTerm:
    """``newAffinityTerm`` plus the apiserver's merge of matchLabelKeys/mismatchLabelKeys."""
    selector = compile_selector(term.label_selector)
    if term.label_selector is not None:
        # pkg/api/pod applyMatchLabelKeysAndMismatchLabelKeys: keys the pod lacks are ignored.
        labels = pod.labels
        extra: list[Requirement] = [
            (k, "In", frozenset((labels[k],))) for k in term.match_label_keys if k in labels
        ]
        extra += [
            (k, "NotIn", frozenset((labels[k],))) for k in term.mismatch_label_keys if k in labels
        ]
        selector = selector.with_requirements(tuple(extra))
    # getNamespacesFromPodAffinityTerm: no namespaces and no selector means the pod's own.
    if not term.namespaces and term.namespace_selector is None:
        namespaces = frozenset((pod.namespace,))
    else:
        namespaces = frozenset(term.namespaces)
    ns_selector = (
        NOTHING if term.namespace_selector is None else compile_selector(term.namespace_selector)
    )
    return AffinityTerm(selector, namespaces, ns_selector, term.topology_key)
