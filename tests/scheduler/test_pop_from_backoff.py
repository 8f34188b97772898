"""SchedulerPopFromBackoffQ through the scheduler: on by default, off in replays unless asked."""

from __future__ import annotations

import pytest
from _plugins import node, pod, scheduler

from ksched.config.feature_gates import POP_FROM_BACKOFF_Q
from ksched.framework.clock import SimClock
from ksched.scheduler import Scheduler
from ksched.sim import TimeReplay
from ksched.traces import synthetic


def _one_pod_waits_for_another(sched: Scheduler) -> None:
    """``b`` fails for lack of CPU while ``a`` runs, then ``a`` is deleted at t=0."""
    sched.add_nodes([node("n1", cpu="1")])
    sched.add_pod(pod("a", cpu="1"))
    (placed,) = sched.run()
    assert placed.scheduled
    sched.add_pod(pod("b", cpu="1"))
    (failed,) = sched.run()
    assert not failed.scheduled
    sched.delete_pod("default/a")  # NodeResourcesFit's hint: a deletion may make room


def test_the_default_scheduler_retries_at_once_when_idle() -> None:
    clock = SimClock()
    sched = scheduler(clock=clock)
    assert sched.feature_gates == {POP_FROM_BACKOFF_Q: True}
    _one_pod_waits_for_another(sched)
    (retried,) = sched.run()
    assert retried.scheduled and retried.node == "n1" and clock.now() == 0.0


def test_with_the_gate_off_the_retry_waits_out_the_backoff() -> None:
    clock = SimClock()
    sched = scheduler(clock=clock, feature_gates={POP_FROM_BACKOFF_Q: False})
    _one_pod_waits_for_another(sched)
    assert sched.run() == []
    assert sched.next_wakeup() == pytest.approx(1.0)  # podInitialBackoffSeconds
    clock.advance(1.0)
    (retried,) = sched.run()
    assert retried.scheduled


def test_replays_turn_the_gate_off_unless_asked() -> None:
    workload = synthetic(n_nodes=4, n_pods=10, seed=1)
    off = TimeReplay(workload)
    off._start_scheduler(None)
    assert off.scheduler.feature_gates == {POP_FROM_BACKOFF_Q: False}
    on = TimeReplay(workload, feature_gates={POP_FROM_BACKOFF_Q: True})
    on._start_scheduler(None)
    assert on.scheduler.feature_gates == {POP_FROM_BACKOFF_Q: True}
    result = TimeReplay(workload, feature_gates={POP_FROM_BACKOFF_Q: True}).run()
    assert result.summary["pods_total"] == 10
    with pytest.raises(ValueError, match="unrecognized feature gate: Nope"):
        TimeReplay(workload, feature_gates={"Nope": True})
