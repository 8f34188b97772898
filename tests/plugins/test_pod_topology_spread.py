"""PodTopologySpread against kube-scheduler's behaviour and its unit-test cases.

Filter cases follow the documented rule (``count + selfMatch - globalMin <=
maxSkew``); score cases are upstream's scoring_test.go tables, rewritten.
Every case runs the per-node and the vectorised forms and requires them to
agree (``run_filter``/``run_score`` and ``_scores`` assert it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ksched.api import LabelSelector, Node, Pod
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, EventResource, QueueingHint
from ksched.framework.handle import Handle
from ksched.framework.plugins.podtopologyspread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    NAME,
    SELECTOR_FOR_KEY,
    Args,
    PodTopologySpread,
    new,
)
from ksched.framework.plugins.podtopologyspread.filtering import (
    PRE_FILTER_STATE_KEY,
    PreFilterState,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.framework.status import SKIP, Code
from ksched.scheduler import Scheduler
from ksched.testing.builders import (
    make_node,
    make_pod,
    make_pod_info,
    make_snapshot,
    node_affinity,
    requirement,
    run_filter,
    run_score,
    term,
)

JSON = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
OK, U, R = Code.SUCCESS, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE
WEB = {"app": "web"}
WEB_SELECTOR: JSON = {"matchLabels": {"app": "web"}}
FOO: JSON = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR: JSON = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}
UNSET = object()


# -- builders ---------------------------------------------------------------------------------
def node(
    name: str,
    zone: str | None = None,
    *,
    hostname: bool = True,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[str] = (),
) -> Node:
    """A node labelled with its hostname (unless ``hostname=False``) and ``zone``."""
    all_labels = {HOST: name} if hostname else {}
    if zone is not None:
        all_labels[ZONE] = zone
    all_labels.update(labels or {})
    return make_node(name, labels=all_labels, taints=taints)


def bound(
    name: str,
    node_name: str,
    labels: Mapping[str, str] = WEB,
    *,
    namespace: str = "default",
    terminating: bool = False,
) -> Pod:
    pod = make_pod(name, labels=labels, node_name=node_name, namespace=namespace)
    if terminating:
        meta = pod.metadata.model_copy(update={"deletion_timestamp": "2024-01-01T00:00:00Z"})
        pod = pod.model_copy(update={"metadata": meta})
    return pod


def many(
    count: int, node_name: str, labels: Mapping[str, str] = WEB, prefix: str = ""
) -> list[Pod]:
    return [bound(f"{prefix or node_name}-{i}", node_name, labels) for i in range(count)]


def spread(
    max_skew: int = 1,
    key: str = ZONE,
    when: str = "DoNotSchedule",
    selector: JSON | object | None = UNSET,
    **extra: Any,
) -> JSON:
    """A TopologySpreadConstraint in JSON; the selector defaults to ``app=web``."""
    out: JSON = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when}
    chosen = WEB_SELECTOR if selector is UNSET else selector
    if chosen is not None:
        out["labelSelector"] = chosen
    out.update(extra)
    return out


def soft(max_skew: int = 1, key: str = ZONE, selector: JSON | None = FOO, **extra: Any) -> JSON:
    return spread(max_skew, key, "ScheduleAnyway", selector, **extra)


def incoming(
    *constraints: JSON, labels: Mapping[str, str] = WEB, name: str = "incoming", **kw: Any
) -> PodInfo:
    spec: JSON = {"topologySpreadConstraints": list(constraints)} if constraints else {}
    return make_pod_info(name, labels=labels, **spec, **kw)


def plugin(
    snap: ClusterSnapshot,
    args: JSON | None = None,
    selector_for: Callable[[Pod], LabelSelector | None] | None = None,
) -> PodTopologySpread:
    """Built through the real factory, with the workload-selector hook when given."""
    handle = Handle(snapshot=snap)
    if selector_for is not None:
        handle.extra[SELECTOR_FOR_KEY] = selector_for
    return new(None if args is None else Args.model_validate(args), handle)


def selects(selector: JSON | None) -> Callable[[Pod], LabelSelector | None]:
    parsed = None if selector is None else LabelSelector.model_validate(selector)
    return lambda pod: parsed


def filter_codes(pl: PodTopologySpread, pod: PodInfo, snap: ClusterSnapshot) -> dict[str, Code]:
    run = run_filter(pl, pod, snap)  # asserts per-node == vectorised (all nodes and a subset)
    assert run.pre_filter_status is None, run.pre_filter_status
    return run.codes


ZONES3 = [node("a1", "a"), node("a2", "a"), node("b1", "b")]


# -- Filter -----------------------------------------------------------------------------------
FILTER_CASES = [
    pytest.param(
        ZONES3,
        many(1, "a1"),
        incoming(spread()),
        {"a1": U, "a2": U, "b1": OK},
        id="max-skew-1-only-the-lighter-zone",
    ),
    pytest.param(
        ZONES3,
        many(1, "a1") + many(1, "b1"),
        incoming(spread()),
        {"a1": OK, "a2": OK, "b1": OK},
        id="balanced-zones-all-pass",
    ),
    pytest.param(
        ZONES3, many(2, "a1"), incoming(spread(2)), {"a1": U, "a2": U, "b1": OK}, id="max-skew-2"
    ),
    pytest.param(
        ZONES3,
        many(1, "a1"),
        incoming(spread(2)),
        {"a1": OK, "a2": OK, "b1": OK},
        id="max-skew-2-tolerates-one",
    ),
    pytest.param(
        ZONES3,
        many(1, "a1"),
        incoming(spread(), labels={"app": "db"}),
        {"a1": OK, "a2": OK, "b1": OK},
        id="no-self-match-when-pod-not-selected",
    ),
    pytest.param(
        [*ZONES3, node("c1")],
        many(1, "a1") + many(3, "c1"),
        incoming(spread()),
        {"a1": U, "a2": U, "b1": OK, "c1": R},
        id="missing-topology-label-unresolvable",
    ),
    pytest.param(
        ZONES3[::2],
        many(1, "a1") + many(1, "b1"),
        incoming(spread(minDomains=3)),
        {"a1": U, "b1": U},
        id="min-domains-above-domains-global-min-0",
    ),
    pytest.param(
        ZONES3[::2],
        many(1, "a1") + many(1, "b1"),
        incoming(spread(minDomains=2)),
        {"a1": OK, "b1": OK},
        id="min-domains-met-real-global-min",
    ),
    pytest.param(
        ZONES3,
        [
            bound("other-ns", "a1", namespace="other"),
            bound("leaving", "a1", terminating=True),
            bound("w", "b1"),
        ],
        incoming(spread()),
        {"a1": OK, "a2": OK, "b1": U},
        id="other-namespace-and-terminating-pods-not-counted",
    ),
    pytest.param(
        [node("h1", "x"), node("h2", "x"), node("h3", "x")],
        many(2, "h1") + many(1, "h2"),
        incoming(spread(key=HOST)),
        {"h1": U, "h2": U, "h3": OK},
        id="hostname-spread",
    ),
    pytest.param(
        [node("a", "a"), node("b", "b"), node("c", "c")],
        many(2, "a") + many(1, "b") + many(3, "c"),
        incoming(spread()),
        {"a": U, "b": OK, "c": U},
        id="global-min-is-least-matching-domain",
    ),
    pytest.param(
        [node("a1", "a"), node("a2", "a", hostname=False), node("b1", "b")],
        many(1, "a1"),
        incoming(spread(), spread(key=HOST)),
        {"a1": U, "a2": U, "b1": OK},
        id="first-failing-constraint-decides-zone-first",
    ),
    pytest.param(
        [node("a1", "a"), node("a2", "a", hostname=False), node("b1", "b")],
        many(1, "a1"),
        incoming(spread(key=HOST), spread()),
        {"a1": U, "a2": R, "b1": OK},
        id="first-failing-constraint-decides-hostname-first",
    ),
    pytest.param(
        ZONES3,
        many(2, "a1", {"app": "web", "version": "1"}),
        incoming(spread(matchLabelKeys=["version"]), labels={"app": "web", "version": "2"}),
        {"a1": OK, "a2": OK, "b1": OK},
        id="match-label-keys-count-only-own-revision",
    ),
    pytest.param(
        ZONES3,
        many(2, "a1", {"app": "web", "version": "2"}),
        incoming(spread(matchLabelKeys=["version"]), labels={"app": "web", "version": "2"}),
        {"a1": U, "a2": U, "b1": OK},
        id="match-label-keys-same-revision-counts",
    ),
    pytest.param(
        ZONES3,
        many(2, "a1", {"version": "2"}),
        incoming(
            spread(selector=None, matchLabelKeys=["version"]), labels={"app": "web", "version": "2"}
        ),
        {"a1": U, "a2": U, "b1": OK},
        id="match-label-keys-alone-with-nil-selector",
    ),
    pytest.param(
        ZONES3,
        many(3, "a1"),
        incoming(spread(selector=None)),
        {"a1": OK, "a2": OK, "b1": OK},
        id="nil-selector-selects-nothing",
    ),
    pytest.param(
        ZONES3,
        many(1, "a1"),
        incoming(spread(selector={})),
        {"a1": U, "a2": U, "b1": OK},
        id="empty-selector-selects-everything",
    ),
    pytest.param(
        [node("a1", "a", labels={"disk": "ssd"}), node("b1", "b")],
        many(2, "a1"),
        incoming(spread(), node_selector={"disk": "ssd"}),
        {"a1": OK, "b1": OK},
        id="node-affinity-policy-honor-node-selector",
    ),
    pytest.param(
        [node("a1", "a", labels={"disk": "ssd"}), node("b1", "b")],
        many(2, "a1"),
        incoming(spread(), affinity=node_affinity([term(requirement("disk", "In", "ssd"))])),
        {"a1": OK, "b1": OK},
        id="node-affinity-policy-honor-required-affinity",
    ),
    pytest.param(
        [node("a1", "a", labels={"disk": "ssd"}), node("b1", "b")],
        many(2, "a1"),
        incoming(spread(nodeAffinityPolicy="Ignore"), node_selector={"disk": "ssd"}),
        {"a1": U, "b1": OK},
        id="node-affinity-policy-ignore",
    ),
    pytest.param(
        [node("a1", "a"), node("b1", "b", taints=["dedicated=gpu:NoSchedule"])],
        many(2, "a1"),
        incoming(spread(nodeTaintsPolicy="Honor")),
        {"a1": OK, "b1": OK},
        id="node-taints-policy-honor",
    ),
    pytest.param(
        [node("a1", "a"), node("b1", "b", taints=["dedicated=gpu:NoSchedule"])],
        many(2, "a1"),
        incoming(spread()),
        {"a1": U, "b1": OK},
        id="node-taints-policy-ignore-by-default",
    ),
    pytest.param(
        [node("a1", "a"), node("b1", "b", taints=["dedicated=gpu:NoSchedule"])],
        many(2, "a1"),
        incoming(
            spread(nodeTaintsPolicy="Honor"),
            tolerations=[{"key": "dedicated", "operator": "Exists"}],
        ),
        {"a1": U, "b1": OK},
        id="node-taints-policy-honor-tolerated-taint-counts",
    ),
    pytest.param(
        [node("a1", "a"), node("b1", "b", taints=["spot:PreferNoSchedule"])],
        many(2, "a1"),
        incoming(spread(nodeTaintsPolicy="Honor")),
        {"a1": U, "b1": OK},
        id="node-taints-policy-honor-ignores-prefer-no-schedule",
    ),
]


@pytest.mark.parametrize(("nodes", "pods", "pod", "expected"), FILTER_CASES)
def test_filter(
    nodes: list[Node], pods: list[Pod], pod: PodInfo, expected: dict[str, Code]
) -> None:
    snap = make_snapshot(nodes, pods)
    assert filter_codes(plugin(snap), pod, snap) == expected


def test_filter_reasons_are_upstreams() -> None:
    snap = make_snapshot([*ZONES3, node("c1")], many(1, "a1"))
    run = run_filter(plugin(snap), incoming(spread()), snap)
    assert run.statuses["a1"] is not None
    assert run.statuses["a1"].reasons == (ERR_REASON_CONSTRAINTS_NOT_MATCH,)
    assert run.statuses["c1"] is not None
    assert run.statuses["c1"].reasons == (ERR_REASON_NODE_LABEL_NOT_MATCH,)
    assert ERR_REASON_NODE_LABEL_NOT_MATCH == (
        "node(s) didn't match pod topology spread constraints (missing required label)"
    )


@pytest.mark.parametrize(
    ("pod", "args", "selector_for", "expected"),
    [
        pytest.param(incoming(), None, None, Code.SKIP, id="no-constraints-system-defaults-skip"),
        pytest.param(incoming(soft()), None, None, Code.SKIP, id="only-schedule-anyway-skips"),
        pytest.param(
            incoming(spread(selector={"matchExpressions": [{"key": "app", "operator": "Bogus"}]})),
            None,
            None,
            Code.ERROR,
            id="unparsable-selector-errors",
        ),
        pytest.param(
            incoming(),
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                ],
            },
            None,
            Code.SKIP,
            id="list-defaults-without-workload-hook-skip",
        ),
        pytest.param(
            incoming(),
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                ],
            },
            selects(None),
            Code.SKIP,
            id="list-defaults-pod-without-workload-skip",
        ),
        pytest.param(
            incoming(),
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                ],
            },
            selects({}),
            Code.SKIP,
            id="list-defaults-empty-workload-selector-skip",
        ),
        pytest.param(
            incoming(soft()),
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                ],
            },
            selects(WEB_SELECTOR),
            Code.SKIP,
            id="own-constraints-replace-defaults",
        ),
    ],
)
def test_pre_filter_status(
    pod: PodInfo,
    args: JSON | None,
    selector_for: Callable[[Pod], LabelSelector | None] | None,
    expected: Code,
) -> None:
    snap = make_snapshot(ZONES3)
    _, status = plugin(snap, args, selector_for).pre_filter(CycleState(), pod, snap.all_nodes())
    assert status is not None and status.code == expected


def test_list_default_constraints_use_the_workload_selector() -> None:
    snap = make_snapshot(ZONES3, many(1, "a1"))
    args = {
        "defaultingType": "List",
        "defaultConstraints": [
            {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
        ],
    }
    pl = plugin(snap, args, selects(WEB_SELECTOR))
    assert filter_codes(pl, incoming(), snap) == {"a1": U, "a2": U, "b1": OK}


# -- PreFilter extensions (preemption) -----------------------------------------------------
def _extension_cluster() -> tuple[ClusterSnapshot, PodInfo]:
    nodes = [
        node("a1", "a", labels={"disk": "ssd"}),
        node("a2", "a", labels={"disk": "ssd"}),
        node("b1", "b", labels={"disk": "ssd"}),
        node("c1", "c"),
    ]
    pods = [
        *many(2, "a1"),
        bound("web-b", "b1"),
        bound("web-c", "c1"),
        bound("db-a2", "a2", {"app": "db"}),
        bound("web-other-ns", "b1", namespace="other"),
    ]
    return make_snapshot(nodes, pods), incoming(
        spread(), spread(key=HOST), node_selector={"disk": "ssd"}
    )


def _state(pl: PodTopologySpread, pod: PodInfo, snap: ClusterSnapshot) -> CycleState:
    state = CycleState()
    _, status = pl.pre_filter(state, pod, snap.all_nodes())
    assert status is None
    return state


def _summary(state: CycleState, pl: PodTopologySpread, pod: PodInfo, snap: ClusterSnapshot) -> Any:
    """Domain counts, domain presence, and both forms' verdicts on every node."""
    s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
    per_node = [
        0 if (st_ := pl.filter(state, pod, n)) is None else int(st_.code) for n in snap.nodes
    ]
    vector = pl.filter_nodes(state, pod, snap.all_nodes()).tolist()
    assert per_node == vector
    return (
        [c.tolist() for c in s.domain_counts],
        [p.tolist() for p in s.present],
        per_node,
    )


