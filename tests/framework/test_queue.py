"""SchedulingQueue: kube-scheduler's PriorityQueue rules on a simulated clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ksched.api import Pod
from ksched.framework.clock import SimClock
from ksched.framework.events import (
    ASSIGNED_POD_ADD,
    ASSIGNED_POD_DELETE,
    FORCE_ACTIVATE,
    NODE_ADD,
    UNSCHEDULABLE_TIMEOUT,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
    node_update_event,
)
from ksched.framework.plugins import queuesort, scheduling_gates
from ksched.framework.pod_info import PodInfo
from ksched.framework.queue import SchedulingQueue, priority_sort_key
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.framework.status import Status

FIT = "NodeResourcesFit"
TAINTS = "TaintToleration"
WAITER = "GangWaiter"  # a plugin that rejects with Pending
SILENT = "NoEventsPlugin"  # registered no events at all

NODE_TAINT = node_update_event(ActionType.UPDATE_NODE_TAINT)
PDB_ADD = ClusterEvent(EventResource.PDB, ActionType.ADD, "PodDisruptionBudgetAdd")


def make_pod(
    name: str,
    priority: int = 0,
    gates: Sequence[str] = (),
    labels: dict[str, str] | None = None,
    nominated: str | None = None,
) -> PodInfo:
    manifest: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {
            "priority": priority,
            "containers": [{"name": "c", "image": "pause"}],
            "schedulingGates": [{"name": g} for g in gates],
        },
    }
    if nominated:
        manifest["status"] = {"nominatedNodeName": nominated}
    return PodInfo.from_pod(Pod.model_validate(manifest))


def with_gates(pod: PodInfo, gates: Sequence[str]) -> PodInfo:
    manifest = pod.pod.model_dump(by_alias=True)
    manifest["spec"]["schedulingGates"] = [{"name": g} for g in gates]
    return PodInfo.from_pod(Pod.model_validate(manifest))


def with_labels(pod: PodInfo, labels: dict[str, str]) -> PodInfo:
    manifest = pod.pod.model_dump(by_alias=True)
    manifest["metadata"]["labels"] = labels
    return PodInfo.from_pod(Pod.model_validate(manifest))


def priority_less(a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
    """PrioritySort's ``less`` (queuesort/priority_sort.go)."""
    return a.priority > b.priority or (a.priority == b.priority and a.timestamp < b.timestamp)


def gates_pre_enqueue() -> tuple[str, Callable[[PodInfo], Any]]:
    plugin = scheduling_gates.new(None, None)
    return plugin.name, plugin.pre_enqueue


def skip_hint(pod: Any, old: Any, new: Any) -> QueueingHint:
    return QueueingHint.QUEUE_SKIP


def failing_hint(pod: Any, old: Any, new: Any) -> QueueingHint:
    raise RuntimeError("hint broke")


HINTS: dict[str, list[ClusterEventWithHint]] = {
    FIT: [ClusterEventWithHint(NODE_ADD), ClusterEventWithHint(ASSIGNED_POD_DELETE)],
    TAINTS: [ClusterEventWithHint(NODE_TAINT, skip_hint)],
    WAITER: [ClusterEventWithHint(ASSIGNED_POD_ADD)],
    "Broken": [ClusterEventWithHint(NODE_ADD, failing_hint)],
    SILENT: [],
}


def new_queue(clock: SimClock, **kwargs: Any) -> SchedulingQueue:
    kwargs.setdefault("event_hints", HINTS)
    kwargs.setdefault("pre_enqueue", [gates_pre_enqueue()])
    return SchedulingQueue(clock, **kwargs)


def where(q: SchedulingQueue, key: str) -> list[str]:
    """Every structure holding ``key``: a correct queue answers with at most one."""
    found = [
        name
        for name, structure in (
            ("active", q._active),
            ("backoff", q._backoff),
            ("backoff", q._error_backoff),
            ("unschedulable", q._unschedulable),
        )
        if key in structure
    ]
    found += ["in_flight"] * sum(p.key == key for p in q.in_flight())
    return found


