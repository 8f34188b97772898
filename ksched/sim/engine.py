"""The discrete-event core: a heap of ``(time, priority, seq, event)`` driving a ``SimClock``.

As SimPy's ``Environment``: ``schedule`` pushes, ``step`` pops the earliest
event, moves the clock to it and runs its handler, ``run(until)`` repeats.
Time jumps from event to event and never sleeps. At equal times the lower
priority runs first and then the earlier push (``seq``), so a replay is the
same on every run. A handler that raises stops the run with an
``EventError`` naming the event and the simulated time; nothing is dropped
silently.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from typing import Any, Final

from ksched.framework.clock import SimClock

__all__ = ["EmptyScheduleError", "Engine", "EventError", "Handler"]

Handler = Callable[[Any], None]
_Entry = tuple[float, int, int, Handler, Any]
INFINITY: Final = math.inf


class EmptyScheduleError(Exception):
    """``step`` was called with no event left."""


class EventError(RuntimeError):
    """A handler failed; the original exception is the ``__cause__``."""


class Engine:
    """Events ordered by (time, priority, push order); the clock follows the popped event."""

    __slots__ = ("_cancelled", "_heap", "_pending", "_seq", "clock")

    def __init__(self, clock: SimClock | None = None) -> None:
        self.clock = clock or SimClock()
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._pending: set[int] = set()
        self._cancelled: set[int] = set()

    @property
    def now(self) -> float:
        return self.clock.now()

    def schedule(self, time: float, priority: int, handler: Handler, arg: Any = None) -> int:
        """Run ``handler(arg)`` at ``time``; returns the event's id for ``cancel``."""
        if not time >= self.clock.now():  # also refuses NaN
            raise ValueError(f"cannot schedule an event at {time}: the clock is at {self.now}")
        seq = next(self._seq)
        heapq.heappush(self._heap, (time, priority, seq, handler, arg))
        self._pending.add(seq)
        return seq

    def cancel(self, seq: int) -> None:
        """Forget a scheduled event (skipped when it surfaces); a processed one is ignored."""
        if seq in self._pending:
            self._pending.discard(seq)
            self._cancelled.add(seq)

    def peek(self) -> float:
        """Time of the next live event, ``inf`` when there is none."""
        heap = self._heap
        while heap and heap[0][2] in self._cancelled:
            self._cancelled.discard(heapq.heappop(heap)[2])
        return heap[0][0] if heap else INFINITY

    def step(self) -> None:
        """Process the next live event."""
        if self.peek() == INFINITY:
            raise EmptyScheduleError("no event left to process")
        time, priority, seq, handler, arg = heapq.heappop(self._heap)
        self._pending.discard(seq)
        self.clock.set(time)
        try:
            handler(arg)
        except Exception as exc:
            name = getattr(handler, "__qualname__", repr(handler))
            raise EventError(
                f"event {name}({arg!r}) at t={time:g} (priority {priority}, seq {seq}) failed: "
                f"{exc}"
            ) from exc

    def run(self, until: float | None = None) -> None:
        """Process events strictly before ``until`` (all of them when None), then set the clock."""
        limit = INFINITY if until is None else until
        while self.peek() < limit:
            self.step()
        if until is not None and until > self.now:
            self.clock.set(until)

    def clear(self) -> None:
        """Forget every event not yet processed (a replay that ends before them)."""
        self._heap.clear()
        self._pending.clear()
        self._cancelled.clear()

    def __len__(self) -> int:
        """Scheduled events not yet processed, cancelled ones excluded."""
        return len(self._pending)
