"""InterPodAffinity: PreFilter/Filter, PreScore/Score/NormalizeScore, PreFilter extensions.

Expected outcomes follow kube-scheduler's documented inter-pod affinity
behaviour and the cases of upstream interpodaffinity filtering_test.go and
scoring_test.go, rewritten.  Every case checks that the per-node and the
vectorised forms agree; seeded random clusters compare both with a
brute-force reading of the rules and check add_pod/remove_pod against a
fresh PreFilter.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from pydantic import ValidationError

from ksched.api import Node, Pod
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    ActionType,
    EventResource,
    QueueingHint,
)
from ksched.framework.handle import Handle
from ksched.framework.interface import ExtensionPoint
from ksched.framework.plugins import names
from ksched.framework.plugins.defaultpreemption.candidates import select_victims_on_node
from ksched.framework.plugins.interpodaffinity import plugin as ipa
from ksched.framework.plugins.interpodaffinity.filtering import (
    PRE_FILTER_STATE_KEY,
    PreFilterState,
)
from ksched.framework.plugins.interpodaffinity.scoring import PRE_SCORE_STATE_KEY, normalize
from ksched.framework.plugins.interpodaffinity.terms import matches_all, pod_terms
from ksched.framework.plugins.noderesources import fit
from ksched.framework.pod_info import PodInfo
from ksched.framework.runtime import Framework
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Code, Status
from ksched.testing import check_plugin

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
AFF = ipa.ERR_REASON_AFFINITY_RULES_NOT_MATCH
ANTI = ipa.ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH
EXISTING = ipa.ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH
CODE_OF_REASON = {
    AFF: Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
    ANTI: Code.UNSCHEDULABLE,
    EXISTING: Code.UNSCHEDULABLE,
}

# -- builders ---------------------------------------------------------------------------


def make_node(name: str, zone: str | None = None, **labels: str) -> Node:
    """A node labelled with its hostname and, if given, its zone."""
    all_labels = {HOST: name, **({ZONE: zone} if zone else {}), **labels}
    return Node.model_validate(
        {
            "metadata": {"name": name, "labels": all_labels},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"}},
        }
    )


def make_pod(
    name: str,
    labels: dict[str, str] | None = None,
    node: str = "",
    namespace: str = "default",
    affinity: dict[str, Any] | None = None,
    priority: int = 0,
) -> PodInfo:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}],
        "priority": priority,
    }
    if node:
        spec["nodeName"] = node
    if affinity:
        spec["affinity"] = affinity
    meta = {"name": name, "namespace": namespace, "uid": name, "labels": labels or {}}
    return PodInfo.from_pod(Pod.model_validate({"metadata": meta, "spec": spec}))


def term(
    key: str = HOST,
    namespaces: list[str] | None = None,
    ns_selector: dict[str, Any] | None = None,
    expressions: list[dict[str, Any]] | None = None,
    match_label_keys: list[str] | None = None,
    mismatch_label_keys: list[str] | None = None,
    selector: bool = True,
    **match_labels: str,
) -> dict[str, Any]:
    """A PodAffinityTerm as JSON; ``selector=False`` leaves labelSelector out (matches nothing)."""
    out: dict[str, Any] = {"topologyKey": key}
    if selector:
        out["labelSelector"] = {
            "matchLabels": match_labels,
            "matchExpressions": expressions or [],
        }
    if namespaces is not None:
        out["namespaces"] = namespaces
    if ns_selector is not None:
        out["namespaceSelector"] = ns_selector
    if match_label_keys:
        out["matchLabelKeys"] = match_label_keys
    if mismatch_label_keys:
        out["mismatchLabelKeys"] = mismatch_label_keys
    return out


def affinity(
    required: list[dict[str, Any]] | None = None,
    anti: list[dict[str, Any]] | None = None,
    preferred: list[tuple[int, dict[str, Any]]] | None = None,
    preferred_anti: list[tuple[int, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    def weighted(terms: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [{"weight": w, "podAffinityTerm": t} for w, t in terms]

    out: dict[str, Any] = {}
    if required or preferred:
        out["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": required or [],
            "preferredDuringSchedulingIgnoredDuringExecution": weighted(preferred or []),
        }
    if anti or preferred_anti:
        out["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": anti or [],
            "preferredDuringSchedulingIgnoredDuringExecution": weighted(preferred_anti or []),
        }
    return out


def cluster(nodes: list[Node], pods: list[PodInfo]) -> ClusterSnapshot:
    snap = ClusterSnapshot()
    snap.add_nodes(nodes)
    for p in pods:
        snap.add_pod(p, p.node_name)
    return snap


def build(
    snap: ClusterSnapshot,
    args: dict[str, Any] | None = None,
    namespace_labels: dict[str, dict[str, str]] | None = None,
) -> ipa.InterPodAffinity:
    extra = {} if namespace_labels is None else {ipa.NAMESPACE_LABELS_KEY: namespace_labels}
    handle = Handle(snapshot=snap, extra=extra)
    return ipa.new(ipa.Args.model_validate(args or {}), handle)


def code(status: Status | None) -> int:
    return 0 if status is None else int(status.code)


def reversed_nodes(snap: ClusterSnapshot) -> NodeSet:
    """Every node through an index array in reverse order, to exercise non-slice NodeSets."""
    return snap.node_set(np.arange(snap.n - 1, -1, -1, dtype=np.intp))


def run_filter(
    plugin: ipa.InterPodAffinity, snap: ClusterSnapshot, pod: PodInfo
) -> tuple[Status | None, dict[str, Status | None]]:
    """PreFilter then Filter on every node, asserting the two Filter forms agree."""
    state = CycleState()
    result, status = plugin.pre_filter(state, pod, snap.all_nodes())
    assert result is None
    if status is not None:
        return status, {}
    per_node = {ni.name: plugin.filter(state, pod, ni) for ni in snap.nodes}
    scalar = [code(s) for s in per_node.values()]
    assert plugin.filter_nodes(state, pod, snap.all_nodes()).tolist() == scalar
    assert plugin.filter_nodes(state, pod, reversed_nodes(snap)).tolist() == scalar[::-1]
    return None, per_node


def run_score(
    plugin: ipa.InterPodAffinity, snap: ClusterSnapshot, pod: PodInfo
) -> tuple[Status | None, list[int], list[int]]:
    """PreScore, Score (both forms asserted equal), NormalizeScore: (status, raw, normalised)."""
    state = CycleState()
    status = plugin.pre_score(state, pod, snap.all_nodes())
    if status is not None:
        return status, [], []
    raw = np.array([plugin.score(state, pod, ni) for ni in snap.nodes], dtype=np.int64)
    assert plugin.score_nodes(state, pod, snap.all_nodes()).tolist() == raw.tolist()
    assert plugin.score_nodes(state, pod, reversed_nodes(snap)).tolist() == raw.tolist()[::-1]
    scores = raw.copy()
    assert plugin.normalize_score(state, pod, scores) is None
    return None, raw.tolist(), scores.tolist()


# -- Args and registration ----------------------------------------------------------------


def test_args_defaults_and_aliases() -> None:
    args = ipa.Args()
    assert args.hard_pod_affinity_weight == 1
    assert args.ignore_preferred_terms_of_existing_pods is False
    parsed = ipa.Args.model_validate(
        {"hardPodAffinityWeight": 0, "ignorePreferredTermsOfExistingPods": True}
    )
    assert (parsed.hard_pod_affinity_weight, parsed.ignore_preferred_terms_of_existing_pods) == (
        0,
        True,
    )
    assert ipa.InterPodAffinityArgs is ipa.Args


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"hardPodAffinityWeight": -1}, id="weight-negative"),
        pytest.param({"hardPodAffinityWeight": 101}, id="weight-over-100"),
        pytest.param({"unknownField": 1}, id="unknown-field"),
    ],
)
def test_args_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ipa.Args.model_validate(raw)


def test_name_and_registration() -> None:
    plugin = build(ClusterSnapshot())
    assert plugin.name == ipa.NAME == names.INTER_POD_AFFINITY == "InterPodAffinity"
    events = [e.event for e in plugin.events_to_register()]
    assert events[0].resource is EventResource.POD
    assert events[0].action == ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE
    assert events[1].resource is EventResource.NODE
    assert events[1].action == ActionType.ADD | ActionType.UPDATE_NODE_LABEL


def test_contract_checks_pass() -> None:
    check_plugin(ipa)


# -- PreFilter / Filter -------------------------------------------------------------------

ZONED = [make_node("n1", "a"), make_node("n2", "a"), make_node("n3", "b")]
ZONED_PLUS_BARE = [*ZONED, make_node("n4")]
WEB = {"app": "web"}
DB = {"app": "db"}

FILTER_CASES = [
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n1")],
        make_pod("in", WEB),
        {},
        "skip",
        id="no-affinity-anywhere-skips",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n1", affinity=affinity(anti=[term(HOST, app="db")]))],
        make_pod("in", WEB),
        {},
        "skip",
        id="existing-anti-affinity-not-matching-skips",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n1")],
        make_pod("in", WEB, affinity=affinity(anti=[term(HOST, app="web")])),
        {},
        {"n1": ANTI, "n2": None, "n3": None},
        id="anti-affinity-hostname-keeps-replicas-apart",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n1")],
        make_pod("in", WEB, affinity=affinity(anti=[term(ZONE, app="web")])),
        {},
        {"n1": ANTI, "n2": ANTI, "n3": None},
        id="anti-affinity-zone-rejects-whole-zone",
    ),
    pytest.param(
        ZONED_PLUS_BARE,
        [make_pod("w1", WEB, "n1")],
        make_pod("in", WEB, affinity=affinity(anti=[term(ZONE, app="web")])),
        {},
        {"n1": ANTI, "n2": ANTI, "n3": None, "n4": None},
        id="anti-affinity-node-without-key-passes",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="db")])),
        {},
        {"n1": None, "n2": None, "n3": AFF},
        id="affinity-zone-with-matching-pod",
    ),
    pytest.param(
        ZONED_PLUS_BARE,
        [make_pod("d1", DB, "n1")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="db")])),
        {},
        {"n1": None, "n2": None, "n3": AFF, "n4": AFF},
        id="affinity-node-without-key-fails",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(
                required=[
                    term(
                        ZONE, expressions=[{"key": "app", "operator": "In", "values": ["db", "x"]}]
                    )
                ]
            ),
        ),
        {},
        {"n1": None, "n2": None, "n3": AFF},
        id="affinity-match-expressions-in",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1")],
        make_pod(
            "in",
            DB,
            affinity=affinity(
                required=[
                    term(ZONE, expressions=[{"key": "app", "operator": "NotIn", "values": ["db"]}])
                ]
            ),
        ),
        {},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="affinity-not-in-matches-nothing",
    ),
    pytest.param(
        ZONED_PLUS_BARE,
        [],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="web")])),
        {},
        {"n1": None, "n2": None, "n3": None, "n4": AFF},
        id="self-affinity-first-pod-goes-where-key-exists",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n3")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="web")])),
        {},
        {"n1": AFF, "n2": AFF, "n3": None},
        id="self-affinity-follows-existing-match",
    ),
    pytest.param(
        ZONED_PLUS_BARE,
        [make_pod("w1", WEB, "n4")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="web")])),
        {},
        {"n1": None, "n2": None, "n3": None, "n4": AFF},
        id="self-affinity-match-off-topology-still-first-pod",
    ),
    pytest.param(
        ZONED,
        [],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="db")])),
        {},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="affinity-not-matching-itself-and-no-pods",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="db")])),
        {},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="namespaces-default-to-pods-own",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod(
            "in", WEB, affinity=affinity(required=[term(ZONE, namespaces=["other"], app="db")])
        ),
        {},
        {"n1": None, "n2": None, "n3": AFF},
        id="namespaces-listed",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod("in", WEB, affinity=affinity(required=[term(ZONE, ns_selector={}, app="db")])),
        {},
        {"n1": None, "n2": None, "n3": AFF},
        id="empty-namespace-selector-means-all",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(
                required=[term(ZONE, ns_selector={"matchLabels": {"team": "x"}}, app="db")]
            ),
        ),
        {"other": {"team": "x"}},
        {"n1": None, "n2": None, "n3": AFF},
        id="namespace-selector-matches-labels",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(
                required=[term(ZONE, ns_selector={"matchLabels": {"team": "x"}}, app="db")]
            ),
        ),
        {"other": {"team": "y"}},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="namespace-selector-no-match",
    ),
    pytest.param(
        ZONED,
        [
            make_pod("a", {"app": "db"}, "n1"),
            make_pod("b", {"tier": "backend"}, "n3"),
        ],
        make_pod(
            "in",
            WEB,
            affinity=affinity(required=[term(ZONE, app="db"), term(ZONE, tier="backend")]),
        ),
        {},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="affinity-terms-must-match-one-pod",
    ),
    pytest.param(
        ZONED,
        [make_pod("a", {"app": "db", "tier": "backend"}, "n3")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(required=[term(ZONE, app="db"), term(HOST, tier="backend")]),
        ),
        {},
        {"n1": AFF, "n2": AFF, "n3": None},
        id="affinity-terms-on-two-keys",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", WEB, "n1", affinity=affinity(anti=[term(HOST, app="web")]))],
        make_pod("in", WEB),
        {},
        {"n1": EXISTING, "n2": None, "n3": None},
        id="existing-anti-affinity-rejects-incoming",
    ),
    pytest.param(
        ZONED,
        [make_pod("w1", DB, "n3", affinity=affinity(anti=[term(ZONE, app="web")]))],
        make_pod("in", WEB),
        {},
        {"n1": None, "n2": None, "n3": EXISTING},
        id="existing-anti-affinity-zone",
    ),
    pytest.param(
        ZONED,
        [
            make_pod(
                "w1", DB, "n1", namespace="other", affinity=affinity(anti=[term(ZONE, app="web")])
            )
        ],
        make_pod("in", WEB),
        {},
        "skip",
        id="existing-anti-affinity-other-namespace-skips",
    ),
    pytest.param(
        ZONED,
        [
            make_pod(
                "w1",
                DB,
                "n1",
                namespace="other",
                affinity=affinity(
                    anti=[term(ZONE, ns_selector={"matchLabels": {"env": "prod"}}, app="web")]
                ),
            )
        ],
        make_pod("in", WEB),
        {"default": {"env": "prod"}},
        {"n1": EXISTING, "n2": EXISTING, "n3": None},
        id="existing-anti-affinity-namespace-selector",
    ),
    pytest.param(
        ZONED,
        [
            make_pod("d1", DB, "n1"),
            make_pod("w1", WEB, "n2"),
        ],
        make_pod(
            "in",
            WEB,
            affinity=affinity(required=[term(ZONE, app="db")], anti=[term(HOST, app="web")]),
        ),
        {},
        {"n1": None, "n2": ANTI, "n3": AFF},
        id="affinity-and-anti-affinity",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n3", affinity=affinity(anti=[term(HOST, app="web")]))],
        make_pod(
            "in",
            WEB,
            affinity=affinity(required=[term(HOST, app="db")]),
        ),
        {},
        {"n1": AFF, "n2": AFF, "n3": EXISTING},
        id="affinity-satisfied-but-existing-anti-affinity",
    ),
    pytest.param(
        ZONED,
        [
            make_pod("v1", {"app": "web", "version": "v1"}, "n1"),
            make_pod("v2", {"app": "web", "version": "v2"}, "n3"),
        ],
        make_pod(
            "in",
            {"app": "web", "version": "v2"},
            affinity=affinity(anti=[term(HOST, match_label_keys=["version"], app="web")]),
        ),
        {},
        {"n1": None, "n2": None, "n3": ANTI},
        id="match-label-keys",
    ),
    pytest.param(
        ZONED,
        [
            make_pod("a", {"app": "web", "tenant": "a"}, "n1"),
            make_pod("b", {"app": "web", "tenant": "b"}, "n3"),
        ],
        make_pod(
            "in",
            {"tenant": "a"},
            affinity=affinity(required=[term(ZONE, mismatch_label_keys=["tenant"], app="web")]),
        ),
        {},
        {"n1": AFF, "n2": AFF, "n3": None},
        id="mismatch-label-keys",
    ),
    pytest.param(
        ZONED,
        [make_pod("d1", DB, "n1")],
        make_pod("in", DB, affinity=affinity(required=[term(ZONE, selector=False)])),
        {},
        {"n1": AFF, "n2": AFF, "n3": AFF},
        id="nil-label-selector-matches-nothing",
    ),
]


@pytest.mark.parametrize(("nodes", "pods", "pod", "ns_labels", "expected"), FILTER_CASES)
def test_filter(
    nodes: list[Node],
    pods: list[PodInfo],
    pod: PodInfo,
    ns_labels: dict[str, dict[str, str]],
    expected: str | dict[str, str | None],
) -> None:
    snap = cluster(nodes, pods)
    plugin = build(snap, namespace_labels=ns_labels)
    status, per_node = run_filter(plugin, snap, pod)
    if expected == "skip":
        assert status is not None and status.code == Code.SKIP
        return
    assert status is None
    assert isinstance(expected, dict)
    got = {name: (None if s is None else s.reasons) for name, s in per_node.items()}
    assert got == {name: (None if r is None else (r,)) for name, r in expected.items()}
    for name, reason in expected.items():
        if reason is not None:
            assert code(per_node[name]) == CODE_OF_REASON[reason]


def test_invalid_selector_is_unresolvable() -> None:
    snap = cluster(ZONED, [])
    bad = term(ZONE, expressions=[{"key": "app", "operator": "In", "values": []}])
    pod = make_pod("in", WEB, affinity=affinity(required=[bad]))
    status, _ = run_filter(build(snap), snap, pod)
    assert status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons[0].startswith("parsing pod: requiredAffinityTerms")


def test_existing_pod_with_invalid_selector_is_ignored() -> None:
    bad = term(HOST, expressions=[{"key": "app", "operator": "Exists", "values": ["x"]}])
    snap = cluster(ZONED, [make_pod("w1", WEB, "n1", affinity=affinity(anti=[bad]))])
    status, _ = run_filter(build(snap), snap, make_pod("in", WEB))
    assert status is not None and status.code == Code.SKIP


# -- PreFilter extensions (preemption) ------------------------------------------------------


def extension_cluster() -> tuple[list[Node], list[PodInfo], PodInfo]:
    nodes = [*ZONED, make_node("n4", "b"), make_node("n5")]
    anti_web = affinity(anti=[term(ZONE, app="web")])
    pods = [
        make_pod("d1", DB, "n1"),
        make_pod("d2", DB, "n3"),
        make_pod("w1", WEB, "n2"),
        make_pod("x1", {"app": "x"}, "n4", affinity=anti_web),
        make_pod("x2", {"app": "x"}, "n5", affinity=anti_web),
        make_pod("x3", {"app": "x"}, "n1", affinity=affinity(anti=[term(HOST, app="web")])),
    ]
    incoming = make_pod(
        "in", WEB, affinity=affinity(required=[term(ZONE, app="db")], anti=[term(HOST, app="web")])
    )
    return nodes, pods, incoming


def dump(s: PreFilterState) -> tuple[dict[tuple[str, str], int], ...]:
    return s.existing_anti_affinity.pairs(), s.affinity.pairs(), s.anti_affinity.pairs()


def fresh_state(snap: ClusterSnapshot, pod: PodInfo) -> tuple[PreFilterState, list[int]]:
    plugin = build(snap)
    state = CycleState()
    assert plugin.pre_filter(state, pod, snap.all_nodes()) == (None, None)
    codes = plugin.filter_nodes(state, pod, snap.all_nodes()).tolist()
    return state.read(PRE_FILTER_STATE_KEY), codes


@pytest.mark.parametrize("victim", ["d1", "d2", "w1", "x1", "x2", "x3"])
def test_add_remove_pod_match_fresh_pre_filter(victim: str) -> None:
    nodes, pods, incoming = extension_cluster()
    snap = cluster(nodes, pods)
    plugin = build(snap)
    full_state = CycleState()
    assert plugin.pre_filter(full_state, incoming, snap.all_nodes()) == (None, None)
    full_codes = plugin.filter_nodes(full_state, incoming, snap.all_nodes()).tolist()

    p = next(p for p in pods if p.name == victim)
    node = snap[p.node_name]
    removed = full_state.clone()
    snap.remove_pod(p)
    assert plugin.remove_pod(removed, incoming, p, node) is None
    fresh, fresh_codes = fresh_state(snap, incoming)
    assert dump(removed.read(PRE_FILTER_STATE_KEY)) == dump(fresh)
    assert plugin.filter_nodes(removed, incoming, snap.all_nodes()).tolist() == fresh_codes
    assert [code(plugin.filter(removed, incoming, ni)) for ni in snap.nodes] == fresh_codes

    snap.add_pod(p, node.name)
    assert plugin.add_pod(removed, incoming, p, node) is None
    assert dump(removed.read(PRE_FILTER_STATE_KEY)) == dump(full_state.read(PRE_FILTER_STATE_KEY))
    assert plugin.filter_nodes(removed, incoming, snap.all_nodes()).tolist() == full_codes


def test_clone_is_independent() -> None:
    nodes, pods, incoming = extension_cluster()
    snap = cluster(nodes, pods)
    plugin = build(snap)
    state = CycleState()
    plugin.pre_filter(state, incoming, snap.all_nodes())
    before = dump(state.read(PRE_FILTER_STATE_KEY))
    copy = state.clone()
    plugin.remove_pod(copy, incoming, pods[0], snap[pods[0].node_name])
    assert dump(state.read(PRE_FILTER_STATE_KEY)) == before
    assert dump(copy.read(PRE_FILTER_STATE_KEY)) != before


def preemption_framework(snap: ClusterSnapshot) -> Framework:
    """A real Framework running NodeResourcesFit and InterPodAffinity."""
    handle = Handle(snapshot=snap, client=SimpleNamespace(pdbs=list))
    factories = {names.NODE_RESOURCES_FIT: fit.new, ipa.NAME: ipa.new}
    profile = SimpleNamespace(
        scheduler_name="default-scheduler",
        percentage_of_nodes_to_score=None,
        points={
            ExtensionPoint.PRE_FILTER: [(names.NODE_RESOURCES_FIT, None), (ipa.NAME, None)],
            ExtensionPoint.FILTER: [(names.NODE_RESOURCES_FIT, None), (ipa.NAME, None)],
        },
        args={},
    )
    registry = {name: SimpleNamespace(factory=f) for name, f in factories.items()}
    return Framework(cast(Any, profile), cast(Any, registry), handle)


def test_preemption_dry_run_evicts_pod_blocking_anti_affinity() -> None:
    snap = cluster(
        [make_node("n1", "a")],
        [make_pod("low-web", WEB, "n1"), make_pod("low-other", {"app": "x"}, "n1")],
    )
    fwk = preemption_framework(snap)
    incoming = make_pod(
        "high", {"app": "x2"}, priority=10, affinity=affinity(anti=[term(HOST, app="web")])
    )
    state = CycleState()
    _, status = fwk.run_pre_filter(state, incoming)
    assert status is None
    blocked = fwk.run_filters_on_node(state, incoming, snap["n1"])
    assert blocked is not None and blocked.reasons == (ANTI,)
    victims, _, status = select_victims_on_node(fwk, state.clone(), incoming, snap["n1"], [])
    assert status is None
    assert [v.name for v in victims] == ["low-web"]


def test_affinity_failure_is_not_resolvable_by_preemption() -> None:
    snap = cluster([make_node("n1", "a"), make_node("n2", "b")], [make_pod("d", DB, "n2")])
    fwk = preemption_framework(snap)
    incoming = make_pod(
        "high", WEB, priority=10, affinity=affinity(required=[term(ZONE, app="db")])
    )
    state = CycleState()
    fwk.run_pre_filter(state, incoming)
    outcome = fwk.find_feasible(state, incoming)
    assert [snap.nodes[i].name for i in outcome.feasible.tolist()] == ["n2"]
    status = outcome.statuses.get("n1")
    assert status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (AFF,)


# -- PreScore / Score / NormalizeScore ------------------------------------------------------

THREE_ZONES = [make_node("n1", "a"), make_node("n2", "b"), make_node("n3", "c")]

SCORE_CASES = [
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1")],
        make_pod("in", WEB),
        {},
        "skip",
        None,
        id="no-affinity-skips",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1"), make_pod("c1", {"app": "cache"}, "n2")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(preferred=[(5, term(ZONE, app="db")), (3, term(ZONE, app="cache"))]),
        ),
        {},
        [5, 3, 0],
        [100, 60, 0],
        id="preferred-weights-order-nodes",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1"), make_pod("d2", DB, "n1"), make_pod("d3", DB, "n2")],
        make_pod("in", WEB, affinity=affinity(preferred=[(2, term(ZONE, app="db"))])),
        {},
        [4, 2, 0],
        [100, 50, 0],
        id="preferred-counts-every-matching-pod",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1"), make_pod("w1", WEB, "n2")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(
                preferred=[(5, term(ZONE, app="db"))], preferred_anti=[(3, term(ZONE, app="web"))]
            ),
        ),
        {},
        [5, -3, 0],
        [100, 0, 37],
        id="preferred-anti-affinity-subtracts",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1", affinity=affinity(required=[term(ZONE, app="web")]))],
        make_pod("in", WEB),
        {},
        [1, 0, 0],
        [100, 0, 0],
        id="existing-required-affinity-default-hard-weight",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1", affinity=affinity(required=[term(ZONE, app="web")]))],
        make_pod("in", WEB),
        {"hardPodAffinityWeight": 7},
        [7, 0, 0],
        [100, 0, 0],
        id="existing-required-affinity-hard-weight-7",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1", affinity=affinity(required=[term(ZONE, app="web")]))],
        make_pod("in", WEB),
        {"hardPodAffinityWeight": 0},
        "skip",
        None,
        id="hard-weight-0-ignores-existing-required",
    ),
    pytest.param(
        THREE_ZONES,
        [
            make_pod("d1", DB, "n1", affinity=affinity(preferred=[(4, term(ZONE, app="web"))])),
            make_pod(
                "d2", DB, "n2", affinity=affinity(preferred_anti=[(6, term(ZONE, app="web"))])
            ),
        ],
        make_pod("in", WEB),
        {},
        [4, -6, 0],
        [100, 0, 60],
        id="existing-preferred-terms-apply-to-incoming",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1", affinity=affinity(preferred=[(4, term(ZONE, app="web"))]))],
        make_pod("in", WEB),
        {"ignorePreferredTermsOfExistingPods": True},
        "skip",
        None,
        id="ignore-preferred-terms-of-existing-pods",
    ),
    pytest.param(
        THREE_ZONES,
        [
            make_pod("d1", DB, "n1", affinity=affinity(preferred=[(4, term(ZONE, app="web"))])),
            make_pod("d2", DB, "n2"),
        ],
        make_pod("in", WEB, affinity=affinity(preferred=[(1, term(ZONE, app="db"))])),
        {"ignorePreferredTermsOfExistingPods": True},
        [5, 1, 0],
        [100, 20, 0],
        id="ignore-flag-only-when-incoming-has-no-preferred",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1", namespace="other")],
        make_pod("in", WEB, affinity=affinity(preferred=[(5, term(ZONE, app="db"))])),
        {},
        "skip",
        None,
        id="preferred-other-namespace-does-not-count",
    ),
    pytest.param(
        [make_node("n1", "a"), make_node("n2", "a"), make_node("n3")],
        [make_pod("d1", DB, "n1")],
        make_pod("in", WEB, affinity=affinity(preferred=[(5, term(ZONE, app="db"))])),
        {},
        [5, 5, 0],
        [100, 100, 0],
        id="whole-zone-scores-node-without-key-zero",
    ),
    pytest.param(
        THREE_ZONES,
        [make_pod("d1", DB, "n1"), make_pod("w1", WEB, "n1")],
        make_pod(
            "in",
            WEB,
            affinity=affinity(
                preferred=[(3, term(ZONE, app="db"))], preferred_anti=[(3, term(ZONE, app="web"))]
            ),
        ),
        {},
        [0, 0, 0],
        [0, 0, 0],
        id="cancelling-terms-score-zero-without-skip",
    ),
]


@pytest.mark.parametrize(("nodes", "pods", "pod", "args", "raw", "normalized"), SCORE_CASES)
def test_score(
    nodes: list[Node],
    pods: list[PodInfo],
    pod: PodInfo,
    args: dict[str, Any],
    raw: str | list[int],
    normalized: list[int] | None,
) -> None:
    snap = cluster(nodes, pods)
    status, got_raw, got = run_score(build(snap, args), snap, pod)
    if raw == "skip":
        assert status is not None and status.code == Code.SKIP
        return
    assert status is None
    assert got_raw == raw
    assert got == normalized


def test_pre_score_skips_without_nodes() -> None:
    snap = cluster(THREE_ZONES, [make_pod("d1", DB, "n1")])
    plugin = build(snap)
    pod = make_pod("in", WEB, affinity=affinity(preferred=[(5, term(ZONE, app="db"))]))
    empty = snap.node_set(np.array([], dtype=np.intp))
    status = plugin.pre_score(CycleState(), pod, empty)
    assert status is not None and status.code == Code.SKIP


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param([-3, 0, 7], [0, 30, 100], id="negative-to-positive"),
        pytest.param([1, 2, 4], [0, 33, 100], id="truncates"),
        pytest.param([5, 5], [0, 0], id="equal-scores-are-zero"),
        pytest.param([], [], id="empty"),
    ],
)
def test_normalize(raw: list[int], expected: list[int]) -> None:
    scores = np.array(raw, dtype=np.int64)
    normalize(scores)
    assert scores.tolist() == expected


# -- queueing hints ----------------------------------------------------------------------


def test_pod_change_hints() -> None:
    plugin = build(ClusterSnapshot())
    target = make_pod(
        "t", WEB, affinity=affinity(required=[term(ZONE, app="db")], anti=[term(HOST, app="x")])
    )
    pod_hint = plugin.events_to_register()[0].hint
    assert pod_hint is not None
    assert pod_hint(target, None, make_pod("d", DB, "n1")) is QueueingHint.QUEUE
    assert pod_hint(target, None, make_pod("w", WEB, "n1")) is QueueingHint.QUEUE_SKIP
    assert pod_hint(target, None, make_pod("d", DB)) is QueueingHint.QUEUE_SKIP  # unscheduled
    assert pod_hint(target, make_pod("x", {"app": "x"}, "n1"), None) is QueueingHint.QUEUE
    assert pod_hint(target, make_pod("w", WEB, "n1"), None) is QueueingHint.QUEUE_SKIP
    relabelled = (make_pod("p", WEB, "n1"), make_pod("p", DB, "n1"))
    assert pod_hint(target, *relabelled) is QueueingHint.QUEUE
    assert pod_hint(target, *relabelled[::-1]) is QueueingHint.QUEUE_SKIP
    assert ASSIGNED_POD_ADD.resource is EventResource.ASSIGNED_POD
    assert plugin.events_to_register()[0].event.matches(ASSIGNED_POD_DELETE)


def test_node_change_hints() -> None:
    plugin = build(ClusterSnapshot())
    node_hint = plugin.events_to_register()[1].hint
    assert node_hint is not None
    target = make_pod("t", WEB, affinity=affinity(required=[term(ZONE, app="db")]))
    assert node_hint(target, None, make_node("n1", "a")) is QueueingHint.QUEUE
    assert node_hint(target, None, make_node("n1")) is QueueingHint.QUEUE_SKIP
    assert node_hint(target, None, None) is QueueingHint.QUEUE
    assert plugin.events_to_register()[1].event.matches(NODE_ADD)


# -- random clusters: both forms and a brute-force reading of the rules agree --------------------

_KEYS = (HOST, ZONE, "rack")


def random_cluster(
    seed: int,
) -> tuple[ClusterSnapshot, list[PodInfo], list[PodInfo], dict[str, Any]]:
    rng = np.random.default_rng(seed)
    nodes = []
    for i in range(int(rng.integers(3, 9))):
        labels: dict[str, str] = {}
        if rng.random() < 0.8:
            labels[ZONE] = f"z{rng.integers(0, 3)}"
        if rng.random() < 0.6:
            labels["rack"] = f"r{rng.integers(0, 4)}"
        nodes.append(
            Node.model_validate(
                {
                    "metadata": {"name": f"n{i}", "labels": {HOST: f"n{i}", **labels}},
                    "status": {"allocatable": {"cpu": "64", "memory": "64Gi", "pods": "110"}},
                }
            )
        )
    apps = ["a", "b", "c"]
    namespaces = ["default", "ns1"]

    def random_term() -> dict[str, Any]:
        kw: dict[str, Any] = {"app": str(rng.choice(apps))}
        roll = rng.random()
        if roll < 0.15:
            kw["namespaces"] = ["ns1"]
        elif roll < 0.25:
            kw["ns_selector"] = {}
        elif roll < 0.35:
            kw["ns_selector"] = {"matchLabels": {"team": "t"}}
        return term(str(rng.choice(_KEYS)), **kw)

    def random_affinity() -> dict[str, Any] | None:
        if rng.random() < 0.4:
            return None
        parts: dict[str, Any] = {}
        if rng.random() < 0.4:
            parts["required"] = [random_term() for _ in range(int(rng.integers(1, 3)))]
        if rng.random() < 0.4:
            parts["anti"] = [random_term() for _ in range(int(rng.integers(1, 3)))]
        if rng.random() < 0.5:
            parts["preferred"] = [
                (int(rng.integers(1, 101)), random_term()) for _ in range(int(rng.integers(1, 3)))
            ]
        if rng.random() < 0.5:
            parts["preferred_anti"] = [
                (int(rng.integers(1, 101)), random_term()) for _ in range(int(rng.integers(1, 3)))
            ]
        return affinity(**parts) if parts else None

    def random_pod(name: str, node: str = "") -> PodInfo:
        return make_pod(
            name,
            {"app": str(rng.choice(apps))},
            node,
            namespace=str(rng.choice(namespaces)),
            affinity=random_affinity(),
        )

    pods = [
        random_pod(f"p{j}", f"n{rng.integers(0, len(nodes))}")
        for j in range(int(rng.integers(0, 14)))
    ]
    incoming = [random_pod(f"in{k}") for k in range(6)]
    args = {"hardPodAffinityWeight": int(rng.integers(0, 4))}
    return cluster(nodes, pods), pods, incoming, args


NS_LABELS = {"ns1": {"team": "t"}}


def brute_force_filter(snap: ClusterSnapshot, pod: PodInfo, node: NodeInfo) -> int:
    """The filter rules read directly off their definitions, pod by pod."""
    terms = pod_terms(pod)
    labels = node.labels

    def same_domain(key: str, other: NodeInfo) -> bool:
        return key in labels and other.labels.get(key) == labels[key]

    existing = [(p, ni) for ni in snap.nodes for p in ni.pods.values()]
    aff = terms.required_affinity
    if aff:
        if any(t.topology_key not in labels for t in aff):
            return Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        all_match = [(p, ni) for p, ni in existing if matches_all(aff, p, NS_LABELS)]
        satisfied = all(any(same_domain(t.topology_key, ni) for _, ni in all_match) for t in aff)
        # Upstream asks whether its count map is empty: matching pods on nodes without
        # the topology labels are not counted, so they leave the first-pod rule open.
        counted = any(t.topology_key in ni.labels for _, ni in all_match for t in aff)
        first = not counted and matches_all(aff, pod, NS_LABELS)
        if not (satisfied or first):
            return Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    for t in terms.required_anti_affinity:
        if any(t.matches(p, NS_LABELS) and same_domain(t.topology_key, ni) for p, ni in existing):
            return Code.UNSCHEDULABLE
    for p, ni in existing:
        for t in pod_terms(p).required_anti_affinity:
            if t.matches(pod, NS_LABELS) and same_domain(t.topology_key, ni):
                return Code.UNSCHEDULABLE
    return Code.SUCCESS


def brute_force_score(snap: ClusterSnapshot, pod: PodInfo, node: NodeInfo, hard: int) -> int:
    terms = pod_terms(pod)
    labels = node.labels
    total = 0
    for ni in snap.nodes:
        for p in ni.pods.values():
            mine = pod_terms(p)
            weighted = [
                *((w.term, w.weight, p) for w in terms.preferred_affinity),
                *((w.term, -w.weight, p) for w in terms.preferred_anti_affinity),
                *((t, hard, pod) for t in mine.required_affinity if hard > 0),
                *((w.term, w.weight, pod) for w in mine.preferred_affinity),
                *((w.term, -w.weight, pod) for w in mine.preferred_anti_affinity),
            ]
            for t, weight, target in weighted:
                key = t.topology_key
                if key in labels and ni.labels.get(key) == labels[key]:
                    total += weight if t.matches(target, NS_LABELS) else 0
    return total


@pytest.mark.parametrize("seed", range(40))
def test_random_clusters_agree(seed: int) -> None:
    snap, _, incoming, args = random_cluster(seed)
    plugin = build(snap, args, NS_LABELS)
    for pod in incoming:
        status, per_node = run_filter(plugin, snap, pod)
        expected = [brute_force_filter(snap, pod, ni) for ni in snap.nodes]
        if status is not None:
            assert status.code == Code.SKIP
            assert not any(expected), f"skipped, but brute force rejects: {expected}"
        else:
            assert [code(s) for s in per_node.values()] == expected
        status, raw, scores = run_score(plugin, snap, pod)
        hard = args["hardPodAffinityWeight"]
        brute = [brute_force_score(snap, pod, ni, hard) for ni in snap.nodes]
        if status is not None:
            assert status.code == Code.SKIP
            assert not any(brute)
        else:
            assert raw == brute
            assert all(0 <= s <= 100 for s in scores)


@pytest.mark.parametrize("seed", range(20))
def test_random_add_remove_consistency(seed: int) -> None:
    snap, pods, incoming, args = random_cluster(seed)
    plugin = build(snap, args, NS_LABELS)
    for pod in incoming:
        state = CycleState()
        _, status = plugin.pre_filter(state, pod, snap.all_nodes())
        if status is not None:
            continue
        for p in pods:
            node = snap[p.node_name]
            copy = state.clone()
            snap.remove_pod(p)
            plugin.remove_pod(copy, pod, p, node)
            fresh = CycleState()
            _, fresh_status = plugin.pre_filter(fresh, pod, snap.all_nodes())
            got = dump(copy.read(PRE_FILTER_STATE_KEY))
            if fresh_status is None:
                assert got == dump(fresh.read(PRE_FILTER_STATE_KEY))
            else:
                assert fresh_status.code == Code.SKIP and not any(got)
            snap.add_pod(p, node.name)
            plugin.add_pod(copy, pod, p, node)
            assert dump(copy.read(PRE_FILTER_STATE_KEY)) == dump(state.read(PRE_FILTER_STATE_KEY))


def test_score_state_missing_is_an_error() -> None:
    snap = cluster(THREE_ZONES, [])
    plugin = build(snap)
    with pytest.raises(KeyError, match=PRE_SCORE_STATE_KEY):
        plugin.score(CycleState(), make_pod("in", WEB), snap.nodes[0])


def test_pod_index_follows_node_churn() -> None:
    """A plugin kept across snapshot changes answers as a freshly built one."""
    snap = cluster(ZONED, [make_pod("d1", DB, "n1"), make_pod("d2", DB, "n3")])
    plugin = build(snap)
    incoming = make_pod("in", WEB, affinity=affinity(required=[term(ZONE, app="db")]))

    def answers(p: ipa.InterPodAffinity) -> dict[str, int]:
        _, per_node = run_filter(p, snap, incoming)
        return {name: code(s) for name, s in per_node.items()}

    assert answers(plugin) == {"n1": 0, "n2": 0, "n3": 0}
    snap.remove_node("n1")
    assert answers(plugin) == answers(build(snap)) == {"n2": 3, "n3": 0}
    snap.add_node(make_node("n1", "a"))
    snap.remove_pod(next(iter(snap["n3"].pods.values())))
    snap.add_pod(make_pod("d3", DB, "n1"), "n1")
    assert answers(plugin) == answers(build(snap)) == {"n2": 0, "n3": 3, "n1": 0}
