"""NodeAffinity against kube-scheduler's behaviour (nodeaffinity/node_affinity_test.go).

Every case runs the per-node and the vectorised forms and checks they agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ksched.framework.events import ActionType, EventResource, QueueingHint
from ksched.framework.plugins import node_affinity
from ksched.framework.status import Code
from ksched.scheduler import Scheduler
from ksched.testing.builders import (
    make_node,
    make_pod,
    make_pod_info,
    make_snapshot,
    run_filter,
    run_score,
    term,
)
from ksched.testing.builders import node_affinity as affinity
from ksched.testing.builders import requirement as req

OK = Code.SUCCESS
POD = node_affinity.ERR_REASON_POD
ENFORCED = node_affinity.ERR_REASON_ENFORCED


def _plugin(added: dict[str, Any] | None = None) -> node_affinity.NodeAffinity:
    args = node_affinity.Args.model_validate({"addedAffinity": added} if added else {})
    return node_affinity.new(args, None)


def name_is(*names: str) -> dict[str, Any]:
    return req("metadata.name", "In", *names)


# (pod kwargs, node labels, matches)
FILTER_CASES = [
    pytest.param({"node_selector": {"foo": "bar"}}, {}, False, id="selector-missing-label"),
    pytest.param(
        {"node_selector": {"foo": "bar"}}, {"foo": "bar"}, True, id="selector-same-labels"
    ),
    pytest.param(
        {"node_selector": {"foo": "bar"}},
        {"foo": "bar", "baz": "blah"},
        True,
        id="node-has-more-labels",
    ),
    pytest.param(
        {"node_selector": {"foo": "bar", "baz": "blah"}},
        {"foo": "bar"},
        False,
        id="pod-asks-more-labels",
    ),
    pytest.param(
        {"node_selector": {"foo": "bar"}}, {"foo": "baz"}, False, id="selector-other-value"
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "In", "bar", "value2"))])},
        {"foo": "bar"},
        True,
        id="in-matches",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "In", "bar"))])}, {}, False, id="in-missing-key"
    ),
    pytest.param(
        {"affinity": affinity([term(req("kernel-version", "Gt", "0204"))])},
        {"kernel-version": "0206"},
        True,
        id="gt-leading-zeros",
    ),
    pytest.param(
        {"affinity": affinity([term(req("kernel-version", "Gt", "206"))])},
        {"kernel-version": "0206"},
        False,
        id="gt-equal-is-not-greater",
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "Lt", "64"))])}, {"mem": "32"}, True, id="lt-matches"
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "Lt", "64"))])},
        {"mem": "abc"},
        False,
        id="lt-non-integer-label",
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "Gt", "1.5"))])},
        {"mem": "3"},
        False,
        id="gt-non-integer-value-invalid-term",
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "Gt", "1"))])}, {}, False, id="gt-missing-label"
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "NotIn", "AMD", "INTER"))])},
        {"mem": "AMD"},
        False,
        id="not-in-listed",
    ),
    pytest.param(
        {"affinity": affinity([term(req("mem", "NotIn", "AMD"))])},
        {},
        True,
        id="not-in-missing-key-matches",
    ),
    pytest.param(
        {"affinity": affinity([term(req("GPU", "Exists"))])},
        {"GPU": "NVIDIA-GRID-K1"},
        True,
        id="exists",
    ),
    pytest.param(
        {"affinity": affinity([term(req("GPU", "Exists"))])}, {}, False, id="exists-missing"
    ),
    pytest.param(
        {"affinity": affinity([term(req("GPU", "DoesNotExist"))])},
        {"GPU": "x"},
        False,
        id="does-not-exist",
    ),
    pytest.param(
        {"affinity": affinity([term(req("GPU", "Exists", "x"))])},
        {"GPU": "x"},
        False,
        id="exists-with-values-invalid",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "In"))])},
        {"foo": "bar"},
        False,
        id="in-without-values-invalid",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "NotIn"))])},
        {},
        False,
        id="not-in-without-values-invalid",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "Like", "b"))])},
        {"foo": "b"},
        False,
        id="unknown-operator-invalid",
    ),
    pytest.param(
        {
            "affinity": affinity(
                [term(req("foo", "In", "bar"), req("diffkey", "In", "wrong", "value2"))]
            )
        },
        {"foo": "bar"},
        False,
        id="expressions-anded",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "In", "bar"), req("GPU", "Exists"))])},
        {"foo": "bar", "GPU": "1"},
        True,
        id="expressions-anded-all-match",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "In", "x")), term(req("diffkey", "In", "y"))])},
        {"diffkey": "y"},
        True,
        id="terms-ored",
    ),
    pytest.param(
        {"affinity": affinity([term(req("foo", "Like")), term(req("bar", "Exists"))])},
        {"bar": "1"},
        True,
        id="invalid-term-does-not-spoil-others",
    ),
    pytest.param(
        {"affinity": affinity([term()])}, {"foo": "bar"}, False, id="empty-term-matches-nothing"
    ),
    pytest.param({"affinity": affinity([])}, {"foo": "bar"}, False, id="no-terms-match-nothing"),
    pytest.param(
        {"node_selector": {"foo": "bar"}, "affinity": affinity([term(req("GPU", "Exists"))])},
        {"foo": "bar"},
        False,
        id="selector-and-affinity-both-needed",
    ),
    pytest.param(
        {"node_selector": {"foo": "bar"}, "affinity": affinity([term(req("GPU", "Exists"))])},
        {"foo": "bar", "GPU": "1"},
        True,
        id="selector-and-affinity-both-match",
    ),
    pytest.param(
        {"affinity": affinity([term(fields=[req("metadata.name", "NotIn", "node-1")])])},
        {},
        False,
        id="field-not-in-own-name",
    ),
    pytest.param(
        {"affinity": affinity([term(fields=[req("metadata.name", "NotIn", "other")])])},
        {},
        True,
        id="field-not-in-other-name",
    ),
    pytest.param(
        {"affinity": affinity([term(fields=[req("metadata.uid", "NotIn", "x")])])},
        {},
        True,
        id="unknown-field-reads-empty",
    ),
    pytest.param(
        {"affinity": affinity([term(fields=[req("metadata.name", "Exists")])])},
        {},
        False,
        id="field-exists-invalid",
    ),
]


@pytest.mark.parametrize(("pod", "labels", "matches"), FILTER_CASES)
def test_filter(pod: dict[str, Any], labels: dict[str, str], matches: bool) -> None:
    snap = make_snapshot([make_node("node-1", labels=labels), make_node("empty")])
    run = run_filter(_plugin(), make_pod_info(**pod), snap)
    assert run.pre_filter_status is None
    status = run.statuses["node-1"]
    if matches:
        assert status is None
    else:
        assert status is not None
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (POD,))


def test_pre_filter_skips_pods_without_constraints() -> None:
    snap = make_snapshot([make_node()])
    run = run_filter(_plugin(), make_pod_info(), snap)
    assert run.pre_filter_status is not None and run.pre_filter_status.code == Code.SKIP
    for pod in (
        make_pod_info(affinity=affinity(preferred=[(1, term(req("a", "Exists")))])),
        make_pod_info(affinity={"nodeAffinity": {}}),
    ):
        status = run_filter(_plugin(), pod, snap).pre_filter_status
        assert status is not None and status.code == Code.SKIP
    enforced = _plugin(
        {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [term(req("a", "Exists"))]
            }
        }
    )
    assert run_filter(enforced, make_pod_info(), snap).pre_filter_status is None


# (required terms, PreFilterResult node names or None, PreFilter status reason, feasible nodes)
PIN_CASES = [
    pytest.param(
        [term(fields=[name_is("node-1")])], {"node-1"}, None, ["node-1"], id="pin-one-node"
    ),
    pytest.param(
        [term(fields=[name_is("node-2")])], {"node-2"}, None, ["node-2"], id="pin-other-node"
    ),
    pytest.param(
        [term(fields=[name_is("node-1")]), term(fields=[name_is("node-2")])],
        {"node-1", "node-2"},
        None,
        ["node-1", "node-2"],
        id="pins-of-terms-unioned",
    ),
    pytest.param(
        [term(fields=[name_is("node-1")]), term(req("zone", "In", "b"))],
        None,
        None,
        ["node-1", "node-3"],
        id="unpinned-term-keeps-all-nodes",
    ),
    pytest.param(
        [term(req("zone", "In", "a"), fields=[name_is("node-1")])],
        {"node-1"},
        None,
        ["node-1"],
        id="pin-anded-with-labels",
    ),
    pytest.param(
        [term(req("zone", "In", "b"), fields=[name_is("node-1")])],
        {"node-1"},
        None,
        [],
        id="pin-anded-with-mismatching-labels",
    ),
    pytest.param(
        [term(fields=[name_is("node-1"), name_is("node-2")])],
        None,
        node_affinity.ERR_REASON_CONFLICT,
        [],
        id="conflicting-pins",
    ),
    pytest.param(
        [term(fields=[name_is("node-1", "node-2"), name_is("node-2", "node-3")])],
        {"node-2"},
        None,
        [],
        id="multi-value-pin-intersected-but-invalid-selector",
    ),
    pytest.param(
        [term(fields=[req("metadata.name", "NotIn", "node-1")])],
        None,
        None,
        ["node-2", "node-3"],
        id="not-in-does-not-pin",
    ),
]


@pytest.mark.parametrize(("terms", "names", "reason", "feasible"), PIN_CASES)
def test_match_fields_pin(
    terms: list[dict[str, Any]], names: set[str] | None, reason: str | None, feasible: list[str]
) -> None:
    snap = make_snapshot(
        [
            make_node("node-1", labels={"zone": "a"}),
            make_node("node-2", labels={"zone": "a"}),
            make_node("node-3", labels={"zone": "b"}),
        ]
    )
    run = run_filter(_plugin(), make_pod_info(affinity=affinity(terms)), snap)
    if reason is not None:
        assert run.pre_filter_status is not None
        assert (run.pre_filter_status.code, run.pre_filter_status.reasons) == (
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            (reason,),
        )
        return
    assert run.pre_filter_status is None
    assert (
        None if run.pre_filter_result is None else set(run.pre_filter_result.node_names or ())
    ) == names
    assert run.feasible == feasible


ADDED_REQUIRED = {
    "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term(req("foo", "In", "bar"))]
    }
}


@pytest.mark.parametrize(
    ("pod", "labels", "reason"),
    [
        pytest.param({}, {"foo": "bar"}, None, id="added-matches"),
        pytest.param({}, {"foo": "baz"}, ENFORCED, id="added-mismatch-enforced-reason"),
        pytest.param(
            {"node_selector": {"zone": "a"}},
            {"foo": "bar", "zone": "a"},
            None,
            id="added-and-pod-match",
        ),
        pytest.param({"node_selector": {"zone": "a"}}, {"foo": "bar"}, POD, id="pod-mismatch"),
        pytest.param(
            {"node_selector": {"zone": "a"}}, {"zone": "a"}, ENFORCED, id="enforced-checked-first"
        ),
    ],
)
def test_added_affinity_filter(
    pod: dict[str, Any], labels: dict[str, str], reason: str | None
) -> None:
    snap = make_snapshot([make_node("n", labels=labels)])
    status = run_filter(_plugin(ADDED_REQUIRED), make_pod_info(**pod), snap).statuses["n"]
    assert (status.reasons if status else None) == ((reason,) if reason else None)


@pytest.mark.parametrize(
    "added",
    [
        pytest.param(
            {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [term(req("foo", "Gt", "x"))]
                }
            },
            id="required-gt-non-integer",
        ),
        pytest.param(
            {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "preference": term(req("foo", "In"))}
                ]
            },
            id="preferred-in-without-values",
        ),
        pytest.param(
            {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [term(fields=[req("metadata.name", "In", "a", "b")])]
                }
            },
            id="field-two-values",
        ),
    ],
)
def test_invalid_added_affinity_is_refused(added: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="addedAffinity"):
        node_affinity.Args.model_validate({"addedAffinity": added})


def test_args_forbid_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        node_affinity.Args.model_validate({"addedAffinty": {}})


FOO_BAR = term(req("foo", "In", "bar"))
KEY_VALUE = term(req("key", "In", "value"))
ALL_THREE = term(req("foo", "In", "bar"), req("key", "In", "value"), req("az", "In", "az1"))
NODES = {
    "n1": {"foo": "bar"},
    "n2": {"key": "value"},
    "n3": {"foo": "bar", "key": "value", "az": "az1"},
    "n4": {},
}

# (pod preferred terms, added preferred terms, raw scores, normalised scores)
SCORE_CASES = [
    pytest.param(
        [(2, FOO_BAR)],
        None,
        {"n1": 2, "n2": 0, "n3": 2, "n4": 0},
        {"n1": 100, "n2": 0, "n3": 100, "n4": 0},
        id="one-term",
    ),
    pytest.param(
        [(2, FOO_BAR), (4, KEY_VALUE), (5, ALL_THREE)],
        None,
        {"n1": 2, "n2": 4, "n3": 11, "n4": 0},
        {"n1": 18, "n2": 36, "n3": 100, "n4": 0},
        id="weights-summed-then-normalised",
    ),
    pytest.param(
        [(0, FOO_BAR), (3, KEY_VALUE)],
        None,
        {"n1": 0, "n2": 3, "n3": 3, "n4": 0},
        {"n1": 0, "n2": 100, "n3": 100, "n4": 0},
        id="zero-weight-ignored",
    ),
    pytest.param(
        [(5, term())],
        None,
        {"n1": 0, "n2": 0, "n3": 0, "n4": 0},
        {"n1": 0, "n2": 0, "n3": 0, "n4": 0},
        id="empty-preference-ignored",
    ),
    pytest.param(
        [],
        [(3, KEY_VALUE)],
        {"n1": 0, "n2": 3, "n3": 3, "n4": 0},
        {"n1": 0, "n2": 100, "n3": 100, "n4": 0},
        id="added-preferred-only",
    ),
    pytest.param(
        [(2, FOO_BAR)],
        [(3, KEY_VALUE)],
        {"n1": 2, "n2": 3, "n3": 5, "n4": 0},
        {"n1": 40, "n2": 60, "n3": 100, "n4": 0},
        id="added-and-pod-preferred-summed",
    ),
    pytest.param(
        [(7, term(fields=[name_is("n4")]))],
        None,
        {"n1": 0, "n2": 0, "n3": 0, "n4": 7},
        {"n1": 0, "n2": 0, "n3": 0, "n4": 100},
        id="preferred-match-fields",
    ),
]


@pytest.mark.parametrize(("preferred", "added", "raw", "normalized"), SCORE_CASES)
def test_score(
    preferred: list[tuple[int, dict[str, Any]]],
    added: list[tuple[int, dict[str, Any]]] | None,
    raw: dict[str, int],
    normalized: dict[str, int],
) -> None:
    plugin = _plugin(
        {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "preference": t} for w, t in added
            ]
        }
        if added
        else None
    )
    snap = make_snapshot([make_node(n, labels=labels) for n, labels in NODES.items()])
    pod = make_pod_info(affinity=affinity(preferred=preferred)) if preferred else make_pod_info()
    run = run_score(plugin, pod, snap)
    assert run.pre_score_status is None
    assert run.raw == raw
    assert run.normalized == normalized


def test_pre_score_skips_without_preferred_terms() -> None:
    snap = make_snapshot([make_node()])
    status = run_score(
        _plugin(), make_pod_info(affinity=affinity([term(req("a", "Exists"))])), snap
    ).pre_score_status
    assert status is not None and status.code == Code.SKIP


def test_pre_score_reports_invalid_preferred_terms() -> None:
    snap = make_snapshot([make_node()])
    pod = make_pod_info(affinity=affinity(preferred=[(1, term(req("a", "Gt", "x")))]))
    status = run_score(_plugin(), pod, snap).pre_score_status
    assert status is not None and status.code == Code.ERROR
    assert "integer" in status.message


def test_events_and_hint() -> None:
    plugin = _plugin(ADDED_REQUIRED)
    [event] = plugin.events_to_register()
    assert (event.event.resource, event.event.action) == (
        EventResource.NODE,
        ActionType.ADD | ActionType.UPDATE_NODE_LABEL,
    )
    pod = make_pod_info(node_selector={"zone": "a"})
    hint = plugin.is_schedulable_after_node_change
    good = make_node(labels={"foo": "bar", "zone": "a"})
    assert hint(pod, None, good) is QueueingHint.QUEUE
    assert (
        hint(pod, None, make_node(labels={"zone": "a"})) is QueueingHint.QUEUE_SKIP
    )  # enforced fails
    assert hint(pod, None, make_node(labels={"foo": "bar"})) is QueueingHint.QUEUE_SKIP
    assert hint(pod, make_node(labels={"foo": "bar"}), good) is QueueingHint.QUEUE
    assert hint(pod, good, good) is QueueingHint.QUEUE_SKIP  # matched before already
    assert hint(pod, None, None) is QueueingHint.QUEUE


def test_filter_follows_label_updates() -> None:
    snap = make_snapshot([make_node("a", labels={"zone": "x"}), make_node("b")])
    plugin, pod = _plugin(), make_pod_info(node_selector={"zone": "x"})
    assert run_filter(plugin, pod, snap).feasible == ["a"]
    snap.update_node(make_node("b", labels={"zone": "x"}))
    assert run_filter(plugin, pod, snap).feasible == ["a", "b"]


def test_end_to_end_default_profile() -> None:
    sched = Scheduler(tie_break="smallest-name")
    sched.add_nodes(
        [
            make_node(
                f"n{i}", labels={"zone": "a" if i < 2 else "b", "disk": "ssd" if i % 2 else "hdd"}
            )
            for i in range(4)
        ]
    )
    sched.add_pod(make_pod("pinned", affinity=affinity([term(fields=[name_is("n2")])])))
    sched.add_pod(
        make_pod(
            "zone-b-ssd",
            node_selector={"zone": "b"},
            affinity=affinity(
                preferred=[
                    (10, term(req("disk", "In", "ssd"))),
                    (1, term(req("disk", "In", "hdd"))),
                ]
            ),
        )
    )
    sched.add_pod(make_pod("nowhere", affinity=affinity([term(req("zone", "In", "c"))])))
    results = {r.pod.name: r for r in sched.run()}
    assert results["pinned"].node == "n2"
    assert results["zone-b-ssd"].node == "n3"
    assert not results["nowhere"].scheduled
    assert results["nowhere"].message.startswith(
        "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector."
    )
