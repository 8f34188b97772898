"""Run until SIGTERM or SIGINT: how every long-running ``ksched`` component stops cleanly."""

from __future__ import annotations

import signal
import threading
from types import FrameType

__all__ = ["wait_for_stop"]


def wait_for_stop(stop: threading.Event | None = None) -> int:
    """Block until SIGTERM/SIGINT (or ``stop`` is set); returns the signal number (0: none)."""
    stop = stop or threading.Event()
    got = [0]

    def handle(signum: int, frame: FrameType | None) -> None:
        got[0] = signum
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return got[0]