@pytest.mark.parametrize(
    ("victim", "node_name"),
    [
        pytest.param("default/a1-0", "a1", id="matching-pod"),
        pytest.param("default/web-b", "b1", id="matching-pod-last-in-domain"),
        pytest.param("default/db-a2", "a2", id="non-matching-pod"),
        pytest.param("other/web-other-ns", "b1", id="other-namespace"),
        pytest.param("default/web-c", "c1", id="node-excluded-by-affinity"),
    ],
)
def test_remove_then_add_pod_match_a_fresh_pre_filter(victim: str, node_name: str) -> None:
    snap, pod = _extension_cluster()
    pl = plugin(snap)
    state = _state(pl, pod, snap)
    before = _summary(state, pl, pod, snap)
    info = snap[node_name]
    gone = info.pods[victim]

    clone = state.clone()
    assert pl.remove_pod(clone, pod, gone, info) is None
    snap.remove_pod(gone)
    assert _summary(clone, pl, pod, snap) == _summary(_state(pl, pod, snap), pl, pod, snap)
    assert _summary(state, pl, pod, snap) == before  # the original state is untouched

    assert pl.add_pod(clone, pod, gone, info) is None
    snap.add_pod(gone, node_name)
    assert _summary(clone, pl, pod, snap) == before


def test_add_pod_of_a_nominated_pod_matches_a_fresh_pre_filter() -> None:
    snap, pod = _extension_cluster()
    pl = plugin(snap)
    state = _state(pl, pod, snap)
    nominated = PodInfo.from_pod(bound("nominated", "b1"))
    pl.add_pod(state, pod, nominated, snap["b1"])
    snap.add_pod(nominated, "b1")
    assert _summary(state, pl, pod, snap) == _summary(_state(pl, pod, snap), pl, pod, snap)


