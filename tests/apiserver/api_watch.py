"""A watch of the official ``kubernetes`` client run in a thread, for tests that write meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kubernetes import watch


class Watching:
    """A watch of the official client streaming in a thread until ``count`` events came."""

    def __init__(
        self, list_fn: Callable[..., Any], namespace: str, resource_version: str, count: int
    ) -> None:
        self.events: list[dict[str, Any]] = []
        ready = threading.Event()

        def run() -> None:
            w = watch.Watch()
            ready.set()
            for event in w.stream(
                list_fn, namespace, resource_version=resource_version, timeout_seconds=10
            ):
                self.events.append(event)
                if len(self.events) == count:
                    w.stop()

        self._thread = threading.Thread(target=run)
        self._thread.start()
        ready.wait()

    def join(self) -> list[dict[str, Any]]:
        """The events seen, once ``count`` came or the watch timed out."""
        self._thread.join(15)
        return self.events