def fail(
    q: SchedulingQueue,
    qpi: QueuedPodInfo,
    cycle: int,
    plugins: Sequence[str] = (FIT,),
    pending: Sequence[str] = (),
) -> None:
    qpi.unschedulable_plugins.update(plugins)
    qpi.pending_plugins.update(pending)
    q.add_unschedulable_if_not_present(qpi, cycle)


def pop(q: SchedulingQueue) -> tuple[QueuedPodInfo, int]:
    qpi = q.pop()
    assert qpi is not None
    return qpi, q.scheduling_cycle


def park(q: SchedulingQueue, pod: PodInfo, plugins: Sequence[str] = (FIT,)) -> QueuedPodInfo:
    """Add, pop and fail ``pod`` with no event in between: it lands in the pool."""
    q.add(pod)
    qpi, cycle = pop(q)
    fail(q, qpi, cycle, plugins)
    assert where(q, pod.key) == ["unschedulable"]
    return qpi


# -- order ------------------------------------------------------------------------
ORDER_CASES = [
    pytest.param(
        [("low", 1, 0.0), ("high", 10, 1.0), ("mid", 5, 2.0)], ["high", "mid", "low"], id="priority"
    ),
    pytest.param([("b", 0, 1.0), ("c", 0, 2.0), ("a", 0, 3.0)], ["b", "c", "a"], id="fifo-by-time"),
    pytest.param(
        [("x", 0, 0.0), ("y", 0, 0.0), ("z", 0, 0.0), ("w", 2, 0.0)],
        ["w", "x", "y", "z"],
        id="same-time-by-insertion",
    ),
    pytest.param(
        [("a", 1, 0.0), ("b", 2, 1.0), ("c", 1, 1.0), ("d", 2, 1.0)],
        ["b", "d", "a", "c"],
        id="mixed",
    ),
]


@pytest.mark.parametrize(
    "order",
    [
        pytest.param({"sort_key": priority_sort_key}, id="sort_key"),
        pytest.param({"less": priority_less}, id="less"),
        pytest.param({"sort_key": queuesort.new(None, None).sort_key}, id="PrioritySort.sort_key"),
        pytest.param({"less": queuesort.new(None, None).less}, id="PrioritySort.less"),
        pytest.param({}, id="default"),
    ],
)
@pytest.mark.parametrize(("adds", "expected"), ORDER_CASES)
def test_pop_order(
    order: dict[str, Any], adds: list[tuple[str, int, float]], expected: list[str]
) -> None:
    clock = SimClock()
    q = new_queue(clock, **order)
    for name, priority, at in adds:
        clock.set(at)
        q.add(make_pod(name, priority))
    popped = []
    while (qpi := q.pop()) is not None:
        popped.append(qpi.pod_info.name)
    assert popped == expected


def test_ties_follow_arrival_not_pod_comparison() -> None:
    """Equal keys never compare the pods themselves (which define no order).

    An update re-pushes the pod, yet it keeps its place among equals.
    """
    q = new_queue(SimClock(), sort_key=lambda qpi: (0,))
    pods = [make_pod(f"p{i}") for i in range(50)]
    for pod in pods:
        q.add(pod)
    q.update(pods[0], with_labels(pods[0], {"v": "2"}))
    assert [pop(q)[0].pod_info.name for _ in pods] == [p.name for p in pods]


def test_pop_bookkeeping() -> None:
    clock = SimClock(5.0)
    q = new_queue(clock)
    assert q.pop() is None
    q.add(make_pod("a"))
    clock.advance(2.0)
    qpi, cycle = pop(q)
    assert (qpi.attempts, qpi.initial_attempt_timestamp, cycle) == (1, 7.0, 1)
    assert where(q, "default/a") == ["in_flight"]
    assert len(q) == 0 and "default/a" not in q
    q.done("default/a")
    assert where(q, "default/a") == []


def test_update_in_active_queue_reorders() -> None:
    q = new_queue(SimClock())
    low, high = make_pod("low", 1), make_pod("high", 5)
    q.add(low)
    q.add(high)
    q.update(low, make_pod("low", 9))
    assert [pop(q)[0].pod_info.name for _ in range(2)] == ["low", "high"]


