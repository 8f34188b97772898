"""Spread constraints as the plugin evaluates them, and the pods they count.

Upstream podtopologyspread/common.go: a pod's constraints with defaults
applied and selectors parsed (``matchLabelKeys`` merged in), the default
constraints whose selector comes from the pod's controllers, the node
inclusion policies, and ``countPodsMatchSelector``.  Matching pods per node
are kept per (namespace, selector) and refreshed from the snapshot's change
log, so a cycle recounts only the nodes whose pods changed since the last.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.api import LabelSelector, Pod, TopologySpreadConstraint
from ksched.framework.plugins.helper.node_selector import (
    IN,
    LabelRequirement,
    LabelSelectorMatcher,
    SelectorError,
    required_node_affinity,
)
from ksched.framework.plugins.helper.taints import find_untolerated_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo

HOSTNAME: Final = "kubernetes.io/hostname"
ZONE: Final = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE: Final = "DoNotSchedule"
SCHEDULE_ANYWAY: Final = "ScheduleAnyway"
HONOR: Final = "Honor"
IGNORE: Final = "Ignore"
# helper.DoNotScheduleTaintsFilterFunc: the taints that keep pods off a node.
_DO_NOT_SCHEDULE_EFFECTS: Final = frozenset({"NoSchedule", "NoExecute"})

SYSTEM_DEFAULT_CONSTRAINTS: Final = (
    TopologySpreadConstraint(max_skew=3, topology_key=HOSTNAME, when_unsatisfiable=SCHEDULE_ANYWAY),
    TopologySpreadConstraint(max_skew=5, topology_key=ZONE, when_unsatisfiable=SCHEDULE_ANYWAY),
)
"""Upstream ``systemDefaultConstraints`` (plugin.go), in upstream's order."""

SelectorFor = Callable[[Pod], LabelSelector | None]
"""The selector of the workload a pod belongs to (upstream ``helper.DefaultSelector``)."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """Upstream's internal ``topologySpreadConstraint``: defaults applied, selector parsed."""

    max_skew: int
    topology_key: str
    selector: LabelSelectorMatcher
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_node_taints: bool = False


def filter_constraints(
    specs: Iterable[TopologySpreadConstraint], pod_labels: Mapping[str, str], action: str
) -> list[Constraint]:
    """``filterTopologySpreadConstraints``: those with ``whenUnsatisfiable == action``.

    Raises SelectorError for a label selector upstream refuses to parse.
    """
    out: list[Constraint] = []
    for spec in specs:
        if spec.when_unsatisfiable != action:
            continue
        selector = LabelSelectorMatcher.parse(spec.label_selector)
        if spec.match_label_keys:
            selector = _merge_match_label_keys(selector, spec.match_label_keys, pod_labels)
        out.append(
            Constraint(
                max_skew=spec.max_skew,
                topology_key=spec.topology_key,
                selector=selector,
                # Unset minDomains means 1; unset policies mean Honor (affinity), Ignore (taints).
                min_domains=1 if spec.min_domains is None else spec.min_domains,
                honor_node_affinity=spec.node_affinity_policy in (None, HONOR),
                honor_node_taints=spec.node_taints_policy == HONOR,
            )
        )
    return out


def _merge_match_label_keys(
    selector: LabelSelectorMatcher, keys: Sequence[str], pod_labels: Mapping[str, str]
) -> LabelSelectorMatcher:
    """``mergeLabelSetWithSelector``: the pod's own values of ``keys`` ANDed with the selector.

    Keys the pod lacks are ignored; a nil selector has no requirements to
    keep, so the pinned keys alone then select (as upstream).
    """
    pinned = {k: pod_labels[k] for k in keys if k in pod_labels}
    if not pinned:
        return selector
    requirements = tuple(LabelRequirement(k, IN, frozenset({v})) for k, v in pinned.items())
    return LabelSelectorMatcher(requirements + (selector.requirements or ()))


def build_default_constraints(
    defaults: Sequence[TopologySpreadConstraint],
    pod: PodInfo,
    action: str,
    selector_for: SelectorFor | None,
) -> list[Constraint]:
    """``buildDefaultConstraints``: the defaults, all selecting the pod's workload.

    With no workload selector (no ``selector_for`` hook, no owning workload,
    or an empty selector) there is nothing to spread and no constraint applies.
    """
    if selector_for is None:
        return []  # before parsing: defaults carry no selector, so parsing cannot fail
    constraints = filter_constraints(defaults, pod.labels, action)
    if not constraints:
        return []
    selector = _workload_selector(pod.pod, selector_for)
    if selector is None:
        return []
    return [dataclasses.replace(c, selector=selector) for c in constraints]