def test_remove_pod_lowers_domain_counts_and_the_global_minimum() -> None:
    snap = make_snapshot(ZONES3, many(2, "a1") + many(1, "b1"))
    pl = plugin(snap)
    pod = incoming(spread())
    state = _state(pl, pod, snap)
    assert _summary(state, pl, pod, snap)[2] == [U, U, OK]  # a: 2 + 1 - 1 > 1
    a, b = snap["a1"], snap["b1"]
    pl.remove_pod(state, pod, next(iter(a.pods.values())), a)
    assert _summary(state, pl, pod, snap)[2] == [OK, OK, OK]  # a: 1 + 1 - 1 <= 1
    pl.remove_pod(state, pod, next(iter(b.pods.values())), b)
    assert _summary(state, pl, pod, snap)[2] == [U, U, OK]  # global minimum now 0


# -- Score --------------------------------------------------------------------------------
def _scores(
    pl: PodTopologySpread, pod: PodInfo, snap: ClusterSnapshot, candidates: Sequence[str]
) -> dict[str, int]:
    """PreScore over ``candidates``, both Score forms (asserted equal), then NormalizeScore."""
    rows = np.array([snap.index[n] for n in candidates], dtype=np.intp)
    state = CycleState()
    assert pl.pre_score(state, pod, snap.node_set(rows)) is None
    scalar = np.array([pl.score(state, pod, snap[n]) for n in candidates], dtype=np.int64)
    vector = pl.score_nodes(state, pod, snap.node_set(rows))
    assert vector.dtype == np.int64 and vector.tolist() == scalar.tolist()
    backwards = pl.score_nodes(state, pod, snap.node_set(rows[::-1].copy()))
    assert backwards.tolist() == scalar[::-1].tolist()
    assert pl.normalize_score(state, pod, scalar) is None
    return dict(zip(candidates, scalar.tolist(), strict=True))


