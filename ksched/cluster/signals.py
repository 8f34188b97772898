"""Run until SIGTERM or SIGINT: how every long-running ``ksched`` component stops cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["stop_on_signals", "wait_for_stop"]


@contextmanager
def stop_on_signals(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGINT while the block runs; the old handlers come back after.

    Install it before announcing readiness: a signal sent right after the
    announcement must find the handler, not the default action.
    """
    event = stop or threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        event.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield event
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def wait_for_stop(stop: threading.Event | None = None) -> None:
    """Block until SIGTERM/SIGINT (or ``stop`` is set)."""
    with stop_on_signals(stop) as event:
        while not event.wait(0.5):
            pass
