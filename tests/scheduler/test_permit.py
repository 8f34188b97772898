"""Permit: waiting pods, their release by another plugin, rejection and timeout on the SimClock.

Upstream: ``RunPermitPlugins``/``WaitOnPermit`` (framework/runtime/framework.go)
and ``waitingPod`` (framework/runtime/waiting_pods_map.go).  A waiting pod is
reserved (assumed on its node) until every waiting plugin allows it; the first
rejection, or the first plugin timeout, unreserves and requeues it.
"""

from __future__ import annotations

import pytest
from _plugins import (
    GangPermit,
    RejectPermit,
    WaitPermit,
    node,
    nodes,
    plugin_log,
    pod,
    profile,
    scheduler,
)

from ksched.config.feature_gates import POP_FROM_BACKOFF_Q
from ksched.framework.clock import SimClock
from ksched.framework.runtime import MAX_PERMIT_TIMEOUT
from ksched.framework.status import Code
from ksched.framework.waiting_pods import WaitingPod
from ksched.scheduler import Scheduler

KEY = "default/p"


def waiting_profile(timeout: float = 10.0) -> str:
    return profile(
        """
        reserve:
          enabled:
          - name: ReserveA
          - name: ReserveB
        permit:
          enabled:
          - name: WaitPermit
        postBind:
          enabled:
          - name: PostBindRecorder
        """,
        f"""
        - name: WaitPermit
          args: {{timeoutSeconds: {timeout}}}
        """,
    )


GANG = profile(
    """
    permit:
      enabled:
      - name: Gang
    """,
    """
    - name: Gang
      args: {size: 3, timeoutSeconds: 30}
    """,
)

RESERVED = ["ReserveA.reserve p n1", "ReserveB.reserve p n1"]
UNRESERVED = ["ReserveB.unreserve p n1", "ReserveA.unreserve p n1"]


def start_waiting(timeout: float = 10.0) -> tuple[Scheduler, SimClock]:
    clock = SimClock()
    sched = scheduler(waiting_profile(timeout), clock=clock)
    sched.add_nodes([node("n1")])
    sched.add_pod(pod("p"))
    (result,) = sched.run()
    assert result.waiting and not result.scheduled
    assert result.node == "n1"
    return sched, clock


def waiting(sched: Scheduler, uid: str = "uid-p") -> WaitingPod:
    wp = sched.waiting_pod(uid)
    assert wp is not None
    return wp


def test_waiting_pod_holds_its_reservation() -> None:
    sched, _ = start_waiting()

    wp = sched.profiles["default-scheduler"].handle.waiting_pods.get("uid-p")
    assert wp is not None and wp.node_name == "n1"
    assert sched.waiting_pod("uid-p") is wp
    # Assumed: the node's resources count the pod, but it is not bound.
    assert sched.snapshot.node_of(KEY) == "n1"
    assert sched.snapshot["n1"].requested["cpu"] == 500
    assert KEY not in sched.bound
    assert KEY not in sched.queue
    assert plugin_log(sched) == RESERVED
    assert sched.next_wakeup() == pytest.approx(10.0)


def test_allow_by_another_plugin_then_release_binds() -> None:
    sched, _ = start_waiting()

    handle = sched.profiles["default-scheduler"].handle
    wp = handle.waiting_pods.get("uid-p")
    assert wp is not None
    wp.allow(WaitPermit.NAME)
    (released,) = sched.release_waiting()

    assert released.scheduled and released.node == "n1"
    assert sched.bound == {KEY: "n1"}
    assert sched.pods[KEY].node_name == "n1"
    assert len(sched.waiting_pods) == 0
    assert sched.next_wakeup() is None
    assert plugin_log(sched) == [*RESERVED, "PostBindRecorder.post_bind p n1 n1"]
    assert sched.metrics.attempts["scheduled"] == 1


def test_allow_by_a_plugin_that_does_not_wait_changes_nothing() -> None:
    sched, _ = start_waiting()

    waiting(sched).allow("SomeoneElse")

    assert sched.release_waiting() == []
    assert sched.waiting_pod("uid-p") is not None
    assert KEY not in sched.bound


def test_gang_member_completing_the_gang_allows_the_waiting_ones() -> None:
    sched = scheduler(GANG)
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pods(pod(f"g{i}", cpu="100m", labels={"gang": "g"}) for i in range(3))
    sched.add_pod(pod("solo", cpu="100m"))

    results = sched.run()

    # g0 and g1 wait; g2 completes the gang and binds; run() then binds the others.
    waited = [r.pod.name for r in results if r.waiting]
    assert waited == ["g0", "g1"]
    assert set(sched.bound) == {"default/g0", "default/g1", "default/g2", "default/solo"}
    assert len(sched.waiting_pods) == 0