def _labelled(*names: str, **labels: str) -> list[Node]:
    return [make_node(n, labels={HOST: n, **labels}) for n in names]


def _zoned(**zones: str) -> list[Node]:
    return [make_node(n, labels={HOST: n, "zone": z}) for n, z in zones.items()]


FOO_L, BAR_L, FOOBAR = {"foo": ""}, {"bar": ""}, {"foo": "", "bar": ""}
ABCD = _labelled("node-a", "node-b", "node-c", "node-d")
TAINT = ["node.kubernetes.io/unschedulable:NoSchedule"]
NODE_KEYED = [
    make_node("node-a", labels={"node": "node-a", "foo": ""}),
    make_node("node-b", labels={"node": "node-b", "foo": ""}),
    make_node("node-c", labels={"node": "node-c"}),
]
NODE_KEYED_TAINTED = [
    make_node("node-a", labels={"node": "node-a"}),
    make_node("node-b", labels={"node": "node-b"}),
    make_node("node-c", labels={"node": "node-c"}, taints=TAINT),
]
ZONE_PODS_2_1_1_1 = (
    many(1, "node-a", FOO_L)
    + many(1, "node-b", FOOBAR)
    + [bound("y1", "node-c", FOO_L), bound("y2", "node-c", BAR_L)]
)