# -- backoff ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("initial", "maximum", "expected"),
    [
        pytest.param(1.0, 10.0, [0.0, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0], id="default"),
        pytest.param(0.5, 3.0, [0.0, 0.5, 1.0, 2.0, 3.0, 3.0, 3.0], id="capped-mid-doubling"),
        pytest.param(2.0, 2.0, [0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0], id="initial-is-max"),
    ],
)
def test_backoff_duration(initial: float, maximum: float, expected: list[float]) -> None:
    q = new_queue(SimClock(), initial_backoff=initial, max_backoff=maximum)
    assert [q.backoff_duration(n) for n in range(len(expected))] == expected
    assert q.backoff_duration(10_000) == maximum


def test_backoff_doubles_on_each_failure() -> None:
    """An Error (no rejecting plugin) retries after 1, 2, 4, 8, 10, 10 s on the clock."""
    clock = SimClock()
    q = new_queue(clock)
    q.add(make_pod("a"))
    waits = []
    for _ in range(6):
        qpi, cycle = pop(q)
        fail(q, qpi, cycle, plugins=())
        assert where(q, qpi.key) == ["backoff"]
        due = q.next_timer_at()
        assert due is not None
        waits.append(due - clock.now())
        clock.set(due - 1e-6)
        q.run_timers()
        assert q.pop() is None, "popped before its backoff expired"
        clock.set(due)
        q.run_timers()
        assert where(q, qpi.key) == ["active"]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


# -- SchedulerPopFromBackoffQ (KEP-5142) -------------------------------------------
def popping_queue(clock: SimClock, **kwargs: Any) -> SchedulingQueue:
    return new_queue(clock, pop_from_backoff=True, **kwargs)


def to_backoff(q: SchedulingQueue, pod: PodInfo, plugins: Sequence[str] = (FIT,)) -> None:
    """Park ``pod`` in the pool, then let an event it waits for send it to backoffQ."""
    park(q, pod, plugins)
    q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
    assert where(q, pod.key) == ["backoff"]


@pytest.mark.parametrize("on", [True, False])
def test_empty_active_queue_pops_a_rejected_pod_before_its_backoff_ends(on: bool) -> None:
    clock = SimClock()
    q = new_queue(clock, pop_from_backoff=on)
    to_backoff(q, make_pod("a"))
    assert q.has_ready() is on
    qpi = q.pop()
    if not on:
        assert qpi is None  # waits out its 1 s backoff, as before v1.33
        return
    assert qpi is not None and qpi.key == "default/a" and qpi.attempts == 2
    assert clock.now() == 0.0 and where(q, "default/a") == ["in_flight"]


def test_active_pods_come_before_backoff_pods() -> None:
    q = popping_queue(SimClock())
    to_backoff(q, make_pod("old", priority=100))
    q.add(make_pod("new", priority=0))
    assert pop(q)[0].key == "default/new"
    assert pop(q)[0].key == "default/old"
    assert q.pop() is None


def test_a_pod_that_hit_an_error_waits_out_its_backoff() -> None:
    """Only podBackoffQ is popped early; podErrorBackoffQ is not (``unlockedPop``)."""
    clock = SimClock()
    q = popping_queue(clock)
    q.add(make_pod("a"))
    qpi, cycle = pop(q)
    fail(q, qpi, cycle, plugins=())
    assert where(q, "default/a") == ["backoff"]
    assert not q.has_ready() and q.pop() is None
    # 1 s of backoff from t=0 ends in window [1, 2): held until the next window starts.
    assert q.next_timer_at() == 2.0
    clock.set(1.999)
    q.run_timers()
    assert q.pop() is None
    clock.set(2.0)
    q.run_timers()
    assert pop(q)[0].key == "default/a"


@pytest.mark.parametrize(
    ("failed_at", "ready_at"),
    [(0.0, 2.0), (0.25, 2.0), (0.999, 2.0), (1.0, 3.0), (7.5, 9.0)],
)
def test_backoff_ends_with_its_one_second_window(failed_at: float, ready_at: float) -> None:
    """Expiry truncated to whole seconds, backing off while that window is current."""
    clock = SimClock()
    q = popping_queue(clock)
    q.add(make_pod("a"))
    qpi, cycle = pop(q)
    clock.set(failed_at)
    fail(q, qpi, cycle, plugins=())
    assert q.next_timer_at() == ready_at


