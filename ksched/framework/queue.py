"""kube-scheduler's scheduling queue, driven by an injected clock so a simulation never sleeps.

Upstream ``PriorityQueue`` (pkg/scheduler/backend/queue/scheduling_queue.go,
cited below as ``scheduling_queue.go``).  Every waiting pod is in exactly one of

- activeQ: a heap in QueueSort order; ``pop`` takes the next pod from it;
- backoffQ: heaps by backoff expiry, for pods that failed and may retry soon
  (one for pods a plugin rejected, one for pods that hit an error); with
  ``SchedulerPopFromBackoffQ`` (KEP-5142, on by default since v1.33) ``pop``
  takes the first rejected pod from it when activeQ is empty;
- the unschedulable pool: pods waiting for a cluster event that may help them,
  and the pods a PreEnqueue plugin gated (``gated=True``), which are never popped.

A popped pod is *in flight* until ``add_unschedulable_if_not_present`` or
``done``.  Nothing runs on its own: the owner calls ``run_timers`` (each cycle,
or from a thread every second as upstream does), and a discrete-event simulator
may jump the clock to ``next_timer_at``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from ksched.framework.clock import Clock
from ksched.framework.events import (
    UNSCHEDULABLE_TIMEOUT,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.nominator import Nominator
from ksched.framework.plugins.names import SCHEDULING_GATES
from ksched.framework.pod_info import PodInfo
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.framework.status import Status, is_success

__all__ = [
    "ACTIVE",
    "BACKOFF",
    "GATED",
    "UNSCHEDULABLE",
    "PreEnqueueFn",
    "SchedulingQueue",
    "priority_sort_key",
]

logger = logging.getLogger(__name__)

ACTIVE: Final = "active"
BACKOFF: Final = "backoff"
UNSCHEDULABLE: Final = "unschedulable"
GATED: Final = "gated"
"""The four values of the ``queue`` label of upstream's ``scheduler_pending_pods`` metric."""

PreEnqueueFn = Callable[[PodInfo], Status | None]

_BACKOFF_WINDOW: Final = 1.0
"""Seconds per backoffQ ordering window (upstream ``backoffQOrderingWindowDuration``)."""

_NO_HINTS: Final[Mapping[str, Sequence[ClusterEventWithHint]]] = MappingProxyType({})

# Fields whose change does not make an unschedulable pod worth retrying
# (scheduling_queue.go ``isPodUpdated``).
_NOT_AN_UPDATE: Final[dict[str, Any]] = {
    "status": True,
    "metadata": {"resource_version", "generation", "managed_fields", "finalizers"},
}

K = TypeVar("K")


class _Strategy(Enum):
    """Upstream ``queueingStrategy``: where a pod goes after an event."""

    SKIP = 0
    AFTER_BACKOFF = 1
    IMMEDIATELY = 2


class _KeyedHeap(Generic[K]):
    """Pods in a binary heap: push/pop in O(log n), removal by pod key in O(1).

    Removal forgets the entry and the heap drops it once it surfaces (lazy
    deletion), rebuilding when dead entries outnumber live ones.  An entry is
    ``(key, seq, push, pod key, pod)``: ``seq`` (arrival order in the queue)
    breaks ties first-come-first-served, and the unique ``push`` ensures two
    entries never compare further, so pods themselves need no ordering.
    """

    __slots__ = ("_dead", "_entries", "_heap", "_pushes")

    def __init__(self) -> None:
        self._heap: list[tuple[K, int, int, str, QueuedPodInfo]] = []
        self._entries: dict[str, tuple[K, int, int, str, QueuedPodInfo]] = {}
        self._pushes = itertools.count()
        self._dead = 0

    def push(self, qpi: QueuedPodInfo, key: K) -> None:
        """Insert ``qpi`` at ``key``, replacing its earlier entry if any."""
        pod_key = qpi.key
        entry = (key, qpi.seq, next(self._pushes), pod_key, qpi)
        if self._entries.get(pod_key) is not None:
            self._dead += 1
        self._entries[pod_key] = entry
        heapq.heappush(self._heap, entry)

    def pop(self) -> QueuedPodInfo | None:
        heap, entries = self._heap, self._entries
        while heap:
            entry = heapq.heappop(heap)
            if entries.get(entry[3]) is entry:
                del entries[entry[3]]
                return entry[4]
            self._dead -= 1
        return None

    def peek_key(self) -> K | None:
        """The key of the first live entry."""
        heap, entries = self._heap, self._entries
        while heap:
            entry = heap[0]
            if entries.get(entry[3]) is entry:
                return entry[0]
            heapq.heappop(heap)
            self._dead -= 1
        return None

    def remove(self, pod_key: str) -> QueuedPodInfo | None:
        entry = self._entries.pop(pod_key, None)
        if entry is None:
            return None
        self._dead += 1
        if self._dead > 64 and self._dead > len(self._entries):
            self._heap = list(self._entries.values())
            heapq.heapify(self._heap)
            self._dead = 0
        return entry[4]

    def get(self, pod_key: str) -> QueuedPodInfo | None:
        entry = self._entries.get(pod_key)
        return None if entry is None else entry[4]

    def __contains__(self, pod_key: str) -> bool:
        return pod_key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