SCORE_CASES = [
    # (nodes, candidates (None: all), existing pods, pod, expected normalised scores)
    pytest.param(
        ABCD[:2],
        None,
        [],
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 100, "node-b": 100},
        id="hostname-no-existing-pods",
    ),
    pytest.param(
        ABCD[:2],
        ["node-a"],
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L),
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 100},
        id="hostname-single-candidate",
    ),
    pytest.param(
        ABCD[:2],
        None,
        many(1, "node-a", FOO_L) + many(1, "node-b", FOO_L),
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 100, "node-b": 100},
        id="hostname-equal-counts",
    ),
    pytest.param(
        ABCD,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(3, "node-d", FOO_L),
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0},
        id="hostname-2-1-0-3",
    ),
    pytest.param(
        ABCD,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(3, "node-d", FOO_L),
        incoming(soft(1, HOST, None), labels=FOO_L),
        {"node-a": 100, "node-b": 100, "node-c": 100, "node-d": 100},
        id="hostname-nil-selector",
    ),
    pytest.param(
        ABCD,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(3, "node-d", FOO_L),
        incoming(soft(2, HOST), labels=FOO_L),
        {"node-a": 33, "node-b": 66, "node-c": 100, "node-d": 16},
        id="hostname-max-skew-2",
    ),
    pytest.param(
        ABCD,
        None,
        many(4, "node-a", FOO_L)
        + many(3, "node-b", FOO_L)
        + many(2, "node-c", FOO_L)
        + many(1, "node-d", FOO_L),
        incoming(soft(3, HOST), labels=FOO_L),
        {"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100},
        id="hostname-max-skew-3",
    ),
    pytest.param(
        _labelled("node-a", "node-b", "node-x", "node-y"),
        ["node-a", "node-b", "node-x"],
        many(4, "node-a", FOO_L)
        + many(2, "node-b", FOO_L)
        + many(1, "node-x", FOO_L)
        + many(3, "node-y", FOO_L),
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 33, "node-b": 83, "node-x": 100},
        id="hostname-3-of-4-candidates",
    ),
    pytest.param(
        [
            *_labelled("node-a"),
            make_node("node-b", labels={"n": "node-b"}),
            *_labelled("node-x", "node-y"),
        ],
        ["node-a", "node-b", "node-x"],
        many(4, "node-a", FOO_L)
        + many(2, "node-b", FOO_L)
        + many(1, "node-x", FOO_L)
        + many(3, "node-y", FOO_L),
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 16, "node-b": 0, "node-x": 100},
        id="candidate-missing-key-scores-0",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        ["node-a", "node-b", "node-x"],
        many(4, "node-a", FOO_L)
        + many(2, "node-b", FOO_L)
        + many(1, "node-x", FOO_L)
        + many(3, "node-y", FOO_L),
        incoming(soft(1, "zone"), labels=FOO_L),
        {"node-a": 75, "node-b": 75, "node-x": 100},
        id="zone-3-of-4-candidates",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        ["node-a", "node-x"],
        many(2, "node-a", FOO_L)
        + many(1, "node-b", FOO_L)
        + many(2, "node-x", FOO_L)
        + many(4, "node-y", FOO_L),
        incoming(soft(1, "zone"), soft(1, HOST), labels=FOO_L),
        {"node-a": 100, "node-x": 63},
        id="zone-and-hostname-2-of-4-candidates",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        ["node-a", "node-x"],
        [
            bound("a1", "node-a", FOOBAR),
            bound("a2", "node-a", FOO_L),
            bound("b1", "node-b", FOOBAR),
            bound("y1", "node-y", FOO_L),
            bound("y2", "node-y", FOOBAR),
            bound("y3", "node-y", FOO_L),
        ],
        incoming(soft(1, "zone"), soft(1, "zone", BAR), labels=FOOBAR),
        {"node-a": 85, "node-x": 100},
        id="two-zone-constraints-different-selectors",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        None,
        [
            bound("a1", "node-a", FOO_L),
            bound("b1", "node-b", FOOBAR),
            bound("y1", "node-y", FOO_L),
            bound("y2", "node-y", BAR_L),
        ],
        incoming(soft(1, "zone"), soft(1, HOST, BAR), labels=FOOBAR),
        {"node-a": 60, "node-b": 20, "node-x": 100, "node-y": 60},
        id="zone-and-hostname-different-selectors",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        None,
        [bound("b1", "node-b", BAR_L), bound("x1", "node-x", FOO_L), bound("y1", "node-y", FOOBAR)],
        incoming(soft(1, "zone"), soft(1, HOST, BAR), labels=FOOBAR),
        {"node-a": 100, "node-b": 60, "node-x": 40, "node-y": 0},
        id="zone-and-hostname-some-nodes-empty",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-x": "zone2", "node-y": "zone2"}),
        ["node-a", "node-b", "node-x"],
        [
            bound("a1", "node-a", FOO_L),
            bound("b1", "node-b", FOOBAR),
            bound("y1", "node-y", FOO_L),
            bound("y2", "node-y", BAR_L),
        ],
        incoming(soft(1, "zone"), soft(1, HOST, BAR), labels=FOOBAR),
        {"node-a": 50, "node-b": 25, "node-x": 100},
        id="zone-and-hostname-different-selectors-3-of-4",
    ),
    pytest.param(
        ABCD[:2],
        None,
        [
            bound("a1", "node-a", FOO_L, namespace="ns1"),
            bound("a2", "node-a", FOO_L),
            *many(2, "node-b", FOO_L),
        ],
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 100, "node-b": 33},
        id="other-namespace-not-counted",
    ),
    pytest.param(
        ABCD[:2],
        None,
        [bound("a", "node-a", FOO_L, terminating=True), bound("b", "node-b", FOO_L)],
        incoming(soft(1, HOST), labels=FOO_L),
        {"node-a": 100, "node-b": 0},
        id="terminating-pods-not-counted",
    ),
    pytest.param(
        [make_node(n, labels={"node": n}) for n in ("node-a", "node-b", "node-c")],
        None,
        many(2, "node-a", FOO_L) + many(2, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(soft(2, "node", minDomains=10), labels=FOO_L),
        {"node-a": 75, "node-b": 75, "node-c": 100},
        id="min-domains-no-effect-on-scoring",
    ),
    pytest.param(
        NODE_KEYED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(soft(1, "node"), labels=FOO_L, node_selector=FOO_L),
        {"node-a": 0, "node-b": 33, "node-c": 100},
        id="node-affinity-policy-honored-node-selector",
    ),
    pytest.param(
        NODE_KEYED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(soft(1, "node", nodeAffinityPolicy="Ignore"), labels=FOO_L, node_selector=FOO_L),
        {"node-a": 66, "node-b": 100, "node-c": 100},
        id="node-affinity-policy-ignored-node-selector",
    ),
    pytest.param(
        NODE_KEYED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(
            soft(1, "node"),
            labels=FOO_L,
            affinity=node_affinity([term(requirement("foo", "In", ""))]),
        ),
        {"node-a": 0, "node-b": 33, "node-c": 100},
        id="node-affinity-policy-honored-node-affinity",
    ),
    pytest.param(
        NODE_KEYED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(
            soft(1, "node", nodeAffinityPolicy="Ignore"),
            labels=FOO_L,
            affinity=node_affinity([term(requirement("foo", "In", ""))]),
        ),
        {"node-a": 66, "node-b": 100, "node-c": 100},
        id="node-affinity-policy-ignored-node-affinity",
    ),
    pytest.param(
        NODE_KEYED_TAINTED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(soft(1, "node", nodeTaintsPolicy="Honor"), labels=FOO_L),
        {"node-a": 0, "node-b": 33, "node-c": 100},
        id="node-taints-policy-honored",
    ),
    pytest.param(
        NODE_KEYED_TAINTED,
        None,
        many(2, "node-a", FOO_L) + many(1, "node-b", FOO_L) + many(1, "node-c", FOO_L),
        incoming(soft(1, "node"), labels=FOO_L),
        {"node-a": 66, "node-b": 100, "node-c": 100},
        id="node-taints-policy-ignored",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-c": "zone2", "node-d": "zone2"}),
        None,
        ZONE_PODS_2_1_1_1,
        incoming(
            soft(1, "zone", {}, matchLabelKeys=["foo"]),
            soft(1, HOST, {}, matchLabelKeys=["bar"]),
            labels=FOOBAR,
        ),
        {"node-a": 60, "node-b": 20, "node-c": 60, "node-d": 100},
        id="match-label-keys-with-empty-selector",
    ),
    pytest.param(
        _zoned(**{"node-a": "zone1", "node-b": "zone1", "node-c": "zone2", "node-d": "zone2"}),
        None,
        [
            bound("a1", "node-a", FOO_L),
            bound("b1", "node-b", {**FOOBAR, "baz": ""}),
            bound("c1", "node-c", FOO_L),
            bound("c2", "node-c", BAR_L),
            bound("c3", "node-c", {"bar": "", "baz": ""}),
        ],
        incoming(
            soft(1, "zone"),
            soft(1, HOST, BAR, matchLabelKeys=["baz"]),
            labels={**FOOBAR, "baz": ""},
        ),
        {"node-a": 60, "node-b": 20, "node-c": 60, "node-d": 100},
        id="match-label-keys-anded-with-selector",
    ),
]