def test_backoff_pods_pop_by_window_then_queue_sort_order() -> None:
    clock = SimClock()
    q = popping_queue(clock)
    to_backoff(q, make_pod("low", priority=1))  # backoff ends in window [1, 2)
    to_backoff(q, make_pod("high", priority=9))  # same window: priority first
    clock.set(1.5)
    to_backoff(q, make_pod("top", priority=100))  # window [2, 3): after both
    assert [pop(q)[0].key for _ in range(3)] == ["default/high", "default/low", "default/top"]


def test_a_pod_gated_on_its_way_to_backoff_goes_to_the_pool() -> None:
    """PreEnqueue runs when a pod enters backoffQ, not when it leaves (``moveToBackoffQ``)."""
    refuse: set[str] = set()

    def gate(pod: PodInfo) -> Status | None:
        return Status.unresolvable("held") if pod.key in refuse else None

    q = popping_queue(SimClock(), pre_enqueue=[("Gate", gate)])
    refuse.clear()
    q.add(make_pod("b"))
    qpi, cycle = pop(q)
    fail(q, qpi, cycle)
    q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
    assert where(q, "default/b") == ["backoff"]
    refuse.add("default/b")  # a gate that closes later does not stop it leaving backoffQ
    assert pop(q)[0].key == "default/b"

    refuse.clear()
    q.add(make_pod("a"))
    qpi, cycle = pop(q)
    fail(q, qpi, cycle)
    refuse.add("default/a")  # closes while the pod waits in the pool
    q.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE)
    assert where(q, "default/a") == ["unschedulable"] and q.pop() is None


# -- unschedulable pods and events ------------------------------------------------
@pytest.mark.parametrize(
    ("plugins", "pending", "event", "after", "expected"),
    [
        pytest.param([FIT], [], PDB_ADD, 5.0, "unschedulable", id="unrelated-event"),
        pytest.param(
            [FIT], [], ASSIGNED_POD_ADD, 5.0, "unschedulable", id="same-resource-other-action"
        ),
        pytest.param([FIT], [], NODE_ADD, 5.0, "active", id="registered-event"),
        pytest.param([FIT], [], NODE_ADD, 0.5, "backoff", id="registered-event-still-backing-off"),
        pytest.param([FIT], [], ASSIGNED_POD_DELETE, 5.0, "active", id="second-registered-event"),
        pytest.param([TAINTS], [], NODE_TAINT, 5.0, "unschedulable", id="hint-queue-skip"),
        pytest.param([TAINTS, FIT], [], NODE_ADD, 5.0, "active", id="another-rejector-matches"),
        pytest.param(["Broken"], [], NODE_ADD, 5.0, "active", id="hint-error-counts-as-queue"),
        pytest.param([SILENT], [], NODE_ADD, 5.0, "unschedulable", id="plugin-registered-nothing"),
        pytest.param(["Unregistered"], [], NODE_ADD, 5.0, "unschedulable", id="plugin-absent"),
        pytest.param([SILENT], [], FORCE_ACTIVATE, 5.0, "active", id="wildcard-moves-all"),
        pytest.param(
            [SILENT], [], UNSCHEDULABLE_TIMEOUT, 0.5, "backoff", id="wildcard-keeps-backoff"
        ),
        pytest.param([], [WAITER], ASSIGNED_POD_ADD, 0.5, "active", id="pending-skips-backoff"),
        pytest.param([FIT], [WAITER], NODE_ADD, 0.5, "backoff", id="pending-not-answered"),
        pytest.param([], [WAITER], NODE_ADD, 0.5, "unschedulable", id="pending-unrelated"),
    ],
)
def test_event_moves_pool_pod(
    plugins: list[str], pending: list[str], event: ClusterEvent, after: float, expected: str
) -> None:
    clock = SimClock()
    q = new_queue(clock)
    pod = make_pod("a")
    q.add(pod)
    qpi, cycle = pop(q)
    fail(q, qpi, cycle, plugins, pending)
    assert where(q, pod.key) == ["unschedulable"]
    clock.advance(after)
    q.move_all_to_active_or_backoff(event)
    assert where(q, pod.key) == [expected]


