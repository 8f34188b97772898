"""Spread constraints as the plugin evaluates them (upstream podtopologyspread/common.go)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ksched.api import LabelSelector, LabelSelectorRequirement, TopologySpreadConstraint
from ksched.framework.plugins.helper.node_selector import (
    label_selector_matches,
    labels_mask,
    terms_mask,
    terms_match,
)
from ksched.framework.plugins.helper.taints import find_untolerated_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet

HOSTNAME = "kubernetes.io/hostname"
_DO_NOT_SCHEDULE_TAINTS = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector | None
    min_domains: int
    honor_affinity: bool
    honor_taints: bool

    def matches(self, pod: PodInfo, namespace: str) -> bool:
        """Counted pods: same namespace, not terminating, labels match the selector."""
        return (
            pod.namespace == namespace
            and pod.pod.metadata.deletion_timestamp is None
            and label_selector_matches(self.selector, pod.labels)
        )


def build_constraints(pod: PodInfo, when: str) -> list[Constraint]:
    """The pod's constraints with ``whenUnsatisfiable == when``; matchLabelKeys merged in."""
    out = []
    for c in pod.pod.spec.topology_spread_constraints:
        if c.when_unsatisfiable != when:
            continue
        out.append(_constraint(c, pod))
    return out


def _constraint(c: TopologySpreadConstraint, pod: PodInfo) -> Constraint:
    selector = c.label_selector
    if selector is not None and c.match_label_keys:
        extra = [
            LabelSelectorRequirement(key=k, operator="In", values=[pod.labels[k]])
            for k in c.match_label_keys
            if k in pod.labels
        ]
        selector = selector.model_copy(
            update={"match_expressions": [*selector.match_expressions, *extra]}
        )
    return Constraint(
        max_skew=c.max_skew,
        topology_key=c.topology_key,
        selector=selector,
        min_domains=c.min_domains or 1,
        honor_affinity=(c.node_affinity_policy or "Honor") == "Honor",
        honor_taints=(c.node_taints_policy or "Ignore") == "Honor",
    )


def has_all_keys(labels: dict[str, str], constraints: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


def included(c: Constraint, pod: PodInfo, node: NodeInfo) -> bool:
    """matchNodeInclusionPolicies: the node passes the honoured required affinity / taints."""
    if c.honor_affinity:
        spec = pod.pod.spec
        if any(node.labels.get(k) != v for k, v in spec.node_selector.items()):
            return False
        aff = spec.affinity.node_affinity if spec.affinity else None
        req = aff.required_during_scheduling_ignored_during_execution if aff else None
        if req is not None and not terms_match(req.node_selector_terms, node.labels, node.name):
            return False
    if c.honor_taints:
        taint = find_untolerated_taint(
            node.taints, pod.pod.spec.tolerations, _DO_NOT_SCHEDULE_TAINTS
        )
        if taint is not None:
            return False
    return True


def inclusion_mask(c: Constraint, pod: PodInfo, nodes: NodeSet) -> NDArray[np.bool_]:
    """``included`` for every node; node affinity vectorised, taints (rarely honoured) per node."""
    ok = np.ones(len(nodes), dtype=bool)
    snap = nodes.snapshot
    if c.honor_affinity:
        spec = pod.pod.spec
        ok &= labels_mask(spec.node_selector, snap, nodes)
        aff = spec.affinity.node_affinity if spec.affinity else None
        req = aff.required_during_scheduling_ignored_during_execution if aff else None
        if req is not None:
            ok &= terms_mask(req.node_selector_terms, snap, nodes)
    if c.honor_taints:
        tol = pod.pod.spec.tolerations
        ok &= np.array(
            [
                find_untolerated_taint(i.taints, tol, _DO_NOT_SCHEDULE_TAINTS) is None
                for i in nodes.infos
            ],
            dtype=bool,
        )
    return ok


def matching_counts(
    snap: ClusterSnapshot, constraint: Constraint, namespace: str
) -> NDArray[np.int64]:
    """Per node, the number of its pods the constraint counts (one pass over the cluster's pods)."""
    counts = np.zeros(snap.n, dtype=np.int64)
    for info in snap.nodes:
        n = 0
        for p in info.pods.values():
            if constraint.matches(p, namespace):
                n += 1
        counts[info.index] = n
    return counts
