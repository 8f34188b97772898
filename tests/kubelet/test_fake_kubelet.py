"""Simulated kubelets against a real API server: nodes, leases, pod phases, failure injection."""

from __future__ import annotations

import ipaddress
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ksched.controllers import LEASES, NODES, PODS, Informer, KubeClient, Obj, wait_until
from ksched.controllers.objects import parse_time
from ksched.kubelet import (
    DURATION_ANNOTATION,
    FAILURE_ANNOTATION,
    LEASE_NAMESPACE,
    RESULT_ANNOTATION,
    UNREACHABLE_TAINT,
    FakeKubelet,
    StageError,
    Stages,
    nodes_from_flags,
    nodes_from_table,
)
from ksched.traces import synthetic

NS = "default"


@pytest.fixture
def kubelet(client: KubeClient) -> Iterator[FakeKubelet]:
    k = FakeKubelet(client, nodes_from_flags(2, cpu="8", memory="16Gi"), renew_interval=0.3)
    k.start()
    yield k
    k.stop()


def pod(name: str, node: str, **annotations: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "app"}]},
    }


class PhaseLog:
    """Every (phase, ready) a pod was seen in, by name, from a watch."""

    def __init__(self, client: KubeClient) -> None:
        self.seen: dict[str, list[tuple[str, bool]]] = {}
        self.lock = threading.Lock()
        self.informer = Informer(client, PODS, namespace=NS)
        self.informer.add_handler(self.on_event)

    def on_event(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is None:
            return
        status = new.get("status") or {}
        ready = any(
            c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
        )
        with self.lock:
            self.seen.setdefault(new["metadata"]["name"], []).append(
                (status.get("phase", ""), ready)
            )


def phase(client: KubeClient, name: str) -> str:
    return str((client.get(PODS, name, NS).get("status") or {}).get("phase", ""))


def test_nodes_registered_with_capacity_and_ready(client: KubeClient, kubelet: FakeKubelet) -> None:
    nodes = {n["metadata"]["name"]: n for n in client.list(NODES)["items"]}
    assert set(nodes) == {"node-0", "node-1"}
    for n in nodes.values():
        assert n["status"]["allocatable"]["cpu"] == "8"
        assert n["status"]["allocatable"]["memory"] == "16Gi"
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}
        assert ready["Ready"] == "True"


def test_leases_are_renewed(client: KubeClient, kubelet: FakeKubelet) -> None:
    first = client.get(LEASES, "node-0", LEASE_NAMESPACE)
    assert first["spec"]["holderIdentity"] == "node-0"
    assert first["spec"]["leaseDurationSeconds"] == 40
    t0 = parse_time(first["spec"]["renewTime"])
    assert t0 is not None
    assert wait_until(
        lambda: (
            (parse_time(client.get(LEASES, "node-0", LEASE_NAMESPACE)["spec"]["renewTime"]) or 0)
            > t0
        ),
        10,
    )


@pytest.mark.parametrize(
    ("result", "exit_code"), [("Succeeded", 0), ("Failed", 1)], ids=["succeeds", "fails"]
)
def test_pod_goes_pending_running_then_finishes(
    client: KubeClient, kubelet: FakeKubelet, result: str, exit_code: int
) -> None:
    log = PhaseLog(client)
    log.informer.start()
    assert log.informer.wait_synced(10)
    try:
        client.create(
            PODS, pod("p", "node-1", **{DURATION_ANNOTATION: "0.5", RESULT_ANNOTATION: result}), NS
        )
        assert wait_until(lambda: phase(client, "p") == result, 20)
        assert wait_until(lambda: (log.seen.get("p") or [("", False)])[-1][0] == result, 10)
    finally:
        log.informer.stop()
    phases = [p for p, _ in log.seen["p"]]
    assert phases.index("Running") < phases.index(result)
    assert ("Running", True) in log.seen["p"]
    assert not log.seen["p"][-1][1]  # not Ready once finished
    status = client.get(PODS, "p", NS)["status"]
    assert ipaddress.IPv4Address(status["podIP"]) in ipaddress.IPv4Network("10.0.0.0/9")
    assert status["hostIP"] == next(
        a["address"]
        for a in client.get(NODES, "node-1")["status"]["addresses"]
        if a["type"] == "InternalIP"
    )
    (container,) = status["containerStatuses"]
    assert container["state"]["terminated"]["exitCode"] == exit_code
    assert status["startTime"]


def test_pod_without_duration_keeps_running_and_deletion_completes(
    client: KubeClient, kubelet: FakeKubelet
) -> None:
    client.create(PODS, pod("forever", "node-0"), NS)
    assert wait_until(lambda: phase(client, "forever") == "Running", 20)
    client.delete(PODS, "forever", NS, grace_period=30)
    assert wait_until(lambda: not client.list(PODS, NS)["items"], 20)


def test_pods_of_other_nodes_are_left_alone(client: KubeClient, kubelet: FakeKubelet) -> None:
    client.create(PODS, pod("elsewhere", "not-ours", **{DURATION_ANNOTATION: "0"}), NS)
    client.create(PODS, pod("mine", "node-0", **{DURATION_ANNOTATION: "0"}), NS)
    assert wait_until(lambda: phase(client, "mine") == "Succeeded", 20)
    assert phase(client, "elsewhere") in ("", "Pending")