def test_hint_receives_pod_and_objects() -> None:
    seen: list[tuple[Any, ...]] = []

    def hint(pod: Any, old: Any, new: Any) -> QueueingHint:
        seen.append((pod, old, new))
        return QueueingHint.QUEUE

    clock = SimClock()
    q = new_queue(clock, event_hints={FIT: [ClusterEventWithHint(NODE_ADD, hint)]})
    qpi = park(q, make_pod("a"))
    q.move_all_to_active_or_backoff(NODE_ADD, None, "node-1")
    assert seen == [(qpi.pod_info, None, "node-1")]


def test_precheck_narrows_candidates() -> None:
    clock = SimClock()
    q = new_queue(clock)
    park(q, make_pod("a"))
    park(q, make_pod("b"))
    clock.advance(5.0)
    q.move_all_to_active_or_backoff(NODE_ADD, precheck=lambda pod: pod.name == "b")
    assert (where(q, "default/a"), where(q, "default/b")) == (["unschedulable"], ["active"])


def test_leftover_flush_after_five_minutes() -> None:
    clock = SimClock()
    q = new_queue(clock)
    park(q, make_pod("a"), plugins=[SILENT])
    assert q.next_timer_at() == 300.0
    clock.set(299.999)
    q.run_timers()
    assert where(q, "default/a") == ["unschedulable"]
    cycle_before = q.move_request_cycle
    clock.set(300.0)
    q.run_timers()
    assert where(q, "default/a") == ["active"]
    assert q.move_request_cycle == q.scheduling_cycle > cycle_before
    assert q.next_timer_at() is None


# -- gated pods -------------------------------------------------------------------
def test_gated_pod_is_never_popped_until_its_gate_is_removed() -> None:
    clock = SimClock()
    q = new_queue(clock)
    gated = make_pod("gated", priority=100, gates=["example.com/wait"])
    q.add(gated)
    q.add(make_pod("free"))
    assert q.pending_pods() == {"active": 1, "backoff": 0, "unschedulable": 0, "gated": 1}
    assert pop(q)[0].pod_info.name == "free"
    assert q.pop() is None
    for event in (NODE_ADD, FORCE_ACTIVATE, UNSCHEDULABLE_TIMEOUT):
        q.move_all_to_active_or_backoff(event)
    q.activate([gated.key])
    clock.advance(3600.0)
    q.run_timers()
    assert q.next_timer_at() is None, "no timeout can lift a gate"
    assert q.pop() is None
    relabelled = with_labels(gated, {"app": "x"})
    q.update(gated, relabelled)
    assert where(q, gated.key) == ["unschedulable"] and q.pending_pods()["gated"] == 1
    ungated = with_gates(relabelled, [])
    q.update(relabelled, ungated)
    qpi, _ = pop(q)
    assert (qpi.pod_info, qpi.gated, qpi.attempts) == (ungated, False, 1)


def test_gated_pods_skip_hints() -> None:
    """Events never consult hints for a scheduling-gated pod (kubernetes#124384)."""
    calls: list[Any] = []

    def counting(pod: Any, old: Any, new: Any) -> QueueingHint:
        calls.append(pod)
        return QueueingHint.QUEUE

    hints = {"SchedulingGates": [ClusterEventWithHint(NODE_ADD, counting)]}
    q = new_queue(SimClock(), event_hints=hints)
    q.add(make_pod("gated", gates=["g"]))
    q.move_all_to_active_or_backoff(NODE_ADD)
    assert calls == [] and q.pending_pods()["gated"] == 1


