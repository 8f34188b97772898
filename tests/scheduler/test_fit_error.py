"""FailedScheduling messages, formatted as kube-scheduler's ``FitError.Error``.

``0/N nodes are available: <PreFilter message>.`` or ``0/N nodes are available:
<count> <reason>, ...`` with the "<count> <reason>" strings sorted as strings
(pkg/scheduler/framework/types.go), then a space and the PostFilter message.
"""

from __future__ import annotations

from typing import Any

import pytest
from _plugins import node, nodes, pod, profile, scheduler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksched.api import Node
from ksched.framework.interface import NodeToStatus
from ksched.framework.status import Code, Status
from ksched.scheduler.fit_error import Diagnosis, fit_error_message

NO_PREEMPTION = "postFilter:\n  disabled:\n  - name: DefaultPreemption\n"
GPU_TAINT = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def fit_message(
    cluster: list[Node],
    bound: list[dict[str, Any]],
    incoming: dict[str, Any],
    plugins: str = NO_PREEMPTION,
) -> str:
    sched = scheduler(profile(plugins))
    sched.add_nodes(cluster)
    for spec in bound:
        sched.add_pod(pod(**spec))
    sched.add_pod(pod("p", **incoming))
    results = sched.run()
    (result,) = [r for r in results if r.pod.name == "p"]
    assert not result.scheduled
    assert result.status is not None and result.status.code == Code.UNSCHEDULABLE
    return result.message


CASES = [
    pytest.param(
        [node("small", cpu="1"), *nodes(["c1", "c2"], unschedulable=True)],
        [],
        {"cpu": "2"},
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.",
        id="cpu-and-cordoned",
    ),
    pytest.param(
        [*nodes([f"s{i}" for i in range(10)], cpu="1"), *nodes(["c1", "c2"], unschedulable=True)],
        [],
        {"cpu": "2"},
        # Sorted as strings: "10 ..." comes before "2 ...".
        "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable.",
        id="sorted-as-strings",
    ),
    pytest.param(
        nodes(["a", "b"], cpu="1", memory="1Gi"),
        [],
        {"cpu": "2", "memory": "2Gi"},
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory.",
        id="every-reason-of-a-node-counts",
    ),
    pytest.param(
        [node("full", pods=1), node("tiny", memory="512Mi")],
        [{"name": "resident", "node_name": "full", "cpu": "100m", "memory": "1Mi"}],
        {"memory": "1Gi"},
        "0/2 nodes are available: 1 Insufficient memory, 1 Too many pods.",
        id="too-many-pods",
    ),
    pytest.param(
        [
            node("web", labels={"disk": "hdd"}),
            node("gpu", labels={"disk": "hdd"}, taints=GPU_TAINT),
            node("ssd", labels={"disk": "ssd"}),
        ],
        [{"name": "nginx", "node_name": "web", "host_port": 80}],
        {"host_port": 80, "nodeSelector": {"disk": "hdd"}},
        "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, "
        "1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {dedicated: gpu}.",
        id="ports-selector-taint",
    ),
    pytest.param(
        [node("everything-wrong", cpu="1", unschedulable=True, taints=GPU_TAINT)],
        [],
        {"cpu": "2"},
        # Only the first failing Filter plugin (in profile order) is reported per node.
        "0/1 nodes are available: 1 node(s) were unschedulable.",
        id="first-failing-plugin-only",
    ),
]


@pytest.mark.parametrize(("cluster", "bound", "incoming", "expected"), CASES)
def test_fit_error_message(
    cluster: list[Node], bound: list[dict[str, Any]], incoming: dict[str, Any], expected: str
) -> None:
    assert fit_message(cluster, bound, incoming) == expected


def test_post_filter_message_follows_after_a_space() -> None:
    message = fit_message(
        [node("busy", cpu="4"), *nodes(["c1", "c2"], unschedulable=True)],
        [{"name": "resident", "node_name": "busy", "cpu": "3"}],
        {"cpu": "2"},
        plugins="{}\n",
    )
    assert message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable. "
        "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def test_pre_filter_message_replaces_the_node_histogram() -> None:
    message = fit_message(
        nodes(["a", "b", "c"]),
        [],
        {},
        plugins="preFilter:\n  enabled:\n  - name: RejectPreFilter\n" + NO_PREEMPTION,
    )
    assert message == "0/3 nodes are available: pod is not welcome here."


def test_nodes_outside_the_pre_filter_result_are_counted() -> None:
    sched = scheduler(
        profile(
            "preFilter:\n  enabled:\n  - name: OnlyNodes\n" + NO_PREEMPTION,
            "- name: OnlyNodes\n  args: {nodes: [a]}\n",
        )
    )
    sched.add_nodes([node("a", cpu="1"), node("b"), node("c")])
    sched.add_pod(pod("p", cpu="2"))
    (result,) = sched.run()
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't satisfy plugin(s) [OnlyNodes]."
    )