def _workload_selector(pod: Pod, selector_for: SelectorFor) -> LabelSelectorMatcher | None:
    raw = selector_for(pod)
    if raw is None:
        return None
    try:
        selector = LabelSelectorMatcher.parse(raw)
    except SelectorError:
        return None  # DefaultSelector skips selectors it cannot parse
    return selector if selector.requirements else None


def node_has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    """``nodeLabelsMatchSpreadConstraints``: the node carries every topology key."""
    return all(c.topology_key in labels for c in constraints)


def pod_matches_any(constraints: Sequence[Constraint], labels: Mapping[str, str]) -> bool:
    """``podLabelsMatchSpreadConstraints``: some constraint counts a pod with ``labels``."""
    return any(c.selector.matches(labels) for c in constraints)


def includes(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    """``matchNodeInclusionPolicies``: does ``node`` take part in ``c``'s spreading for ``pod``?"""
    if c.honor_node_affinity and not required_node_affinity(pod).matches(node.labels, node.name):
        return False
    if c.honor_node_taints:
        untolerated = find_untolerated_taint(
            node.taints, pod.pod.spec.tolerations, _DO_NOT_SCHEDULE_EFFECTS
        )
        if untolerated is not None:
            return False
    return True


def inclusion_mask(c: Constraint, pod: PodInfo, snap: ClusterSnapshot) -> NDArray[np.bool_]:
    """``includes`` for every snapshot row: affinity over label codes, taints on tainted rows."""
    ok = np.ones(snap.n, dtype=bool)
    if c.honor_node_affinity:
        required = required_node_affinity(pod)
        if not required.empty:
            ok &= required.mask(snap, slice(0, snap.n))
    if c.honor_node_taints:
        tolerations = pod.pod.spec.tolerations
        # nodeTaintsPolicy Honor is rare; only tainted nodes are looked at.
        for info in snap.nodes:
            if info.taints and find_untolerated_taint(
                info.taints, tolerations, _DO_NOT_SCHEDULE_EFFECTS
            ):
                ok[info.index] = False
    return ok


def count_matching(pods: Iterable[PodInfo], selector: LabelSelectorMatcher, namespace: str) -> int:
    """``countPodsMatchSelector``: same namespace, not terminating (#87621), selected."""
    return sum(
        1
        for p in pods
        if p.namespace == namespace
        and p.pod.metadata.deletion_timestamp is None
        and selector.matches(p.labels)
    )


@dataclass(slots=True)
class _Counts:
    snapshot: weakref.ref[ClusterSnapshot]
    node_generation: int
    position: int
    per_node: NDArray[np.int64]


class MatchCounter:
    """Per snapshot row, the pods a (namespace, selector) counts, kept between cycles.

    An entry is rebuilt in one pass over the cluster's pods when nodes were
    added, removed or updated, and otherwise patched on the rows the
    snapshot's change log names.  Callers must not write to the arrays.
    """

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = 256) -> None:
        self._entries: dict[tuple[str, LabelSelectorMatcher], _Counts] = {}
        self._limit = limit

    def per_node(
        self, snap: ClusterSnapshot, namespace: str, selector: LabelSelectorMatcher
    ) -> NDArray[np.int64]:
        key = (namespace, selector)
        entry = self._entries.get(key)
        rows: list[int] | None = None
        if (
            entry is not None
            and entry.snapshot() is snap
            and entry.node_generation == snap.node_generation
        ):
            rows = snap.rows_changed_since(entry.position)
        if entry is None or rows is None:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            counts = np.fromiter(
                (count_matching(info.pods.values(), selector, namespace) for info in snap.nodes),
                dtype=np.int64,
                count=snap.n,
            )
            entry = _Counts(weakref.ref(snap), snap.node_generation, snap.log_position, counts)
            self._entries[key] = entry
        elif rows:
            for row in set(rows):
                pods = snap.nodes[row].pods.values()
                entry.per_node[row] = count_matching(pods, selector, namespace)
            entry.position = snap.log_position
        return entry.per_node


def round_half_away(x: float) -> int:
    """Go ``math.Round`` for the non-negative sums Score builds."""
    whole = math.floor(x)
    return whole + (1 if x - whole >= 0.5 else 0)


def round_half_away_array(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """``round_half_away`` elementwise (``np.round`` rounds half to even)."""
    whole = np.floor(x)
    return (whole + (x - whole >= 0.5)).astype(np.int64)
