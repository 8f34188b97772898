"""The event heap: order by (time, priority, push order), clock driving, failures surfaced."""

from __future__ import annotations

import math

import pytest

from ksched.framework.clock import SimClock
from ksched.sim import EmptyScheduleError, Engine, EventError


def test_events_run_by_time_then_priority_then_push_order() -> None:
    engine = Engine()
    seen: list[tuple[float, str]] = []

    def note(label: str) -> None:
        seen.append((engine.now, label))

    for time, priority, label in [
        (2.0, 0, "t2"),
        (1.0, 3, "t1-late"),
        (1.0, 0, "t1-first"),
        (1.0, 3, "t1-late-second"),
        (0.5, 9, "t0.5"),
    ]:
        engine.schedule(time, priority, note, label)
    engine.run()
    assert seen == [
        (0.5, "t0.5"),
        (1.0, "t1-first"),
        (1.0, "t1-late"),
        (1.0, "t1-late-second"),
        (2.0, "t2"),
    ]


def test_the_clock_is_the_shared_sim_clock_and_never_sleeps() -> None:
    clock = SimClock()
    engine = Engine(clock)
    engine.schedule(1e9, 0, lambda _: None)
    engine.run()
    assert clock.now() == 1e9


def test_run_until_stops_before_the_limit_and_sets_the_clock() -> None:
    engine = Engine()
    seen: list[float] = []
    for t in (1.0, 2.0, 3.0):
        engine.schedule(t, 0, seen.append, t)
    engine.run(until=2.0)
    assert seen == [1.0]
    assert engine.now == 2.0
    assert len(engine) == 2
    engine.run()
    assert seen == [1.0, 2.0, 3.0]


def test_handlers_may_schedule_more_events() -> None:
    engine = Engine()
    seen: list[float] = []

    def tick(n: int) -> None:
        seen.append(engine.now)
        if n:
            engine.schedule(engine.now + 1, 0, tick, n - 1)

    engine.schedule(0.0, 0, tick, 3)
    engine.run()
    assert seen == [0.0, 1.0, 2.0, 3.0]


def test_cancelled_events_are_skipped() -> None:
    engine = Engine()
    seen: list[str] = []
    keep = engine.schedule(1.0, 0, seen.append, "keep")
    drop = engine.schedule(0.5, 0, seen.append, "drop")
    engine.cancel(drop)
    assert len(engine) == 1
    assert engine.peek() == 1.0
    engine.run()
    engine.cancel(keep)  # already processed: ignored
    assert seen == ["keep"]
    assert len(engine) == 0


def test_a_failing_handler_stops_the_run_naming_event_and_time() -> None:
    engine = Engine()

    def boom(arg: object) -> None:
        raise KeyError("lost")

    engine.schedule(4.5, 2, boom, "pod-7")
    with pytest.raises(EventError, match=r"boom\('pod-7'\) at t=4.5") as info:
        engine.run()
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("when", [-1.0, math.nan], ids=["past", "nan"])
def test_events_in_the_past_are_refused(when: float) -> None:
    engine = Engine()
    with pytest.raises(ValueError, match="cannot schedule"):
        engine.schedule(when, 0, lambda _: None)


def test_step_on_an_empty_schedule_raises() -> None:
    engine = Engine()
    assert engine.peek() == math.inf
    with pytest.raises(EmptyScheduleError):
        engine.step()