@pytest.mark.parametrize(("nodes", "candidates", "pods", "pod", "expected"), SCORE_CASES)
def test_score(
    nodes: list[Node],
    candidates: list[str] | None,
    pods: list[Pod],
    pod: PodInfo,
    expected: dict[str, int],
) -> None:
    snap = make_snapshot(nodes, pods)
    assert _scores(plugin(snap), pod, snap, candidates or snap.names) == expected


def test_system_defaults_spread_by_hostname_when_nodes_lack_zones() -> None:
    """Upstream's "system defaulting, nodes don't have zone, pods match service"."""
    snap = make_snapshot(
        ABCD,
        many(4, "node-a", FOO_L)
        + many(3, "node-b", FOO_L)
        + many(2, "node-c", FOO_L)
        + many(1, "node-d", FOO_L),
    )
    pl = plugin(snap, selector_for=selects({"matchLabels": {"foo": ""}}))
    pod = incoming(labels=FOO_L)
    assert _scores(pl, pod, snap, snap.names) == {
        "node-a": 44,
        "node-b": 66,
        "node-c": 77,
        "node-d": 100,
    }
    without_hook = plugin(snap)
    assert without_hook.pre_score(CycleState(), pod, snap.all_nodes()) == SKIP


def test_score_prefers_the_emptier_domain() -> None:
    snap = make_snapshot(
        [node("a1", "a"), node("a2", "a"), node("b1", "b"), node("c1", "c")],
        many(3, "a1") + many(1, "b1"),
    )
    run = run_score(plugin(snap), incoming(soft(1, ZONE, WEB_SELECTOR)), snap)
    scores = run.normalized
    assert scores["c1"] == 100
    assert scores["c1"] > scores["b1"] > scores["a1"] == scores["a2"]


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(incoming(), Code.SKIP, id="no-constraints"),
        pytest.param(incoming(spread()), Code.SKIP, id="only-do-not-schedule"),
        pytest.param(
            incoming(soft(selector={"matchExpressions": [{"key": "x", "operator": "In"}]})),
            Code.ERROR,
            id="unparsable-selector",
        ),
    ],
)
def test_pre_score_status(pod: PodInfo, expected: Code) -> None:
    snap = make_snapshot(ZONES3)
    status = plugin(snap).pre_score(CycleState(), pod, snap.all_nodes())
    assert status is not None and status.code == expected


def test_pre_score_skips_an_empty_cluster() -> None:
    snap = ClusterSnapshot()
    status = plugin(snap).pre_score(CycleState(), incoming(soft()), snap.all_nodes())
    assert status is not None and status.code == Code.SKIP


# -- cached counts stay right as the cluster changes ------------------------------------------
def test_counts_follow_cluster_changes_between_cycles() -> None:
    snap = make_snapshot(ZONES3, many(1, "a1"))
    reused = plugin(snap)
    hard, soft_pod = (
        incoming(spread(), spread(key=HOST)),
        incoming(soft(1, ZONE, WEB_SELECTOR), soft(1, HOST, WEB_SELECTOR)),
    )

    def check() -> None:
        fresh = plugin(snap)
        assert run_filter(reused, hard, snap).codes == run_filter(fresh, hard, snap).codes
        assert run_score(reused, soft_pod, snap) == run_score(fresh, soft_pod, snap)

    check()
    extra = PodInfo.from_pod(bound("late", "b1"))
    snap.add_pod(extra, "b1")
    check()
    snap.remove_pod(next(iter(snap["a1"].pods.values())))
    check()
    snap.add_node(node("c1", "c"))
    snap.add_pod(PodInfo.from_pod(bound("c-1", "c1")), "c1")
    check()
    snap.remove_node("a2")
    check()


# -- generated clusters: the two forms and the extensions agree ------------------------------
_zones = st.sampled_from(["a", "b", "c", None])
_apps = st.sampled_from([WEB, {"app": "db"}, {}])