class _LessKey:
    """Heap key from a QueueSort ``less``; equal when neither pod is less, so ``seq`` decides."""

    __slots__ = ("less", "pod")

    def __init__(
        self, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool], pod: QueuedPodInfo
    ) -> None:
        self.less = less
        self.pod = pod

    def __lt__(self, other: _LessKey) -> bool:
        return self.less(self.pod, other.pod)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _LessKey)
            and not self.less(self.pod, other.pod)
            and not self.less(other.pod, self.pod)
        )

    __hash__ = None  # type: ignore[assignment]


def priority_sort_key(qpi: QueuedPodInfo) -> tuple[object, ...]:
    """PrioritySort's order as a key: higher priority first, then earlier timestamp."""
    return (-qpi.priority, qpi.timestamp)


class SchedulingQueue:
    """Upstream ``PriorityQueue`` (scheduling_queue.go), single-threaded and clock-driven.

    ``sort_key`` is the fast form of the QueueSort plugin (``less(a, b) ==
    sort_key(a) < sort_key(b)``) and wins when both are given; with neither,
    PrioritySort's order is used.  ``pre_enqueue`` lists (plugin name, function)
    in profile order.  ``event_hints`` maps a plugin name to the events it
    registered (``events_to_register``): a pod rejected by a plugin absent from
    it is moved only by wildcard events and the leftover timeout, so the
    framework registers every event for plugins that declare none, as
    upstream's ``fillEnqueueExtensions`` does.  Hints are called with the
    rejected pod's ``PodInfo`` and the event's old and new objects.  Durations
    are seconds.  Not thread-safe: a live scheduler holds one lock around
    every call, as upstream's ``PriorityQueue.lock``.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        less: Callable[[QueuedPodInfo, QueuedPodInfo], bool] | None = None,
        sort_key: Callable[[QueuedPodInfo], tuple[object, ...]] | None = None,
        pre_enqueue: Sequence[tuple[str, PreEnqueueFn]] = (),
        event_hints: Mapping[str, Sequence[ClusterEventWithHint]] = _NO_HINTS,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_in_unschedulable: float = 300.0,
        pop_from_backoff: bool = False,
    ) -> None:
        # Bounds as upstream's config validation (podInitialBackoffSeconds > 0, max >= initial).
        _check_positive("initial_backoff", initial_backoff)
        _check_positive("max_in_unschedulable", max_in_unschedulable)
        if max_backoff < initial_backoff:
            raise ValueError(
                "The 'max_backoff' parameter of SchedulingQueue must be >= initial_backoff "
                f"({initial_backoff}). Got {max_backoff!r} instead."
            )
        self._clock = clock
        self._sort_key: Callable[[QueuedPodInfo], object]
        if sort_key is not None:
            self._sort_key = sort_key
        elif less is not None:
            self._sort_key = lambda qpi: _LessKey(less, qpi)
        else:
            self._sort_key = priority_sort_key
        self._pre_enqueue = tuple(pre_enqueue)
        self._hints = {plugin: tuple(events) for plugin, events in event_hints.items()}
        self._registered = tuple({e.event for events in self._hints.values() for e in events})
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_in_unschedulable = max_in_unschedulable
        self._pop_from_backoff = pop_from_backoff

        self._active: _KeyedHeap[object] = _KeyedHeap()
        # Keyed (ready time, QueueSort key): upstream orders a backoff window's
        # pods as activeQ does when SchedulerPopFromBackoffQ is on; with it off
        # the second element is 0 and only the time counts.
        self._backoff: _KeyedHeap[tuple[float, object]] = _KeyedHeap()
        self._error_backoff: _KeyedHeap[tuple[float, object]] = _KeyedHeap()
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._gated: set[str] = set()
        # Pool pods the leftover flush may move, by deadline; pods held by
        # SchedulingGates are left out because no timeout can lift a gate.
        self._leftover: _KeyedHeap[float] = _KeyedHeap()
        self._in_flight: dict[str, QueuedPodInfo] = {}
        # What happened to in-flight pods, applied when they come back
        # (upstream's in-flight events, kept per pod).
        self._in_flight_newer: dict[str, PodInfo] = {}
        self._in_flight_moved: set[str] = set()
        self._deleted_in_flight: set[str] = set()
        self._arrivals = itertools.count()

        self.scheduling_cycle = 0
        """Incremented by every ``pop``; read it after ``pop`` to learn the pod's cycle."""
        self.move_request_cycle = -1
        """``scheduling_cycle`` at the last event of interest (upstream ``moveRequestCycle``)."""
        self.nominator = Nominator()

    # -- adding, updating, deleting ------------------------------------------------
    def add(self, pod: PodInfo) -> None:
        """A new pending pod (upstream ``Add``): to activeQ, or gated if PreEnqueue refuses.

        A pod the queue already holds is treated as an update, so a repeated
        informer add can never put a pod in two places.
        """
        key = pod.key
        if (
            key in self._active
            or self._backoff_get(key) is not None
            or key in self._unschedulable
            or key in self._in_flight
        ):
            self.update(self._find(key).pod_info, pod)
            return
        self._move_to_active(QueuedPodInfo(pod, self._clock.now(), seq=next(self._arrivals)))

    def update(self, old: PodInfo, new: PodInfo) -> None:
        """The pod object changed (upstream ``Update``, the path without queueing hints).

        In activeQ or backoffQ the pod is replaced in place.  In the pool, a
        change beyond status and bookkeeping metadata (``isPodUpdated``) may
        make it schedulable, so it moves to backoffQ, or activeQ if its backoff
        is over; a gated pod goes through PreEnqueue again, which is how a
        removed scheduling gate releases it.  For an in-flight pod the new
        object is kept, and a real change sends it to backoff rather than the
        pool should this attempt fail.  An unknown pod is added.
        """
        key = new.key
        self.nominator.update_nominated_pod(old, new)
        if key in self._in_flight:
            self._in_flight_newer[key] = new
            if _pod_updated(old, new):
                self._in_flight_moved.add(key)
            return
        qpi = self._active.get(key)
        if qpi is not None:
            qpi.pod_info = new
            self._active.push(qpi, self._sort_key(qpi))  # its priority may have changed
            return
        heap = self._backoff_heap_of(key)
        if heap is not None:
            qpi = heap.get(key)
            assert qpi is not None
            qpi.pod_info = new
            if self._pop_from_backoff:
                heap.push(qpi, self._backoff_key(qpi))  # its priority may have changed
            return
        qpi = self._unschedulable.get(key)
        if qpi is None:
            self._move_to_active(QueuedPodInfo(new, self._clock.now(), seq=next(self._arrivals)))
            return
        qpi.pod_info = new
        if not _pod_updated(old, new):
            return
        self._pool_remove(key)
        if self._is_backing_off(qpi):
            self._move_to_backoff(qpi)
        else:
            self._move_to_active(qpi)

    def delete(self, pod: PodInfo) -> None:
        """The pod is gone (upstream ``Delete``); an in-flight pod will not be requeued."""
        key = pod.key
        self.nominator.delete_nominated_pod_if_exists(pod)
        if (
            self._active.remove(key) is None
            and self._backoff_remove(key) is None
            and self._pool_remove(key) is None
            and self._in_flight.pop(key, None) is not None
        ):
            self._deleted_in_flight.add(key)
            self._in_flight_newer.pop(key, None)
            self._in_flight_moved.discard(key)

    # -- the scheduling cycle ------------------------------------------------------
    def pop(self) -> QueuedPodInfo | None:
        """The next pod in QueueSort order, now in flight; None when there is none.

        As upstream ``Pop``: counts the attempt, starts a new scheduling cycle
        and clears the rejecting plugins, which the failed attempt fills again.
        With activeQ empty and ``pop_from_backoff`` on, the first pod of the
        rejected pods' backoffQ comes out before its backoff ends (upstream
        ``unlockedPop``); pods that hit an error still wait.  Never blocks:
        the caller advances time and calls ``run_timers``.
        """
        qpi = self._active.pop()
        if qpi is None:
            if not self._pop_from_backoff:
                return None
            qpi = self._backoff.pop()
            if qpi is None:
                return None
        qpi.attempts += 1
        if qpi.initial_attempt_timestamp is None:
            qpi.initial_attempt_timestamp = self._clock.now()
        self.scheduling_cycle += 1
        qpi.unschedulable_plugins.clear()
        qpi.pending_plugins.clear()
        self._in_flight[qpi.key] = qpi
        return qpi

    def add_unschedulable_if_not_present(
        self, qpi: QueuedPodInfo, pod_scheduling_cycle: int
    ) -> None:
        """Requeue a pod whose attempt failed (upstream ``AddUnschedulableIfNotPresent``).

        Set ``qpi.unschedulable_plugins``/``pending_plugins`` from the failure
        first.  If a cluster event of interest arrived since the attempt began
        (``move_request_cycle >= pod_scheduling_cycle``), or the pod itself was
        updated or activated meanwhile, what it waited for may already have
        happened, so it goes to backoffQ (activeQ if the backoff is over)
        instead of waiting in the pool for an event that has passed.  A pod
        no plugin rejected hit an Error and always retries after backoff.
        The pod's nomination is kept (re-read from its status); the caller
        then records what this attempt's PostFilter nominated, as upstream's
        ``handleSchedulingFailure`` does.  Ends the pod's flight.
        """
        key = qpi.key
        try:
            if key in self._deleted_in_flight:
                return
            where = self._location(key)
            if where is not None:
                raise ValueError(f"pod {key} is already present in the {where} queue")
            newer = self._in_flight_newer.get(key)
            if newer is not None:
                qpi.pod_info = newer
            qpi.timestamp = self._clock.now()
            if (
                not (qpi.unschedulable_plugins or qpi.pending_plugins)
                or self.move_request_cycle >= pod_scheduling_cycle
                or key in self._in_flight_moved
            ):
                self._requeue(qpi, _Strategy.AFTER_BACKOFF)
            else:
                self._pool_put(qpi)
            self.nominator.add_nominated_pod(qpi.pod_info)
        finally:
            self.done(key)

    def done(self, key: str) -> None:
        """The in-flight pod's cycle is over (upstream ``Done``): bound, or requeued."""
        self._in_flight.pop(key, None)
        if self._in_flight_newer or self._in_flight_moved or self._deleted_in_flight:
            self._in_flight_newer.pop(key, None)
            self._in_flight_moved.discard(key)
            self._deleted_in_flight.discard(key)

    # -- events ------------------------------------------------------------------
    def move_all_to_active_or_backoff(
        self,
        event: ClusterEvent,
        old_obj: object = None,
        new_obj: object = None,
        precheck: Callable[[PodInfo], bool] | None = None,
    ) -> None:
        """Release the pool pods ``event`` may help (upstream ``MoveAllToActiveOrBackoffQueue``).

        ``precheck`` (upstream ``PreEnqueueCheck``) narrows the candidates
        cheaply first, e.g. to pods that could fit a newly added node.  An
        event no plugin registered is ignored altogether, and does not count
        as a move request (``isEventOfInterest``).
        """
        if not (_is_wildcard(event) or any(r.matches(event) for r in self._registered)):
            return
        candidates = [
            qpi
            for qpi in self._unschedulable.values()
            if precheck is None or precheck(qpi.pod_info)
        ]
        self._move_pods(candidates, event, old_obj, new_obj)

    def activate(self, pod_keys: Iterable[str]) -> None:
        """Move the pods to activeQ now, skipping any backoff (upstream ``Activate``).

        Used by plugins that know a pod became schedulable (its gang formed,
        say).  An in-flight pod is marked so a failure requeues it at once
        instead of parking it in the pool.
        """
        for key in pod_keys:
            if key in self._in_flight:
                self._in_flight_moved.add(key)
                continue
            qpi = self._pool_remove(key) or self._backoff_remove(key)
            if qpi is not None:
                self._move_to_active(qpi)

    # -- timers --------------------------------------------------------------------
    def flush_backoff_completed(self) -> None:
        """Move pods whose backoff has expired to activeQ (upstream ``flushBackoffQCompleted``).

        With ``pop_from_backoff`` on, PreEnqueue already ran when the pod
        entered backoffQ, so it is not asked again (upstream ``moveToActiveQ``
        with ``movesFromBackoffQ``).
        """
        now = self._clock.now()
        admitted = self._pop_from_backoff
        for heap in (self._backoff, self._error_backoff):
            while (ready := heap.peek_key()) is not None and ready[0] <= now:
                qpi = heap.pop()
                if qpi is not None:
                    self._move_to_active(qpi, admitted=admitted)

    def flush_unschedulable_leftover(self) -> None:
        """Release pods parked for ``max_in_unschedulable`` (``flushUnschedulablePodsLeftover``).

        A safety net for events a plugin failed to register.  Upstream moves
        pods strictly past the limit on a 30 s tick; the limit is inclusive
        here so that jumping the clock to ``next_timer_at`` releases them.
        """
        now = self._clock.now()
        due: list[QueuedPodInfo] = []
        while (deadline := self._leftover.peek_key()) is not None and deadline <= now:
            qpi = self._leftover.pop()
            if qpi is not None:
                due.append(qpi)
        if due:
            self._move_pods(due, UNSCHEDULABLE_TIMEOUT, None, None)

    def run_timers(self) -> None:
        """Both flushes; a live scheduler runs them every 1 s and 30 s as upstream."""
        self.flush_backoff_completed()
        self.flush_unschedulable_leftover()

    def next_timer_at(self) -> float | None:
        """When ``run_timers`` next has work: the earliest backoff expiry or leftover deadline."""
        times = [k[0] for k in (self._backoff.peek_key(), self._error_backoff.peek_key()) if k]
        leftover = self._leftover.peek_key()
        if leftover is not None:
            times.append(leftover)
        return min(times) if times else None

    def has_ready(self) -> bool:
        """Would ``pop`` return a pod now (activeQ, or backoffQ when ``pop_from_backoff``)?"""
        return len(self._active) > 0 or (self._pop_from_backoff and len(self._backoff) > 0)

    def backoff_duration(self, attempts: int) -> float:
        """initial * 2^(attempts-1) capped at max, 0 untried (``calculateBackoffDuration``)."""
        if attempts <= 0:
            return 0.0
        duration = self._initial_backoff
        for _ in range(1, attempts):
            if duration >= self._max_backoff:
                break
            duration *= 2
        return min(duration, self._max_backoff)

    # -- inspection ----------------------------------------------------------------
    def pending_pods(self) -> dict[str, int]:
        """Waiting pods per queue, labelled as upstream's ``scheduler_pending_pods`` metric."""
        gated = len(self._gated)
        return {
            ACTIVE: len(self._active),
            BACKOFF: len(self._backoff) + len(self._error_backoff),
            UNSCHEDULABLE: len(self._unschedulable) - gated,
            GATED: gated,
        }

    def in_flight(self) -> list[QueuedPodInfo]:
        """Pods popped whose cycle has not ended."""
        return list(self._in_flight.values())

    def __len__(self) -> int:
        """Waiting pods: activeQ, backoffQ and the pool (gated included), not in-flight ones."""
        return (
            len(self._active)
            + len(self._backoff)
            + len(self._error_backoff)
            + len(self._unschedulable)
        )

    def __contains__(self, key: object) -> bool:
        """Whether the pod with this key is waiting in any of the queues."""
        return isinstance(key, str) and self._location(key) is not None

    # -- internals -----------------------------------------------------------------
    def _find(self, key: str) -> QueuedPodInfo:
        qpi = (
            self._active.get(key)
            or self._backoff_get(key)
            or self._unschedulable.get(key)
            or self._in_flight.get(key)
        )
        if qpi is None:
            raise KeyError(key)
        return qpi

    def _location(self, key: str) -> str | None:
        if key in self._active:
            return ACTIVE
        if key in self._backoff or key in self._error_backoff:
            return BACKOFF
        if key in self._unschedulable:
            return GATED if key in self._gated else UNSCHEDULABLE
        return None

    def _move_to_active(self, qpi: QueuedPodInfo, *, admitted: bool = False) -> bool:
        """activeQ if PreEnqueue admits the pod, else the pool (upstream ``moveToActiveQ``).

        Every way into activeQ passes here, so a gate is checked each time,
        unless the pod was ``admitted`` on its way into backoffQ.  The caller
        has taken the pod out of every queue.
        """
        if self._pre_enqueue and not admitted and not self._admit(qpi):
            self._pool_put(qpi)
            return False
        qpi.gated, qpi.gating_plugin = False, ""
        self._active.push(qpi, self._sort_key(qpi))
        self.nominator.add_nominated_pod(qpi.pod_info)
        return True

    def _admit(self, qpi: QueuedPodInfo) -> bool:
        """Run PreEnqueue plugins (upstream ``runPreEnqueuePlugins``); record the first refusal."""
        for name, pre_enqueue in self._pre_enqueue:
            try:
                status = pre_enqueue(qpi.pod_info)
            except Exception as err:
                # Upstream treats an Error like a refusal, so the pod waits instead of looping.
                logger.exception("PreEnqueue plugin %s failed for pod %s", name, qpi.key)
                status = Status.from_error(err)
            if is_success(status):
                continue
            qpi.unschedulable_plugins.add(name)
            qpi.gated, qpi.gating_plugin = True, name
            return False
        return True

    def _pool_put(self, qpi: QueuedPodInfo) -> None:
        key = qpi.key
        self._unschedulable[key] = qpi
        if qpi.gated:
            self._gated.add(key)
        else:
            self._gated.discard(key)
        if _waits_for_update(qpi):
            self._leftover.remove(key)
        else:
            # Upstream reckons from qpi.timestamp, which is now except for a pod
            # gated again by the flush: re-arming it keeps next_timer_at ahead of now.
            self._leftover.push(qpi, self._clock.now() + self._max_in_unschedulable)

    def _pool_remove(self, key: str) -> QueuedPodInfo | None:
        qpi = self._unschedulable.pop(key, None)
        if qpi is not None:
            self._gated.discard(key)
            self._leftover.remove(key)
        return qpi

    def _backoff_ready_at(self, qpi: QueuedPodInfo) -> float:
        """When the pod's backoff is over (upstream ``getBackoffTime``, ``isPodBackingoff``).

        With ``pop_from_backoff`` on, upstream truncates the expiry to its
        1-second ordering window and holds the pod while that window is the
        current one or later, so it is ready at the next whole second.
        """
        if qpi.attempts <= 0:
            return -math.inf  # never tried: no penalty
        expiry = qpi.timestamp + self.backoff_duration(qpi.attempts)
        if self._pop_from_backoff:
            return math.floor(expiry / _BACKOFF_WINDOW) * _BACKOFF_WINDOW + _BACKOFF_WINDOW
        return expiry

    def _backoff_key(self, qpi: QueuedPodInfo) -> tuple[float, object]:
        ready = self._backoff_ready_at(qpi)
        return (ready, self._sort_key(qpi)) if self._pop_from_backoff else (ready, 0)

    def _is_backing_off(self, qpi: QueuedPodInfo) -> bool:
        # A gated pod must reach PreEnqueue again rather than wait (upstream isPodBackingoff).
        return not qpi.gated and self._backoff_ready_at(qpi) > self._clock.now()

    def _move_to_backoff(self, qpi: QueuedPodInfo) -> None:
        """Into backoffQ: the error heap if no plugin rejected the pod (``backoffQueue.add``).

        With ``pop_from_backoff`` on, PreEnqueue runs here rather than on the
        way out, and a gated pod goes to the pool (upstream ``moveToBackoffQ``).
        """
        if self._pop_from_backoff and self._pre_enqueue and not self._admit(qpi):
            self._pool_put(qpi)
            return
        if qpi.unschedulable_plugins or qpi.pending_plugins:
            self._backoff.push(qpi, self._backoff_key(qpi))
        else:
            self._error_backoff.push(qpi, self._backoff_key(qpi))

    def _backoff_heap_of(self, key: str) -> _KeyedHeap[tuple[float, object]] | None:
        if key in self._backoff:
            return self._backoff
        if key in self._error_backoff:
            return self._error_backoff
        return None

    def _backoff_get(self, key: str) -> QueuedPodInfo | None:
        return self._backoff.get(key) or self._error_backoff.get(key)

    def _backoff_remove(self, key: str) -> QueuedPodInfo | None:
        return self._backoff.remove(key) or self._error_backoff.remove(key)

    def _requeue(self, qpi: QueuedPodInfo, strategy: _Strategy) -> None:
        """Upstream ``requeuePodViaQueueingHint`` for a pod that is in no queue."""
        if strategy is _Strategy.SKIP:
            self._pool_put(qpi)
        elif strategy is _Strategy.AFTER_BACKOFF and self._is_backing_off(qpi):
            self._move_to_backoff(qpi)
        else:
            self._move_to_active(qpi)

    def _move_pods(
        self, pods: list[QueuedPodInfo], event: ClusterEvent, old: object, new: object
    ) -> None:
        """Upstream ``movePodsToActiveOrBackoffQueue`` for pool pods."""
        for qpi in pods:
            # Only an update of the pod itself lifts a scheduling gate; skipping
            # early keeps large numbers of gated pods cheap (kubernetes#124384).
            if _waits_for_update(qpi):
                continue
            strategy = self._worth_requeuing(qpi, event, old, new)
            if strategy is _Strategy.SKIP:
                continue
            self._pool_remove(qpi.key)
            self._requeue(qpi, strategy)
        self.move_request_cycle = self.scheduling_cycle

    def _worth_requeuing(
        self, qpi: QueuedPodInfo, event: ClusterEvent, old: object, new: object
    ) -> _Strategy:
        """Upstream ``isPodWorthRequeuing``: ask the rejecting plugins' hints about ``event``.

        A Pending plugin saying QUEUE skips the backoff: the pod was waiting
        for something, not failing.
        """
        if not (qpi.unschedulable_plugins or qpi.pending_plugins) or _is_wildcard(event):
            return _Strategy.AFTER_BACKOFF
        for plugin in qpi.pending_plugins:
            if self._plugin_queues(plugin, qpi, event, old, new):
                return _Strategy.IMMEDIATELY
        for plugin in qpi.unschedulable_plugins:
            if self._plugin_queues(plugin, qpi, event, old, new):
                return _Strategy.AFTER_BACKOFF
        return _Strategy.SKIP

    def _plugin_queues(
        self, plugin: str, qpi: QueuedPodInfo, event: ClusterEvent, old: object, new: object
    ) -> bool:
        for registered in self._hints.get(plugin, ()):
            if not registered.event.matches(event):
                continue
            if registered.hint is None:
                return True
            try:
                hint = registered.hint(qpi.pod_info, old, new)
            except Exception:
                # As upstream: an erring hint must not strand the pod in the pool.
                logger.exception(
                    "QueueingHint of plugin %s failed for pod %s on %s", plugin, qpi.key, event
                )
                return True
            if hint is not QueueingHint.QUEUE_SKIP:
                return True
        return False


def _is_wildcard(event: ClusterEvent) -> bool:
    """UnschedulableTimeout, ForceActivate and WildCardEvent: move every pod (``IsWildCard``)."""
    return event.resource is EventResource.WILDCARD and event.action == ActionType.ALL


def _waits_for_update(qpi: QueuedPodInfo) -> bool:
    """Held by SchedulingGates: only an update of the pod itself can lift a gate."""
    return qpi.gated and SCHEDULING_GATES in qpi.unschedulable_plugins


def _pod_updated(old: PodInfo, new: PodInfo) -> bool:
    """Did anything but status and bookkeeping metadata change (upstream ``isPodUpdated``)?"""
    if old.pod is new.pod:
        return False
    return old.pod.model_dump(exclude=_NOT_AN_UPDATE) != new.pod.model_dump(exclude=_NOT_AN_UPDATE)


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(
            f"The '{name}' parameter of SchedulingQueue must be > 0. Got {value!r} instead."
        )
