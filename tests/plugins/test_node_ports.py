"""NodePorts against kube-scheduler's behaviour (nodeports/node_ports_test.go, HostPortInfo tests).

Every case runs the per-node and the vectorised forms and checks they agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.framework.clock import SimClock
from ksched.framework.events import ActionType, EventResource, QueueingHint
from ksched.framework.plugins import node_ports
from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Code
from ksched.scheduler import Scheduler
from ksched.testing.builders import make_node, make_pod, make_pod_info, make_snapshot, run_filter


def _plugin() -> node_ports.NodePorts:
    return node_ports.new(None, None)


def port(spec: str) -> dict[str, Any]:
    """``"ip/PROTO/port"`` with empty parts left unset (upstream's defaults then apply)."""
    ip, protocol, number = spec.split("/")
    out: dict[str, Any] = {"containerPort": int(number) or 1, "hostPort": int(number)}
    if ip:
        out["hostIP"] = ip
    if protocol:
        out["protocol"] = protocol
    return out


# (ports used on the node, ports the pod wants, fits)
CASES = [
    pytest.param([], ["/TCP/8080"], True, id="nothing-running"),
    pytest.param(["127.0.0.1/UDP/9090"], ["127.0.0.1/UDP/8080"], True, id="other-port"),
    pytest.param(["127.0.0.1/UDP/8080"], ["127.0.0.1/UDP/8080"], False, id="same-ip-protocol-port"),
    pytest.param(["127.0.0.1/TCP/8080"], ["127.0.0.1/UDP/8080"], True, id="different-protocol"),
    pytest.param(
        ["127.0.0.1/UDP/8080"],
        ["127.0.0.1/TCP/8001", "127.0.0.1/UDP/8080"],
        False,
        id="second-port-conflicts",
    ),
    pytest.param(
        ["127.0.0.1/TCP/8001"], ["0.0.0.0/TCP/8001"], False, id="all-ips-wanted-vs-specific-used"
    ),
    pytest.param(
        ["0.0.0.0/TCP/8001"], ["127.0.0.1/TCP/8001"], False, id="specific-wanted-vs-all-ips-used"
    ),
    pytest.param(["127.0.0.1/UDP/8001"], ["0.0.0.0/TCP/8001"], True, id="all-ips-other-protocol"),
    pytest.param(
        ["0.0.0.0/UDP/8001"], ["127.0.0.1/TCP/8001"], True, id="specific-vs-all-ips-other-protocol"
    ),
    pytest.param(["127.0.0.1/TCP/8001"], ["127.0.0.2/TCP/8001"], True, id="different-ips"),
    pytest.param(["/TCP/8001"], ["0.0.0.0/TCP/8001"], False, id="empty-ip-defaults-to-all"),
    pytest.param(
        ["127.0.0.1//8001"], ["127.0.0.1/TCP/8001"], False, id="empty-protocol-defaults-to-tcp"
    ),
    pytest.param(["127.0.0.1/SCTP/8001"], ["127.0.0.1/SCTP/8001"], False, id="sctp"),
    pytest.param(
        ["10.0.0.1/TCP/80", "10.0.0.2/TCP/80"], ["10.0.0.3/TCP/80"], True, id="third-ip-free"
    ),
    pytest.param(
        ["10.0.0.1/TCP/80", "10.0.0.2/TCP/80"], ["0.0.0.0/TCP/80"], False, id="all-ips-hits-any"
    ),
]


@pytest.mark.parametrize(("used", "wanted", "fits"), CASES)
def test_filter(used: list[str], wanted: list[str], fits: bool) -> None:
    existing = make_pod("existing", node_name="busy", host_ports=[port(p) for p in used])
    snap = make_snapshot([make_node("busy"), make_node("free")], [existing])
    run = run_filter(_plugin(), make_pod_info(host_ports=[port(p) for p in wanted]), snap)
    assert run.pre_filter_status is None
    assert run.feasible == (["busy", "free"] if fits else ["free"])
    if not fits:
        status = run.statuses["busy"]
        assert status is not None
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE, (node_ports.ERR_REASON,))


@pytest.mark.parametrize(
    "ports",
    [
        pytest.param([], id="no-ports"),
        pytest.param([{"containerPort": 8080}], id="container-port-only"),
        pytest.param([{"containerPort": 8080, "hostPort": 0}], id="host-port-zero"),
    ],
)
def test_pre_filter_skips_pods_without_host_ports(ports: list[dict[str, Any]]) -> None:
    snap = make_snapshot([make_node()])
    status = run_filter(_plugin(), make_pod_info(host_ports=ports), snap).pre_filter_status
    assert status is not None and status.code == Code.SKIP