@st.composite
def _clusters(draw: st.DrawFn) -> tuple[ClusterSnapshot, PodInfo]:
    n = draw(st.integers(1, 6))
    nodes = [
        node(
            f"n{i}",
            draw(_zones),
            hostname=draw(st.booleans()),
            labels={"disk": "ssd"} if draw(st.booleans()) else {},
            taints=["x=y:NoSchedule"] if draw(st.integers(0, 3)) == 0 else [],
        )
        for i in range(n)
    ]
    pods = [
        bound(
            f"p{k}",
            f"n{draw(st.integers(0, n - 1))}",
            draw(_apps),
            namespace=draw(st.sampled_from(["default", "default", "other"])),
        )
        for k in range(draw(st.integers(0, 12)))
    ]
    keys = draw(st.lists(st.sampled_from([ZONE, HOST]), min_size=1, max_size=2, unique=True))
    constraints = [
        spread(
            draw(st.integers(1, 3)),
            key,
            draw(st.sampled_from(["DoNotSchedule", "ScheduleAnyway"])),
            minDomains=draw(st.integers(1, 4)),
            nodeAffinityPolicy=draw(st.sampled_from(["Honor", "Ignore"])),
            nodeTaintsPolicy=draw(st.sampled_from(["Honor", "Ignore"])),
        )
        for key in keys
    ]
    spec: JSON = {"node_selector": {"disk": "ssd"}} if draw(st.booleans()) else {}
    return make_snapshot(nodes, pods), incoming(*constraints, labels=draw(_apps), **spec)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_clusters())
def test_forms_agree_on_generated_clusters(cluster: tuple[ClusterSnapshot, PodInfo]) -> None:
    snap, pod = cluster
    run_filter(plugin(snap), pod, snap)  # asserts the forms agree
    run_score(plugin(snap), pod, snap)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_clusters(), st.data())
def test_remove_pod_matches_fresh_pre_filter_on_generated_clusters(
    cluster: tuple[ClusterSnapshot, PodInfo], data: st.DataObject
) -> None:
    snap, pod = cluster
    pl = plugin(snap)
    state = CycleState()
    _, status = pl.pre_filter(state, pod, snap.all_nodes())
    pods = list(snap.all_pods())
    if status is not None or not pods:
        return
    victim = data.draw(st.sampled_from(pods))
    info = snap[snap.node_of(victim.key) or ""]
    pl.remove_pod(state, pod, victim, info)
    snap.remove_pod(victim)
    assert _summary(state, pl, pod, snap) == _summary(_state(pl, pod, snap), pl, pod, snap)


# -- queueing hints and events ---------------------------------------------------------------
def test_events_to_register() -> None:
    events = {e.event.resource: e for e in plugin(ClusterSnapshot()).events_to_register()}
    pod_event, node_event = events[EventResource.POD].event, events[EventResource.NODE].event
    assert pod_event.action == (
        ActionType.ADD
        | ActionType.UPDATE_POD_LABEL
        | ActionType.UPDATE_POD_TOLERATIONS
        | ActionType.DELETE
    )
    assert node_event.action == (
        ActionType.ADD
        | ActionType.DELETE
        | ActionType.UPDATE_NODE_LABEL
        | ActionType.UPDATE_NODE_TAINT
    )
    assert all(e.hint is not None for e in events.values())


def _assigned(name: str, labels: Mapping[str, str] = WEB, namespace: str = "default") -> PodInfo:
    return PodInfo.from_pod(bound(name, "a1", labels, namespace=namespace))


HARD = incoming(spread())
HARD_TAINTS = incoming(spread(nodeTaintsPolicy="Honor"))
Q, SKIP_Q = QueueingHint.QUEUE, QueueingHint.QUEUE_SKIP


@pytest.mark.parametrize(
    ("pod", "old", "new_obj", "expected"),
    [
        pytest.param(HARD, None, _assigned("w"), Q, id="matching-pod-added"),
        pytest.param(HARD, None, _assigned("d", {"app": "db"}), SKIP_Q, id="unrelated-pod-added"),
        pytest.param(
            HARD, None, _assigned("w", namespace="other"), SKIP_Q, id="other-namespace-pod-added"
        ),
        pytest.param(
            HARD, None, make_pod_info("pending", labels=WEB), SKIP_Q, id="unassigned-pod-added"
        ),
        pytest.param(HARD, _assigned("w"), None, Q, id="matching-pod-deleted"),
        pytest.param(HARD, _assigned("d", {"app": "db"}), None, SKIP_Q, id="unrelated-pod-deleted"),
        pytest.param(
            HARD, _assigned("w"), _assigned("w", {"app": "db"}), Q, id="label-change-stops-matching"
        ),
        pytest.param(
            HARD,
            _assigned("w"),
            _assigned("w", {"app": "web", "x": "y"}),
            SKIP_Q,
            id="label-change-still-matching",
        ),
        pytest.param(
            HARD_TAINTS,
            HARD_TAINTS,
            incoming(spread(nodeTaintsPolicy="Honor"), tolerations=[{"operator": "Exists"}]),
            Q,
            id="own-new-toleration-with-taints-policy-honor",
        ),
        pytest.param(
            HARD,
            HARD,
            incoming(spread(), tolerations=[{"operator": "Exists"}]),
            SKIP_Q,
            id="own-new-toleration-without-taints-policy",
        ),
        pytest.param(HARD, None, None, Q, id="nothing-to-judge"),
    ],
)
def test_pod_change_hint(pod: PodInfo, old: Any, new_obj: Any, expected: QueueingHint) -> None:
    assert plugin(ClusterSnapshot()).is_schedulable_after_pod_change(pod, old, new_obj) == expected