def test_other_gates_are_rechecked_by_the_leftover_flush() -> None:
    """A PreEnqueue gate other than SchedulingGates is retried every max_in_unschedulable."""
    quota_full = True

    def quota(pod: PodInfo) -> Status | None:
        return Status.unschedulable("quota exceeded") if quota_full else None

    clock = SimClock()
    q = new_queue(clock, pre_enqueue=[("Quota", quota)], max_in_unschedulable=60.0)
    q.add(make_pod("a"))
    assert q.next_timer_at() == 60.0
    clock.set(60.0)
    q.run_timers()
    assert q.pending_pods()["gated"] == 1
    assert q.next_timer_at() == 120.0, "a pod gated again must not keep an overdue timer"
    quota_full = False
    clock.set(120.0)
    q.run_timers()
    assert pop(q)[0].pod_info.name == "a"


def test_gating_plugin_is_recorded() -> None:
    q = new_queue(SimClock())
    q.add(make_pod("g", gates=["a", "b"]))
    qpi = q._unschedulable["default/g"]
    assert (qpi.gated, qpi.gating_plugin, qpi.unschedulable_plugins) == (
        True,
        "SchedulingGates",
        {"SchedulingGates"},
    )


def test_erring_pre_enqueue_gates_instead_of_raising() -> None:
    def broken(pod: PodInfo) -> None:
        raise RuntimeError("boom")

    q = new_queue(SimClock(), pre_enqueue=[("Broken", broken)])
    q.add(make_pod("a"))
    assert q.pending_pods()["gated"] == 1 and q.pop() is None


# -- the move request cycle -------------------------------------------------------
@pytest.mark.parametrize(
    ("event_during_cycle", "event_before_pop", "expected"),
    [
        pytest.param(None, None, "unschedulable", id="no-event"),
        pytest.param(NODE_ADD, None, "backoff", id="event-during-cycle"),
        pytest.param(None, NODE_ADD, "unschedulable", id="event-before-pop"),
        pytest.param(PDB_ADD, None, "unschedulable", id="uninteresting-event-during-cycle"),
        pytest.param(UNSCHEDULABLE_TIMEOUT, None, "backoff", id="wildcard-during-cycle"),
    ],
)
def test_move_request_cycle(
    event_during_cycle: ClusterEvent | None, event_before_pop: ClusterEvent | None, expected: str
) -> None:
    """An event while the pod was being scheduled may already have fixed its problem."""
    q = new_queue(SimClock())
    q.add(make_pod("a"))
    if event_before_pop is not None:
        q.move_all_to_active_or_backoff(event_before_pop)
    qpi, cycle = pop(q)
    if event_during_cycle is not None:
        q.move_all_to_active_or_backoff(event_during_cycle)
    fail(q, qpi, cycle)
    assert where(q, qpi.key) == [expected]


def test_in_flight_update_activation_and_delete() -> None:
    clock = SimClock()
    q = new_queue(clock)
    pods = [make_pod(n) for n in "abc"]
    for pod in pods:
        q.add(pod)
    flights = [pop(q) for _ in pods]
    newer = with_labels(pods[0], {"tier": "web"})
    q.update(pods[0], newer)
    q.activate([pods[1].key])
    q.delete(pods[2])
    assert where(q, pods[2].key) == []
    for qpi, cycle in flights:
        fail(q, qpi, cycle)
    assert where(q, pods[0].key) == ["backoff"] and flights[0][0].pod_info is newer
    assert where(q, pods[1].key) == ["backoff"]
    assert where(q, pods[2].key) == [], "a pod deleted in flight must not come back"


def test_requeue_of_a_waiting_pod_is_refused() -> None:
    q = new_queue(SimClock())
    pod = make_pod("a")
    q.add(pod)
    stray = QueuedPodInfo(pod, 0.0)
    with pytest.raises(ValueError, match="already present in the active queue"):
        q.add_unschedulable_if_not_present(stray, 0)
    assert where(q, pod.key) == ["active"]


def test_repeated_add_does_not_duplicate() -> None:
    q = new_queue(SimClock())
    pod = make_pod("a")
    q.add(pod)
    q.add(pod)
    qpi, _ = pop(q)
    q.add(pod)
    assert where(q, pod.key) == ["in_flight"] and len(q) == 0
    q.done(qpi.key)