def test_incomplete_gang_times_out_together() -> None:
    clock = SimClock()
    # Without SchedulerPopFromBackoffQ, so the rejected pods wait out their backoff
    # instead of being retried (and waiting in Permit again) within the same run.
    sched = scheduler(GANG, clock=clock, feature_gates={POP_FROM_BACKOFF_Q: False})
    sched.add_nodes(nodes(["n1"]))
    sched.add_pods(pod(f"g{i}", cpu="100m", labels={"gang": "g"}) for i in range(2))
    sched.run()
    assert len(sched.waiting_pods) == 2
    assert sched.next_wakeup() == pytest.approx(30.0)

    clock.advance(30.0)
    sched.run()

    assert sched.bound == {}
    assert sched.snapshot["n1"].pods == {}
    # WaitOnPermit rejections are one-node FitErrors upstream (schedule_one.go bindingCycle).
    message = (
        "0/1 nodes are available: 1 rejected due to timeout after waiting 30s "
        f"at plugin {GangPermit.NAME}."
    )
    assert sched.failures == {"default/g0": message, "default/g1": message}


@pytest.mark.parametrize(
    ("how", "plugin", "message"),
    [
        ("reject-waiting", WaitPermit.NAME, "quota exhausted"),
        ("permit-rejects", RejectPermit.NAME, RejectPermit.REASON),
    ],
    ids=["waiting-pod-rejected", "permit-plugin-rejects"],
)
def test_rejection_unreserves_forgets_and_requeues(how: str, plugin: str, message: str) -> None:
    if how == "reject-waiting":
        sched, _ = start_waiting()
        waiting(sched).reject(plugin, message)
        (result,) = sched.release_waiting()
    else:
        sched = scheduler(
            profile(
                """
                reserve:
                  enabled:
                  - name: ReserveA
                  - name: ReserveB
                permit:
                  enabled:
                  - name: RejectPermit
                """
            )
        )
        sched.add_nodes([node("n1")])
        sched.add_pod(pod("p", labels={"deny": "true"}))
        (result,) = sched.run()

    assert not result.scheduled
    assert result.status is not None and result.status.code == Code.UNSCHEDULABLE
    assert result.status.plugin == plugin
    assert message in result.message
    assert plugin_log(sched) == [*RESERVED, *UNRESERVED]
    assert sched.snapshot.node_of(KEY) is None
    assert sched.snapshot["n1"].requested["cpu"] == 0
    assert len(sched.waiting_pods) == 0
    assert KEY in sched.queue and KEY not in sched.bound
    assert sched.queue.pending_pods()["unschedulable"] == 1
    assert sched.metrics.attempts["unschedulable"] == 1


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(10.0, "10s"), (1.0, "1s"), (45.0, "45s")],
    ids=["10s", "1s", "45s"],
)
def test_timeout_on_the_sim_clock_rejects_with_upstreams_message(
    timeout: float, shown: str
) -> None:
    sched, clock = start_waiting(timeout)

    clock.advance(timeout - 0.001)
    assert sched.run() == []
    assert sched.waiting_pod("uid-p") is not None  # not yet

    clock.advance(0.002)
    sched.run()

    assert sched.waiting_pod("uid-p") is None
    assert sched.failures[KEY] == (
        "0/1 nodes are available: 1 rejected due to timeout after waiting "
        f"{shown} at plugin {WaitPermit.NAME}."
    )
    assert plugin_log(sched) == [*RESERVED, *UNRESERVED]
    assert sched.snapshot.node_of(KEY) is None
    assert KEY in sched.queue


def test_permit_timeout_is_capped_at_fifteen_minutes() -> None:
    sched, _ = start_waiting(timeout=3600.0)
    assert sched.next_wakeup() == pytest.approx(MAX_PERMIT_TIMEOUT)


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(90.0, "1m30s"), (0.5, "500ms"), (3600.0, "15m0s")],
    ids=["90s", "half-second", "capped-hour"],
)
def test_timeout_message_prints_a_go_duration(timeout: float, shown: str) -> None:
    sched, clock = start_waiting(timeout)
    clock.advance(min(timeout, MAX_PERMIT_TIMEOUT))
    sched.run()
    assert sched.failures[KEY] == (
        "0/1 nodes are available: 1 rejected due to timeout after waiting "
        f"{shown} at plugin {WaitPermit.NAME}."
    )


def test_permit_rejection_message_is_a_fit_error_over_one_node() -> None:
    sched, clock = start_waiting()
    clock.advance(10.0)
    sched.run()
    assert sched.failures[KEY] == (
        "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin WaitPermit."
    )


def test_rejected_waiting_pod_wakes_the_pods_it_blocked() -> None:
    clock = SimClock()
    sched = scheduler(profile("permit:\n  enabled:\n  - name: Gang\n"), clock=clock)
    sched.add_nodes([node("n1", cpu="1")])
    sched.add_pod(pod("a", cpu="1", labels={"gang": "g"}))  # waits for a second member
    sched.run()
    sched.add_pod(pod("b", cpu="1"))  # no room while "a" holds the node
    (blocked,) = sched.run()
    assert not blocked.scheduled

    clock.advance(30.0)  # "a" times out; its cpu is free again
    sched.run()

    assert sched.bound == {"default/b": "n1"}


def test_deleting_a_waiting_pod_rejects_and_unreserves_it() -> None:
    sched, _ = start_waiting()

    sched.delete_pod(KEY)

    assert sched.waiting_pod("uid-p") is None
    assert plugin_log(sched) == [*RESERVED, *UNRESERVED]
    assert sched.snapshot.node_of(KEY) is None
    assert KEY not in sched.queue
    assert KEY not in sched.bound
