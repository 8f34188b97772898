"""Clocks: simulated time for replay, wall time for a live scheduler."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since an arbitrary origin."""


class SimClock:
    """Time that moves only when the simulation says so (no real sleeping)."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards by {seconds} s")
        self._now += seconds

    def set(self, t: float) -> None:
        if t < self._now:
            raise ValueError(f"cannot move a clock back from {self._now} to {t}")
        self._now = t


class WallClock:
    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()