def test_activate_skips_backoff() -> None:
    clock = SimClock()
    q = new_queue(clock)
    park(q, make_pod("parked"))
    q.add(make_pod("erring"))
    qpi, cycle = pop(q)
    fail(q, qpi, cycle, plugins=())
    assert where(q, "default/erring") == ["backoff"]
    q.activate(["default/parked", "default/erring", "default/unknown"])
    assert q.pending_pods() == {"active": 2, "backoff": 0, "unschedulable": 0, "gated": 0}


# -- timers -----------------------------------------------------------------------
def test_next_timer_at_is_exact() -> None:
    """Jumping to each deadline releases something; just before it, nothing moves."""
    clock = SimClock()
    q = new_queue(clock)
    park(q, make_pod("parked"), plugins=[SILENT])  # leftover at 300
    clock.set(10.0)
    for name in ("e1", "e2"):
        q.add(make_pod(name))
        qpi, cycle = pop(q)
        fail(q, qpi, cycle, plugins=())  # backoff until 11
    deadlines = []
    while (due := q.next_timer_at()) is not None:
        before = q.pending_pods()
        clock.set(max(due - 1e-6, clock.now()))
        q.run_timers()
        assert q.pending_pods() == before
        clock.set(due)
        q.run_timers()
        assert q.pending_pods() != before
        deadlines.append(due)
    assert deadlines == [11.0, 300.0]
    assert q.pending_pods()["active"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"initial_backoff": 0.0}, "'initial_backoff'", id="initial"),
        pytest.param({"max_backoff": 0.5}, "'max_backoff'", id="max-below-initial"),
        pytest.param({"max_in_unschedulable": -1.0}, "'max_in_unschedulable'", id="pool"),
    ],
)
def test_invalid_durations_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SchedulingQueue(SimClock(), **kwargs)


# -- nominator --------------------------------------------------------------------
def test_nominator() -> None:
    q = new_queue(SimClock())
    nom = q.nominator
    a, b = make_pod("a"), make_pod("b")
    nom.add_nominated_pod(a, "n1")
    nom.add_nominated_pod(b, "n1")
    nom.add_nominated_pod(a, "n2")
    assert (nom.nominated_pods_for_node("n1"), nom.nominated_pods_for_node("n2")) == ([b], [a])
    nom.delete_nominated_pod_if_exists(b)
    nom.delete_nominated_pod_if_exists(b)
    assert nom.nominated_pods_for_node("n1") == []
    # Requeueing keeps the nomination made in memory; deleting the pod drops it.
    q.add(a)
    qpi, cycle = pop(q)
    fail(q, qpi, cycle)
    assert nom.nominated_pods_for_node("n2") == [a]
    q.delete(a)
    assert len(nom) == 0


@pytest.mark.parametrize(
    ("old_status", "new_status", "expected"),
    [
        pytest.param(None, None, "n-mem", id="neither-keeps-memory"),
        pytest.param(None, "n-api", "n-api", id="status-set"),
        pytest.param("n-mem", None, None, id="status-cleared"),
    ],
)
def test_nominator_update(
    old_status: str | None, new_status: str | None, expected: str | None
) -> None:
    q = new_queue(SimClock())
    old, new = make_pod("a", nominated=old_status), make_pod("a", nominated=new_status)
    q.nominator.add_nominated_pod(old, "n-mem")
    q.nominator.update_nominated_pod(old, new)
    assert q.nominator.nominated_node(new) == expected
    if expected:
        assert q.nominator.nominated_pods_for_node(expected) == [new]


def test_queue_adds_nomination_from_status() -> None:
    q = new_queue(SimClock())
    pod = make_pod("a", nominated="n1")
    q.add(pod)
    assert q.nominator.nominated_pods_for_node("n1") == [pod]


# -- performance ------------------------------------------------------------------
# -- invariants under any interleaving --------------------------------------------
PROPERTY_PLUGINS = [FIT, TAINTS, WAITER, SILENT]
PROPERTY_EVENTS = [
    NODE_ADD,
    ASSIGNED_POD_DELETE,
    NODE_TAINT,
    PDB_ADD,
    FORCE_ACTIVATE,
    UNSCHEDULABLE_TIMEOUT,
]


