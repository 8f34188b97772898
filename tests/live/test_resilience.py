"""Two ksched replicas on one Lease, and an apiserver restart: no pod lost, none bound twice."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from live_support import (
    KSCHED,
    KschedProcess,
    create_pods,
    pod,
    register,
    scheduled_events,
    wait_bound,
)

from ksched.testing.k8s import FakeNodes, RealControlPlane, wait_until

# kube-scheduler's defaults, which deploy/ksched-config.yaml keeps.
LEASE_DURATION = 15.0
RETRY_PERIOD = 2.0
JITTER = 1.2


@pytest.fixture(scope="module")
def nodes(cluster: RealControlPlane) -> FakeNodes:
    fake = FakeNodes.uniform(cluster.api, 4, prefix="ha-node-", cpu="8", memory="32Gi")
    register(fake)
    return fake


def _leader(procs: list[KschedProcess]) -> KschedProcess | None:
    leaders = [
        p
        for p in procs
        if p.popen is not None
        and p.popen.poll() is None
        and p.metric("leader_election_master_status", name="ksched") == 1
    ]
    assert len(leaders) <= 1, "two replicas lead at once"
    return leaders[0] if leaders else None


def _assert_bound_once(cluster: RealControlPlane, ns: str, names: list[str]) -> None:
    pods = wait_bound(cluster.api, ns, names, timeout=90)
    by_pod = scheduled_events(cluster.api, ns)
    for name in names:
        got = by_pod.get(name, [])
        assert len(got) <= 1, f"{name} has {len(got)} Scheduled events"
        for event in got:
            assert event["reportingController"] == KSCHED
            assert event["note"].endswith(f" to {pods[name]['spec']['nodeName']}")


def test_leader_handover_within_lease_timings(
    cluster: RealControlPlane, nodes: FakeNodes, start_ksched: Callable[..., KschedProcess]
) -> None:
    ns = "live-ha"
    cluster.create_namespace(ns)
    a = start_ksched(leader_elect=True)
    b = start_ksched(leader_elect=True)
    first = wait_until(lambda: _leader([a, b]), "a leader", LEASE_DURATION + 10)
    standby = b if first is a else a
    create_pods(cluster.api, ns, [pod(f"before-{i}", KSCHED) for i in range(5)])
    wait_bound(cluster.api, ns, [f"before-{i}" for i in range(5)])
    assert (
        standby.metric("scheduler_schedule_attempts_total", result="scheduled", profile=KSCHED) == 0
    )

    # A crash: the Lease is not released, so the standby waits it out.
    first.kill()
    killed_at = time.monotonic()
    create_pods(cluster.api, ns, [pod(f"during-{i}", KSCHED) for i in range(5)])
    wait_until(lambda: _leader([standby]), "the standby to lead", LEASE_DURATION + 15, 0.1)
    crash_handover = time.monotonic() - killed_at
    # Expired lease + one jittered retry, measured from our side.
    assert crash_handover <= LEASE_DURATION + JITTER * RETRY_PERIOD + 2.0, crash_handover
    wait_bound(cluster.api, ns, [f"during-{i}" for i in range(5)])

    # A graceful stop releases the Lease: a new replica takes over within a retry or two.
    c = start_ksched(leader_elect=True)
    time.sleep(1.0)
    assert _leader([standby, c]) is standby
    stopped_at = time.monotonic()
    assert standby.terminate() == 0
    wait_until(lambda: _leader([c]), "the new replica to lead", 2 * JITTER * RETRY_PERIOD + 5, 0.1)
    graceful_handover = time.monotonic() - stopped_at
    assert graceful_handover <= 2 * JITTER * RETRY_PERIOD + 2.0, graceful_handover
    create_pods(cluster.api, ns, [pod(f"after-{i}", KSCHED) for i in range(5)])
    names = [f"{phase}-{i}" for phase in ("before", "during", "after") for i in range(5)]
    _assert_bound_once(cluster, ns, names)
    print(
        f"\nhandover after a crash: {crash_handover:.1f} s; after SIGTERM: {graceful_handover:.1f} s"
    )


def test_apiserver_restart_loses_no_pod(
    cluster: RealControlPlane, nodes: FakeNodes, start_ksched: Callable[..., KschedProcess]
) -> None:
    ns = "live-restart"
    cluster.create_namespace(ns)
    ksched = start_ksched()
    create_pods(cluster.api, ns, [pod(f"a-{i}", KSCHED) for i in range(20)])
    cluster.restart_apiserver(down_for=2.0)
    create_pods(cluster.api, ns, [pod(f"b-{i}", KSCHED) for i in range(20)])
    names = [f"{p}-{i}" for p in "ab" for i in range(20)]
    _assert_bound_once(cluster, ns, names)
    assert ksched.popen is not None and ksched.popen.poll() is None, ksched.log_tail()
    # Still watching after the restart: a new pod is scheduled too.
    create_pods(cluster.api, ns, [pod("c-0", KSCHED)])
    _assert_bound_once(cluster, ns, [*names, "c-0"])