def ready_status(client: KubeClient, name: str) -> str:
    conds = client.get(NODES, name)["status"]["conditions"]
    return str(next(c["status"] for c in conds if c["type"] == "Ready"))


def taints(client: KubeClient, name: str) -> list[str]:
    return [t["key"] for t in (client.get(NODES, name).get("spec") or {}).get("taints") or []]


def renew_time(client: KubeClient, name: str) -> float:
    return parse_time(client.get(LEASES, name, LEASE_NAMESPACE)["spec"]["renewTime"]) or 0.0


def test_node_failure_marks_not_ready_and_stops_lease_then_recovers(
    client: KubeClient, kubelet: FakeKubelet
) -> None:
    client.create(PODS, pod("stuck", "node-1", **{DURATION_ANNOTATION: "1"}), NS)
    assert wait_until(lambda: phase(client, "stuck") == "Running", 20)
    kubelet.fail_node("node-1")
    assert ready_status(client, "node-1") == "Unknown"
    assert UNREACHABLE_TAINT in taints(client, "node-1")
    frozen = renew_time(client, "node-1")
    assert wait_until(lambda: renew_time(client, "node-0") > frozen + 0.5, 10)
    assert renew_time(client, "node-1") == frozen  # no renewal while failed
    assert phase(client, "stuck") == "Running"  # its pods make no progress
    kubelet.recover_node("node-1")
    assert ready_status(client, "node-1") == "True"
    assert UNREACHABLE_TAINT not in taints(client, "node-1")
    assert wait_until(lambda: renew_time(client, "node-1") > frozen, 10)
    assert wait_until(lambda: phase(client, "stuck") == "Succeeded", 20)


def test_failure_injected_by_node_annotation(client: KubeClient, kubelet: FakeKubelet) -> None:
    client.patch(NODES, "node-0", {"metadata": {"annotations": {FAILURE_ANNOTATION: "NotReady"}}})
    assert wait_until(lambda: ready_status(client, "node-0") == "Unknown", 10)
    client.patch(NODES, "node-0", {"metadata": {"annotations": {FAILURE_ANNOTATION: None}}})
    assert wait_until(lambda: ready_status(client, "node-0") == "True", 10)


def test_trace_nodes_carry_the_table_capacity() -> None:
    wl = synthetic(n_nodes=4, n_pods=10)
    nodes = nodes_from_table(wl.nodes)
    assert [n["metadata"]["name"] for n in nodes] == [str(x) for x in wl.nodes.name]
    assert nodes[0]["status"]["capacity"]["cpu"] == f"{int(wl.nodes.cpu_milli[0])}m"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pending_seconds": -1.0}, "pending_seconds"),
        ({"running_seconds": float("inf")}, "running_seconds"),
        ({"result": "Crashed"}, "result"),
        ({"time_compression": 0.0}, "time_compression"),
    ],
    ids=["negative-pending", "infinite-running", "bad-result", "zero-compression"],
)
def test_stage_validation_names_the_parameter(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(StageError, match=f"'{field}' parameter of Stages"):
        Stages(**kwargs)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({}, (0.0, None, "Succeeded")),
        ({DURATION_ANNOTATION: "10"}, (0.0, 5.0, "Succeeded")),
        ({DURATION_ANNOTATION: "oops"}, (0.0, None, "Succeeded")),
        ({DURATION_ANNOTATION: "-3", RESULT_ANNOTATION: "Failed"}, (0.0, None, "Failed")),
    ],
    ids=["defaults", "duration-compressed", "malformed-duration", "negative-duration"],
)
def test_plan_reads_annotations(annotations: dict[str, str], expected: tuple[Any, ...]) -> None:
    plan = Stages(time_compression=2.0).plan({"metadata": {"annotations": annotations}})
    assert (plan.start_after, plan.run_for, plan.result) == expected


def test_a_restarted_kubelet_finishes_the_pods_it_left_running(client: KubeClient) -> None:
    nodes = nodes_from_flags(1)
    first = FakeKubelet(client, nodes)
    first.start()
    try:
        client.create(PODS, pod("long", "node-0", **{DURATION_ANNOTATION: "2"}), NS)
        assert wait_until(lambda: phase(client, "long") == "Running", 20)
    finally:
        first.stop()
    second = FakeKubelet(client, nodes)
    second.start()
    try:
        assert wait_until(lambda: phase(client, "long") == "Succeeded", 20)
    finally:
        second.stop()
    assert second.transitions["Running"] == 0  # it did not start the pod again


def test_kubelet_command_injects_a_failure_and_stops_on_sigterm(
    client: KubeClient, kubeconfig: str
) -> None:
    command = [
        sys.executable, "-m", "ksched", "kubelet", "--kubeconfig", kubeconfig,
        "--nodes", "2", "--node-prefix", "sim-", "--fail", "sim-1=2+3",
    ]  # fmt: skip
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert wait_until(lambda: len(client.list(NODES)["items"]) == 2, 60)
            assert wait_until(lambda: ready_status(client, "sim-1") == "Unknown", 60)
            assert ready_status(client, "sim-0") == "True"
            assert wait_until(lambda: ready_status(client, "sim-1") == "True", 30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