class QueueMachine(RuleBasedStateMachine):
    """Every added pod is in exactly one of active/backoff/unschedulable/in flight until deleted."""

    pop_from_backoff = False

    def __init__(self) -> None:
        super().__init__()
        self.clock = SimClock()
        self.queue = new_queue(
            self.clock, max_in_unschedulable=60.0, pop_from_backoff=self.pop_from_backoff
        )
        self.live: dict[str, PodInfo] = {}
        self.gone: set[str] = set()
        self.flying: dict[str, tuple[QueuedPodInfo, int]] = {}
        self.count = 0

    @rule(priority=st.integers(0, 3), gated=st.booleans())
    def add(self, priority: int, gated: bool) -> None:
        pod = make_pod(f"p{self.count}", priority, gates=["g"] if gated else ())
        self.count += 1
        self.queue.add(pod)
        self.live[pod.key] = pod

    @rule()
    def pop(self) -> None:
        qpi = self.queue.pop()
        if qpi is not None:
            assert not qpi.gated and qpi.key not in self.flying
            self.flying[qpi.key] = (qpi, self.queue.scheduling_cycle)

    @rule(
        data=st.data(),
        plugins=st.sets(st.sampled_from(PROPERTY_PLUGINS)),
        pending=st.sets(st.sampled_from(PROPERTY_PLUGINS)),
    )
    def fail(self, data: st.DataObject, plugins: set[str], pending: set[str]) -> None:
        if self.flying:
            key = data.draw(st.sampled_from(sorted(self.flying)))
            qpi, cycle = self.flying.pop(key)
            fail(self.queue, qpi, cycle, sorted(plugins), sorted(pending))

    @rule(data=st.data())
    def bind(self, data: st.DataObject) -> None:
        if self.flying:
            key = data.draw(st.sampled_from(sorted(self.flying)))
            del self.flying[key]
            self.queue.done(key)
            if self.live.pop(key, None) is not None:
                self.gone.add(key)

    @rule(event=st.sampled_from(PROPERTY_EVENTS))
    def event(self, event: ClusterEvent) -> None:
        self.queue.move_all_to_active_or_backoff(event)

    @rule(seconds=st.floats(0.0, 120.0))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.queue.run_timers()

    @rule()
    def jump_to_next_timer(self) -> None:
        due = self.queue.next_timer_at()
        if due is not None:
            self.clock.set(max(due, self.clock.now()))
            self.queue.run_timers()

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        if self.live:
            key = data.draw(st.sampled_from(sorted(self.live)))
            self.queue.delete(self.live.pop(key))
            self.gone.add(key)

    @rule(data=st.data(), ungate=st.booleans())
    def update(self, data: st.DataObject, ungate: bool) -> None:
        if self.live:
            key = data.draw(st.sampled_from(sorted(self.live)))
            old = self.live[key]
            new = with_gates(old, []) if ungate else with_labels(old, {"v": str(self.count)})
            self.count += 1
            self.queue.update(old, new)
            self.live[key] = new

    @rule(data=st.data())
    def activate(self, data: st.DataObject) -> None:
        if self.live:
            self.queue.activate([data.draw(st.sampled_from(sorted(self.live)))])

    @invariant()
    def each_pod_in_exactly_one_place(self) -> None:
        q = self.queue
        for key in self.live:
            assert len(where(q, key)) == 1, (key, where(q, key))
        for key in self.gone:
            assert where(q, key) == [], (key, where(q, key))
        counts = q.pending_pods()
        assert sum(counts.values()) == len(q) == len(self.live) - len(q.in_flight())

    @invariant()
    def timers_lie_ahead(self) -> None:
        """Every rule that moves the clock runs the timers, so none is overdue."""
        due = self.queue.next_timer_at()
        assert due is None or due > self.clock.now()


QueueMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_queue_never_loses_or_duplicates_pods = QueueMachine.TestCase


class PopFromBackoffQueueMachine(QueueMachine):
    """The same invariants with SchedulerPopFromBackoffQ on."""

    pop_from_backoff = True


PopFromBackoffQueueMachine.TestCase.settings = QueueMachine.TestCase.settings
test_queue_with_pop_from_backoff_never_loses_or_duplicates_pods = (
    PopFromBackoffQueueMachine.TestCase
)
