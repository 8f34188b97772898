"""ksched next to kube-scheduler on a real kube-apiserver: who binds what, events, conditions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from live_support import (
    KSCHED,
    KschedProcess,
    condition,
    create_pods,
    events,
    pod,
    pods_in,
    register,
    scheduled_events,
    wait_bound,
)

from ksched.testing.k8s import FakeNodes, RealControlPlane, wait_until

DEFAULT = "default-scheduler"


@pytest.fixture(scope="module")
def nodes(cluster: RealControlPlane) -> FakeNodes:
    fake = FakeNodes.uniform(cluster.api, 3, prefix="sec-node-", cpu="4", memory="16Gi")
    register(fake)
    return fake


def test_each_scheduler_binds_only_its_own_pods(
    cluster: RealControlPlane, nodes: FakeNodes, start_ksched: Callable[..., KschedProcess]
) -> None:
    ns = "live-secondary"
    cluster.create_namespace(ns)
    ksched = start_ksched()
    mine = [pod(f"k-{i}", KSCHED) for i in range(6)]
    theirs = [pod(f"d-{i}", DEFAULT) for i in range(6)]
    create_pods(cluster.api, ns, mine + theirs)
    names = [p["metadata"]["name"] for p in mine + theirs]
    pods = wait_bound(cluster.api, ns, names)

    def all_scheduled() -> dict[str, list[dict[str, object]]] | None:
        found = scheduled_events(cluster.api, ns)
        return found if len(found) == len(names) else None

    by_pod = wait_until(all_scheduled, "a Scheduled event for every pod", 30)
    for name in names:
        (event,) = by_pod[name]  # exactly one: nobody bound a pod twice
        owner = KSCHED if name.startswith("k-") else DEFAULT
        assert event["reportingController"] == owner, (name, event)
        node = pods[name]["spec"]["nodeName"]
        assert event["note"] == f"Successfully assigned {ns}/{name} to {node}"
        assert event["action"] == "Binding" and event["type"] == "Normal"
        cond = condition(pods[name])
        assert cond is not None and cond["status"] == "True", (name, cond)
    assert node in nodes.names
    assert ksched.metric(
        "scheduler_schedule_attempts_total", result="scheduled", profile=KSCHED
    ) == len(mine)


def test_unschedulable_pod_reads_as_upstream(
    cluster: RealControlPlane, nodes: FakeNodes, start_ksched: Callable[..., KschedProcess]
) -> None:
    """The same unfittable pod, once per scheduler: same condition, same event note."""
    ns = "live-unschedulable"
    cluster.create_namespace(ns)
    ksched = start_ksched()
    big = {"cpu": "64", "memory": "1Gi"}
    create_pods(cluster.api, ns, [pod("k-big", KSCHED, **big), pod("d-big", DEFAULT, **big)])

    def failed() -> dict[str, dict[str, object]] | None:
        pods = pods_in(cluster.api, ns)
        conds = {n: condition(p) for n, p in pods.items()}
        done = all(c is not None and c["status"] == "False" for c in conds.values())
        return conds if done and len(conds) == 2 else None  # type: ignore[return-value]

    conds = wait_until(failed, "PodScheduled=False on both pods", 60)
    ours, upstream = conds["k-big"], conds["d-big"]
    assert ours["reason"] == upstream["reason"] == "Unschedulable"
    assert ours["message"] == upstream["message"]
    assert str(upstream["message"]).startswith("0/3 nodes are available: 3 Insufficient cpu.")

    def notes() -> dict[str, dict[str, object]] | None:
        found = {
            e["regarding"]["name"]: e
            for e in events(cluster.api, ns)
            if e["reason"] == "FailedScheduling"
        }
        return found if len(found) == 2 else None

    failed_events = wait_until(notes, "FailedScheduling events for both pods", 30)
    ours_e, upstream_e = failed_events["k-big"], failed_events["d-big"]
    assert ours_e["note"] == upstream_e["note"] == upstream["message"]
    for key in ("type", "action"):
        assert ours_e[key] == upstream_e[key]
    assert ours_e["reportingController"] == KSCHED
    assert upstream_e["reportingController"] == DEFAULT
    assert (
        ksched.metric("scheduler_schedule_attempts_total", result="unschedulable", profile=KSCHED)
        >= 1
    )
    assert ksched.metric("scheduler_pending_pods", queue="unschedulable") >= 0


def test_health_and_metrics_endpoints(
    cluster: RealControlPlane, nodes: FakeNodes, start_ksched: Callable[..., KschedProcess]
) -> None:
    ksched = start_ksched()
    assert ksched.get("/healthz") == (200, "ok")
    assert ksched.get("/readyz") == (200, "ok")
    status, text = ksched.get("/metrics")
    assert status == 200
    for name in (
        "scheduler_schedule_attempts_total",
        "scheduler_scheduling_attempt_duration_seconds_bucket",
        "scheduler_pending_pods",
        "scheduler_preemption_attempts_total",
        "scheduler_preemption_victims_bucket",
    ):
        assert f"\n{name}" in text or f"# TYPE {name.removesuffix('_bucket')}" in text, name
    assert ksched.get("/nothing")[0] == 404
    assert ksched.terminate() == 0