def test_index_follows_pods_added_and_removed() -> None:
    """The vectorised index is patched from the snapshot's change log (assume, preemption)."""
    snap = make_snapshot([make_node(f"n{i}") for i in range(4)])
    plugin = _plugin()
    pod = make_pod_info(host_ports=[80])
    holders = [
        PodInfo.from_pod(make_pod(f"h{i}", host_ports=[port("10.0.0.1/TCP/80")])) for i in range(3)
    ]
    assert run_filter(plugin, pod, snap).feasible == ["n0", "n1", "n2", "n3"]
    snap.add_pod(holders[0], "n1")
    snap.add_pod(holders[1], "n2")
    snap.add_pod(holders[2], "n2")
    assert run_filter(plugin, pod, snap).feasible == ["n0", "n3"]
    snap.remove_pod(holders[1])
    assert run_filter(plugin, pod, snap).feasible == ["n0", "n3"]  # n2 still holds h2's port
    snap.remove_pod(holders[2])
    snap.remove_node("n0")
    assert run_filter(plugin, pod, snap).feasible == ["n2", "n3"]
    snap.add_node(make_node("n4"))
    snap.add_pod(PodInfo.from_pod(make_pod("h3", host_ports=[80])), "n4")
    assert run_filter(plugin, pod, snap).feasible == ["n2", "n3"]


def test_fits_helper() -> None:
    snap = make_snapshot([make_node("n")], [make_pod("p", node_name="n", host_ports=[80])])
    assert not node_ports.fits(make_pod_info(host_ports=[80]), snap.nodes[0])
    assert node_ports.fits(make_pod_info(host_ports=[81]), snap.nodes[0])


def test_events_and_hint() -> None:
    plugin = _plugin()
    assert [(e.event.resource, e.event.action) for e in plugin.events_to_register()] == [
        (EventResource.POD, ActionType.DELETE),
        (EventResource.NODE, ActionType.ADD),
    ]
    pod = make_pod_info(host_ports=[80])
    hint = plugin.is_schedulable_after_pod_deleted
    assert hint(pod, make_pod_info("d", node_name="n", host_ports=[80]), None) is QueueingHint.QUEUE
    assert (
        hint(pod, make_pod_info("d", node_name="n", host_ports=[81]), None)
        is QueueingHint.QUEUE_SKIP
    )
    assert hint(pod, make_pod_info("d", node_name="n"), None) is QueueingHint.QUEUE_SKIP
    assert (
        hint(pod, make_pod_info("d", host_ports=[80]), None) is QueueingHint.QUEUE_SKIP
    )  # never placed
    assert hint(pod, None, None) is QueueingHint.QUEUE


# -- generated clusters: vectorised and per-node forms agree -------------------------------------
port_spec = st.builds(
    lambda ip, proto, number: f"{ip}/{proto}/{number}",
    st.sampled_from(["", "0.0.0.0", "10.0.0.1", "10.0.0.2"]),
    st.sampled_from(["", "TCP", "UDP"]),
    st.sampled_from([80, 81]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(port_spec, max_size=3), min_size=1, max_size=5),
    st.lists(port_spec, min_size=1, max_size=3),
)
def test_forms_agree_on_generated_clusters(used: list[list[str]], wanted: list[str]) -> None:
    nodes = [make_node(f"n{i}") for i in range(len(used))]
    pods = [
        make_pod(f"p{i}", node_name=f"n{i}", host_ports=[port(p) for p in ports])
        for i, ports in enumerate(used)
    ]
    run_filter(
        _plugin(), make_pod_info(host_ports=[port(p) for p in wanted]), make_snapshot(nodes, pods)
    )


def test_end_to_end_default_profile() -> None:
    clock = SimClock()
    sched = Scheduler(tie_break="smallest-name", clock=clock)
    sched.add_nodes([make_node("a"), make_node("b")])
    for i in range(3):
        sched.add_pod(make_pod(f"web-{i}", host_ports=[8080]))
    results = sorted((r.pod.name, r.node) for r in sched.run())
    assert results[:2] in ([("web-0", "a"), ("web-1", "b")], [("web-0", "b"), ("web-1", "a")])
    assert results[2] == ("web-2", "")
    sched.delete_pod("default/web-0")  # frees port 8080 on its node: the hint requeues web-2
    clock.advance(60)  # past the backoff
    placed = [r for r in sched.run() if r.scheduled]
    assert [(r.pod.name, r.node) for r in placed] == [("web-2", dict(results)["web-0"])]