@pytest.mark.parametrize(
    ("old", "new_obj", "expected"),
    [
        pytest.param(None, node("n", "a"), Q, id="node-with-keys-added"),
        pytest.param(None, node("n"), SKIP_Q, id="node-without-keys-added"),
        pytest.param(node("n", "a"), None, Q, id="node-with-keys-deleted"),
        pytest.param(node("n"), None, SKIP_Q, id="node-without-keys-deleted"),
        pytest.param(node("n"), node("n", "a"), Q, id="node-gains-key"),
        pytest.param(node("n", "a"), node("n", "b"), Q, id="node-changes-domain"),
        pytest.param(
            node("n", "a"), node("n", "a", labels={"x": "y"}), SKIP_Q, id="unrelated-label-change"
        ),
        pytest.param(
            node("n", "a"),
            node("n", "a", taints=["x=y:NoSchedule"]),
            Q,
            id="taint-change-on-eligible-node",
        ),
        pytest.param(
            node("n"),
            node("n", taints=["x=y:NoSchedule"]),
            SKIP_Q,
            id="taint-change-on-node-without-keys",
        ),
        pytest.param(None, None, Q, id="batch-of-nodes"),
    ],
)
def test_node_change_hint(old: Node | None, new_obj: Node | None, expected: QueueingHint) -> None:
    assert (
        plugin(ClusterSnapshot()).is_schedulable_after_node_change(HARD, old, new_obj) == expected
    )


# -- args -------------------------------------------------------------------------------------
def test_args_defaults_and_aliases() -> None:
    assert Args().defaulting_type == "System" and Args().default_constraints == []
    args = Args.model_validate(
        {
            "defaultingType": "List",
            "defaultConstraints": [
                {"maxSkew": 2, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway"}
            ],
        }
    )
    assert args.default_constraints[0].max_skew == 2
    assert plugin(ClusterSnapshot(), {"defaultingType": "List"}).default_constraints == ()
    assert [c.topology_key for c in plugin(ClusterSnapshot()).default_constraints] == [HOST, ZONE]


def _constraint(**kw: Any) -> JSON:
    return {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", **kw}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            {"defaultConstraints": [_constraint()]},
            "when .defaultConstraints are not empty",
            id="system-with-constraints",
        ),
        pytest.param(
            {"defaultingType": "List", "defaultConstraints": [_constraint(maxSkew=0)]},
            r"maxSkew: Invalid value: 0: not in valid range \(0, inf\)",
            id="max-skew-zero",
        ),
        pytest.param(
            {"defaultingType": "List", "defaultConstraints": [_constraint(topologyKey="")]},
            "topologyKey: Required value",
            id="empty-topology-key",
        ),
        pytest.param(
            {"defaultingType": "List", "defaultConstraints": [_constraint(topologyKey="a/b/c")]},
            "topologyKey",
            id="invalid-topology-key",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [_constraint(whenUnsatisfiable="Sometimes")],
            },
            "whenUnsatisfiable: Unsupported value",
            id="bad-when-unsatisfiable",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [_constraint(labelSelector={"matchLabels": WEB})],
            },
            "labelSelector: Forbidden",
            id="selector-forbidden",
        ),
        pytest.param(
            {
                "defaultingType": "List",
                "defaultConstraints": [_constraint(), _constraint(maxSkew=2)],
            },
            "Duplicate value",
            id="duplicate-key-and-action",
        ),
        pytest.param(
            {"defaultingType": "Sometimes"}, "defaultingType", id="unknown-defaulting-type"
        ),
        pytest.param({"defaultConstraint": []}, "defaultConstraint", id="unknown-field"),
    ],
)
def test_args_validation(args: JSON, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Args.model_validate(args)


# -- end to end through the default profile ---------------------------------------------------
def test_end_to_end_hard_spread_balances_zones() -> None:
    sched = Scheduler(tie_break="smallest-name")
    sched.add_nodes([node("a1", "a"), node("a2", "a"), node("b1", "b")])
    for i in range(4):
        sched.add_pod(make_pod(f"web-{i}", labels=WEB, topologySpreadConstraints=[spread()]))
    results = sched.run()
    assert all(r.scheduled for r in results)
    zones = [sched.snapshot[r.node].labels[ZONE] for r in results]
    assert sorted(zones) == ["a", "a", "b", "b"]


def test_end_to_end_missing_label_reason() -> None:
    sched = Scheduler()
    sched.add_nodes([node("n1"), node("n2")])
    sched.add_pod(make_pod("web", labels=WEB, topologySpreadConstraints=[spread()]))
    [result] = sched.run()
    assert not result.scheduled
    assert "2 node(s) didn't match pod topology spread constraints (missing required label)" in (
        result.message
    )


def test_end_to_end_preemption_evicts_until_the_skew_fits() -> None:
    """Preemption runs RemovePod/AddPod: one victim leaves a: 1 + 1 - 0 > 1, so both go."""
    sched = Scheduler(tie_break="smallest-name")
    sched.add_nodes([node("a1", "a", labels={"disk": "ssd"}), node("b1", "b")])
    sched.add_pods(bound(f"low-{i}", "a1") for i in range(2))
    high = make_pod(
        "high",
        labels=WEB,
        priority=100,
        node_selector={"disk": "ssd"},
        topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")],
    )
    sched.add_pod(high)
    # The victims' deletion sends it to backoffQ, which an idle queue pops (KEP-5142).
    result, retried = sched.run()
    assert result.nominated_node == "a1"
    assert "1 node(s) didn't match pod topology spread constraints" in result.message
    assert sched.metrics.preemption_victims == 2
    assert sorted(sched.pods) == ["default/high"]
    assert retried.scheduled and retried.node == "a1"


def test_plugin_name() -> None:
    assert plugin(ClusterSnapshot()).name == NAME == "PodTopologySpread"
