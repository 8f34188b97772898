"""TaintToleration against kube-scheduler's behaviour (tainttoleration/taint_toleration_test.go).

Every case runs the per-node and the vectorised forms and checks they agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.framework.events import ActionType, EventResource, QueueingHint
from ksched.framework.plugins import tainttoleration
from ksched.framework.plugins.helper.normalize import default_normalize_score
from ksched.framework.status import Code
from ksched.scheduler import Scheduler
from ksched.testing.builders import (
    make_node,
    make_pod,
    make_pod_info,
    make_snapshot,
    run_filter,
    run_score,
)

OK = Code.SUCCESS
REJECT = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def _plugin() -> tainttoleration.TaintToleration:
    return tainttoleration.new(None, None)


def tol(key: str = "", op: str = "", value: str = "", effect: str = "") -> dict[str, Any]:
    out = {"key": key, "operator": op, "value": value, "effect": effect}
    return {k: v for k, v in out.items() if v}


# (node taints, pod tolerations, Filter verdict, reason)
FILTER_CASES = [
    pytest.param([], [], OK, None, id="untainted-node"),
    pytest.param(
        ["dedicated=user1:NoSchedule"],
        [],
        REJECT,
        "node(s) had untolerated taint {dedicated: user1}",
        id="no-toleration",
    ),
    pytest.param(
        ["dedicated=user1:NoSchedule"],
        [tol("dedicated", "Equal", "user1", "NoSchedule")],
        OK,
        None,
        id="equal-key-value-effect",
    ),
    pytest.param(
        ["dedicated=user1:NoSchedule"],
        [tol("dedicated", "Equal", "user2", "NoSchedule")],
        REJECT,
        "node(s) had untolerated taint {dedicated: user1}",
        id="equal-wrong-value",
    ),
    pytest.param(
        ["dedicated=user1:NoSchedule"],
        [tol("dedicated", "", "user1", "NoSchedule")],
        OK,
        None,
        id="empty-operator-means-equal",
    ),
    pytest.param(
        ["foo=bar:NoSchedule"],
        [tol("foo", "Exists", effect="NoSchedule")],
        OK,
        None,
        id="exists-ignores-value",
    ),
    pytest.param(
        ["foo=bar:NoSchedule"],
        [tol("foo", "Exists", effect="NoExecute")],
        REJECT,
        "node(s) had untolerated taint {foo: bar}",
        id="exists-wrong-effect",
    ),
    pytest.param(
        ["foo=bar:NoSchedule"],
        [tol("foo", "Exists")],
        OK,
        None,
        id="empty-effect-matches-every-effect",
    ),
    pytest.param(
        ["foo=bar:NoSchedule", "baz=qux:NoExecute"],
        [tol(op="Exists")],
        OK,
        None,
        id="empty-key-exists-tolerates-everything",
    ),
    pytest.param(
        ["foo=bar:NoSchedule", "baz=qux:NoExecute"],
        [tol(op="Exists", effect="NoSchedule")],
        REJECT,
        "node(s) had untolerated taint {baz: qux}",
        id="empty-key-exists-one-effect",
    ),
    pytest.param(
        ["foo=bar:NoSchedule"],
        [tol(op="Equal", value="bar")],
        OK,
        None,
        id="empty-key-matches-any-key-equal-value",
    ),
    pytest.param(
        ["foo=bar:NoSchedule"],
        [tol(op="Equal", value="baz")],
        REJECT,
        "node(s) had untolerated taint {foo: bar}",
        id="empty-key-equal-wrong-value",
    ),
    pytest.param(
        ["maintenance:NoExecute"],
        [],
        REJECT,
        "node(s) had untolerated taint {maintenance: }",
        id="no-execute-untolerated-empty-value",
    ),
    pytest.param(
        ["maintenance:NoExecute"],
        [tol("maintenance", "Exists", effect="NoExecute")],
        OK,
        None,
        id="no-execute-tolerated",
    ),
    pytest.param(
        ["maintenance:NoExecute"],
        [tol("maintenance", "Equal", effect="NoExecute")],
        OK,
        None,
        id="equal-empty-value-matches-empty",
    ),
    pytest.param(
        ["spot=true:PreferNoSchedule"], [], OK, None, id="prefer-no-schedule-is-not-filtered"
    ),
    pytest.param(
        ["dedicated=user1:NoSchedule"],
        [tol("dedicated", "Equal", "user1", "PreferNoSchedule")],
        REJECT,
        "node(s) had untolerated taint {dedicated: user1}",
        id="prefer-toleration-does-not-cover-no-schedule",
    ),
    pytest.param(
        ["a=1:NoSchedule", "b=2:NoSchedule"],
        [tol("a", "Exists")],
        REJECT,
        "node(s) had untolerated taint {b: 2}",
        id="reports-first-untolerated",
    ),
    pytest.param(
        ["a=1:NoSchedule", "b=2:NoSchedule"],
        [tol("a", "Exists"), tol("b", "Equal", "2")],
        OK,
        None,
        id="each-taint-tolerated-by-some-toleration",
    ),
]


@pytest.mark.parametrize(("taints", "tolerations", "code", "reason"), FILTER_CASES)
def test_filter(
    taints: list[str], tolerations: list[dict[str, Any]], code: Code, reason: str | None
) -> None:
    snap = make_snapshot([make_node("tainted", taints=taints), make_node("clean")])
    run = run_filter(_plugin(), make_pod_info(tolerations=tolerations), snap)
    assert run.codes == {"tainted": code, "clean": OK}
    status = run.statuses["tainted"]
    assert (status.reasons if status else None) == ((reason,) if reason else None)


def test_filter_vectorised_over_many_nodes_and_pods() -> None:
    """One plugin, one cached taint table, several pods: per-node and vectorised agree."""
    taints = [
        [],
        ["a=1:NoSchedule"],
        ["b:NoExecute"],
        ["a=1:NoSchedule", "c=3:PreferNoSchedule"],
        ["a=2:NoSchedule"],
    ]
    snap = make_snapshot([make_node(f"n{i}", taints=t) for i, t in enumerate(taints)])
    plugin = _plugin()
    pods = [
        make_pod_info("none"),
        make_pod_info("a1", tolerations=[tol("a", "Equal", "1")]),
        make_pod_info("a-any", tolerations=[tol("a", "Exists")]),
        make_pod_info("all", tolerations=[tol(op="Exists")]),
    ]
    feasible = {p.name: run_filter(plugin, p, snap).feasible for p in pods}
    assert feasible == {
        "none": ["n0"],
        "a1": ["n0", "n1", "n3"],
        "a-any": ["n0", "n1", "n3", "n4"],
        "all": ["n0", "n1", "n2", "n3", "n4"],
    }


def test_taint_table_follows_node_updates() -> None:
    snap = make_snapshot([make_node("n0"), make_node("n1")])
    plugin, pod = _plugin(), make_pod_info()
    assert run_filter(plugin, pod, snap).feasible == ["n0", "n1"]
    snap.update_node(make_node("n1", taints=["x:NoSchedule"]))
    assert run_filter(plugin, pod, snap).feasible == ["n0"]
    snap.remove_node("n0")
    assert run_filter(plugin, pod, snap).feasible == []


# (taints of each node, pod tolerations, normalised scores)
SCORE_CASES = [
    pytest.param(
        {"a": ["foo=bar:PreferNoSchedule"], "b": ["foo=blah:PreferNoSchedule"]},
        [tol("foo", "Equal", "bar", "PreferNoSchedule")],
        {"a": 100, "b": 0},
        id="tolerated-taint-beats-intolerable",
    ),
    pytest.param(
        {
            "a": [],
            "b": ["cpu-type=arm64:PreferNoSchedule"],
            "c": ["cpu-type=arm64:PreferNoSchedule", "gpu=true:PreferNoSchedule"],
        },
        [
            tol("cpu-type", "Equal", "arm64", "PreferNoSchedule"),
            tol("gpu", "Equal", "true", "PreferNoSchedule"),
        ],
        {"a": 100, "b": 100, "c": 100},
        id="all-tolerated-same-score-however-many",
    ),
    pytest.param(
        {
            "a": [],
            "b": ["cpu-type=arm64:PreferNoSchedule"],
            "c": ["cpu-type=arm64:PreferNoSchedule", "gpu=true:PreferNoSchedule"],
        },
        [tol("foo", "Equal", "bar", "PreferNoSchedule")],
        {"a": 100, "b": 50, "c": 0},
        id="more-intolerable-taints-lower-score",
    ),
    pytest.param(
        {"a": [], "b": ["cpu-type=arm64:NoSchedule"], "c": ["cpu-type=arm64:PreferNoSchedule"]},
        [tol("cpu-type", "Equal", "arm64", "NoSchedule")],
        {"a": 100, "b": 100, "c": 0},
        id="only-prefer-no-schedule-counts",
    ),
    pytest.param(
        {"a": [], "b": ["cpu-type=arm64:PreferNoSchedule"]},
        [],
        {"a": 100, "b": 0},
        id="no-tolerations-prefers-untainted",
    ),
    pytest.param(
        {"a": ["x=1:PreferNoSchedule"], "b": ["y=2:PreferNoSchedule"]},
        [tol("x", "Exists")],
        {"a": 100, "b": 0},
        id="empty-effect-toleration-counts",
    ),
    pytest.param(
        {"a": ["x=1:PreferNoSchedule"], "b": ["x=1:PreferNoSchedule"]},
        [],
        {"a": 0, "b": 0},
        id="equal-nonzero-counts-all-min",
    ),
]


@pytest.mark.parametrize(("taints", "tolerations", "expected"), SCORE_CASES)
def test_score(
    taints: dict[str, list[str]], tolerations: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    snap = make_snapshot([make_node(n, taints=t) for n, t in taints.items()])
    run = run_score(_plugin(), make_pod_info(tolerations=tolerations), snap)
    assert run.pre_score_status is None
    assert run.normalized == expected


def test_raw_score_counts_intolerable_prefer_taints() -> None:
    snap = make_snapshot(
        [make_node("n", taints=["a:PreferNoSchedule", "b:PreferNoSchedule", "c:NoSchedule"])]
    )
    assert run_score(_plugin(), make_pod_info(), snap).raw == {"n": 2}


@pytest.mark.parametrize(
    ("scores", "reverse", "expected"),
    [
        pytest.param([0, 0, 0], False, [0, 0, 0], id="all-zero-stay"),
        pytest.param([0, 0, 0], True, [100, 100, 100], id="all-zero-reversed-max"),
        pytest.param([1, 2, 4], False, [25, 50, 100], id="scaled-by-max"),
        pytest.param([1, 2, 4], True, [75, 50, 0], id="reversed"),
        pytest.param([1, 3], False, [33, 100], id="integer-division-truncates"),
        pytest.param([-3, 0, 6], False, [-50, 0, 100], id="negative-truncates-toward-zero"),
        pytest.param([], True, [], id="empty"),
    ],
)
def test_default_normalize_score(scores: list[int], reverse: bool, expected: list[int]) -> None:
    arr = np.array(scores, dtype=np.int64)
    assert default_normalize_score(100, reverse, arr) is None
    assert arr.tolist() == expected


def test_events_and_hints() -> None:
    plugin = _plugin()
    events = plugin.events_to_register()
    assert [(e.event.resource, e.event.action) for e in events] == [
        (EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT),
        (EventResource.POD, ActionType.UPDATE_POD_TOLERATIONS),
    ]
    pod = make_pod_info(tolerations=[tol("a", "Exists")])
    tainted, tolerable, clean = (
        make_node(taints=["b:NoSchedule"]),
        make_node(taints=["a:NoSchedule"]),
        make_node(),
    )
    node_hint = plugin.is_schedulable_after_node_change
    assert node_hint(pod, None, tolerable) is QueueingHint.QUEUE
    assert node_hint(pod, None, tainted) is QueueingHint.QUEUE_SKIP
    assert node_hint(pod, tainted, clean) is QueueingHint.QUEUE
    assert node_hint(pod, clean, tolerable) is QueueingHint.QUEUE_SKIP  # was already fine
    assert node_hint(pod, None, None) is QueueingHint.QUEUE
    pod_hint = plugin.is_schedulable_after_pod_toleration_change
    assert (
        pod_hint(pod, pod, make_pod_info(pod.name, tolerations=[tol(op="Exists")]))
        is QueueingHint.QUEUE
    )
    assert pod_hint(pod, None, make_pod_info("other")) is QueueingHint.QUEUE_SKIP


# -- generated clusters: vectorised and per-node forms agree -------------------------------------
EFFECTS = ["NoSchedule", "NoExecute", "PreferNoSchedule"]
taint_text = st.builds(
    lambda k, v, e: f"{k}={v}:{e}" if v else f"{k}:{e}",
    st.sampled_from("abc"),
    st.sampled_from(["", "1", "2"]),
    st.sampled_from(EFFECTS),
)
toleration = st.builds(
    tol,
    key=st.sampled_from(["", "a", "b", "c"]),
    op=st.sampled_from(["", "Equal", "Exists"]),
    value=st.sampled_from(["", "1", "2"]),
    effect=st.sampled_from(["", *EFFECTS]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(taint_text, max_size=3), min_size=1, max_size=6),
    st.lists(toleration, max_size=3),
)
def test_forms_agree_on_generated_clusters(
    taints: list[list[str]], tolerations: list[dict[str, Any]]
) -> None:
    snap = make_snapshot([make_node(f"n{i}", taints=t) for i, t in enumerate(taints)])
    pod = make_pod_info(tolerations=tolerations)
    run_filter(_plugin(), pod, snap)  # asserts the forms agree
    run_score(_plugin(), pod, snap)


def test_end_to_end_default_profile() -> None:
    sched = Scheduler(tie_break="smallest-name")
    sched.add_nodes(
        [
            make_node("a", taints=["dedicated=gpu:NoSchedule"]),
            make_node("b", taints=["spot:PreferNoSchedule"]),
            make_node("c", taints=["maintenance:NoExecute"]),
        ]
    )
    sched.add_pod(make_pod("plain"))
    sched.add_pod(make_pod("gpu", tolerations=[tol("dedicated", "Equal", "gpu", "NoSchedule")]))
    results = {r.pod.name: r for r in sched.run()}
    assert results["plain"].node == "b"  # the only node without a hard taint
    assert results["gpu"].node == "a"  # tolerated, and free of PreferNoSchedule taints

    only_tainted = Scheduler()
    only_tainted.add_nodes(
        [
            make_node("a", taints=["dedicated=gpu:NoSchedule"]),
            make_node("c", taints=["maintenance:NoExecute"]),
        ]
    )
    only_tainted.add_pod(make_pod("plain"))
    [result] = only_tainted.run()
    assert not result.scheduled
    assert result.message.startswith(
        "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
        "1 node(s) had untolerated taint {maintenance: }."
    )