def test_empty_pre_filter_result_message() -> None:
    message = fit_message(
        nodes(["a", "b"]),
        [],
        {},
        plugins="preFilter:\n  enabled:\n  - name: OnlyNodes\n" + NO_PREEMPTION,
    )
    assert message == "0/2 nodes are available: node(s) didn't satisfy plugin OnlyNodes."


def test_no_nodes_message() -> None:
    sched = scheduler()
    sched.add_pod(pod("p"))
    (result,) = sched.run()
    assert result.message == "no nodes available to schedule pods"


# -- the formatter on its own ---------------------------------------------------------------
def statuses(**by_node: tuple[str, ...]) -> NodeToStatus:
    nts = NodeToStatus()
    for name, reasons in by_node.items():
        nts.set(name, Status(Code.UNSCHEDULABLE, reasons, "Plugin"))
    return nts


@pytest.mark.parametrize(
    ("num_nodes", "diagnosis", "expected"),
    [
        (
            3,
            Diagnosis(statuses(a=("B reason",), b=("A reason",), c=("B reason",)), set()),
            "0/3 nodes are available: 1 A reason, 2 B reason.",
        ),
        (
            11,
            Diagnosis(
                statuses(**{f"n{i}": ("x",) for i in range(10)}, z=("y",)),
                set(),
            ),
            "0/11 nodes are available: 1 y, 10 x.",
        ),
        (
            2,
            Diagnosis(statuses(a=("x", "y"), b=("y",)), set()),
            "0/2 nodes are available: 1 x, 2 y.",
        ),
        (
            2,
            Diagnosis(statuses(a=("x",)), set(), pre_filter_msg="gated"),
            "0/2 nodes are available: gated.",
        ),
        (
            2,
            Diagnosis(statuses(a=("x",), b=("x",)), set(), post_filter_msg="preemption: nope"),
            "0/2 nodes are available: 2 x. preemption: nope",
        ),
        (
            2,
            Diagnosis(NodeToStatus(), set(), pre_filter_msg="gated", post_filter_msg="p: q"),
            "0/2 nodes are available: gated. p: q",
        ),
    ],
    ids=["histogram", "string-order", "many-reasons", "pre-filter", "post-filter", "both"],
)
def test_fit_error_message_formatter(num_nodes: int, diagnosis: Diagnosis, expected: str) -> None:
    assert fit_error_message(num_nodes, diagnosis) == expected


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    shapes=st.lists(
        st.tuples(
            st.integers(1, 8),  # cpu
            st.integers(1, 16),  # memory, GiB
            st.integers(1, 4),  # pods
            st.integers(0, 4),  # GPUs
            st.booleans(),  # cordoned
        ),
        min_size=1,
        max_size=12,
    ),
    residents=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 4)), max_size=12),
    want=st.tuples(st.integers(0, 9), st.integers(0, 17), st.integers(0, 5)),
)
def test_vectorised_reason_counts_match_node_by_node(
    monkeypatch: pytest.MonkeyPatch,
    shapes: list[tuple[int, int, int, int, bool]],
    residents: list[tuple[int, int]],
    want: tuple[int, int, int],
) -> None:
    """NodeResourcesFit counts its reasons over all failed nodes at once; the message is the
    one built from each node's own Filter status."""
    cluster = [
        node(
            f"n{i}",
            cpu=str(c),
            memory=f"{m}Gi",
            pods=p,
            extended={"nvidia.com/gpu": str(g)} if g else None,
            unschedulable=cordoned,
        )
        for i, (c, m, p, g, cordoned) in enumerate(shapes)
    ]
    bound = [
        {"name": f"r{k}", "node_name": f"n{i % len(shapes)}", "cpu": f"{c * 100}m"}
        for k, (i, c) in enumerate(residents)
    ]
    cpu, memory, gpu = want
    incoming: dict[str, Any] = {
        "cpu": f"{cpu}" if cpu else None,
        "memory": f"{memory}Gi" if memory else None,
        "extended": {"nvidia.com/gpu": str(gpu)} if gpu else None,
    }
    result = _attempt(cluster, bound, incoming)
    if result.scheduled:
        return
    with monkeypatch.context() as m:
        m.setattr(NodeToStatus, "reason_counts", lambda self: None)
        slow = _attempt(cluster, bound, incoming)
    assert result.message == slow.message


def _attempt(cluster: list[Node], bound: list[dict[str, Any]], incoming: dict[str, Any]) -> Any:
    sched = scheduler(profile(NO_PREEMPTION))
    sched.add_nodes(cluster)
    for spec in bound:
        sched.add_pod(pod(**spec))
    sched.add_pod(pod("p", **incoming))
    (result,) = [r for r in sched.run() if r.pod.name == "p"]
    return result
