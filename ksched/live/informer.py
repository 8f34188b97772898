"""List-and-watch caches of API objects (client-go's Reflector and DeltaFIFO, reduced).

An informer lists a resource (paged), delivers the differences from its
cache, then watches from the list's resourceVersion.  A watch that ends is
resumed from the last resourceVersion seen (bookmarks keep it fresh); one
the server refuses as too old (410 Gone, "Expired") is replaced by a new
list, whose differences are delivered as adds, updates and deletes, so a
handler never misses a deletion.  A resync period re-delivers every cached
object as an update, for handlers that reconcile.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from ksched.live.kube import ApiError, KubeClient

__all__ = ["ADDED", "DELETED", "MODIFIED", "Informer", "Resource", "object_key"]

log = logging.getLogger(__name__)

ADDED: Final = "ADDED"
MODIFIED: Final = "MODIFIED"
DELETED: Final = "DELETED"
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
Handler = Callable[[EventType, dict[str, Any], dict[str, Any] | None], None]
"""(type, object, previous object or None)."""

PAGE_SIZE: Final = 500
# client-go reflector: watches time out server-side after 5-10 minutes.
MIN_WATCH_TIMEOUT: Final = 300
READ_TIMEOUT: Final = 30.0
RETRY_DELAY: Final = 1.0


@dataclass(frozen=True, slots=True)
class Resource:
    """A collection URL and what to call it in logs: ``/api/v1/pods``."""

    path: str
    name: str
    field_selector: str | None = None


def object_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    """Keeps ``store`` (key -> object) in step with the server and calls ``handler`` on changes.

    The handler runs on the informer's thread; it must not block for long.
    ``synced`` is set after the first list has been delivered.
    """

    def __init__(
        self,
        kube: KubeClient,
        resource: Resource,
        handler: Handler,
        *,
        resync_period: float = 0.0,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.handler = handler
        self.resync_period = resync_period
        self.store: dict[str, dict[str, Any]] = {}
        self.synced = threading.Event()
        self.resource_version = ""
        self.relists = 0
        self._stop = threading.Event()
        self._open: list[Any] = []
        self._thread: threading.Thread | None = None
        self._next_resync = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.resource.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for response in list(self._open):
            try:
                response.close()
            except Exception:  # a connection already closed is fine
                log.debug("closing %s watch", self.resource.name, exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.resource_version:
                    self._list()
                self._watch()
            except ApiError as err:
                if self._stop.is_set():
                    return
                if err.gone:
                    log.info("%s: watch expired (%s), relisting", self.resource.name, err.message)
                    self.resource_version = ""
                    continue
                log.warning("%s: %s; retrying", self.resource.name, err)
                self._stop.wait(RETRY_DELAY)

    def _query(self) -> dict[str, object]:
        return {"fieldSelector": self.resource.field_selector}

    def _list(self) -> None:
        items: dict[str, dict[str, Any]] = {}
        cont: str | None = None
        version = ""
        while True:
            page = self.kube.request(
                "GET",
                self.resource.path,
                query={**self._query(), "limit": PAGE_SIZE, "continue": cont},
                timeout=120,
            )
            for item in page.get("items") or []:
                items[object_key(item)] = item
            meta = page.get("metadata") or {}
            version = meta.get("resourceVersion") or version
            cont = meta.get("continue") or None
            if cont is None:
                break
        self._replace(items)
        self.resource_version = version
        self.relists += 1
        self.synced.set()
        self._next_resync = time.monotonic() + self.resync_period

    def _replace(self, items: dict[str, dict[str, Any]]) -> None:
        """Deliver what a fresh list says changed since the cache (client-go ``Replace``)."""
        old = self.store
        for key, obj in list(old.items()):
            if key not in items:
                del old[key]
                self.handler(DELETED, obj, None)
        for key, obj in items.items():
            prev = old.get(key)
            old[key] = obj
            if prev is None:
                self.handler(ADDED, obj, None)
            elif _version(prev) != _version(obj):
                self.handler(MODIFIED, obj, prev)

    def _watch(self) -> None:
        query = {
            **self._query(),
            "resourceVersion": self.resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": random.randint(MIN_WATCH_TIMEOUT, 2 * MIN_WATCH_TIMEOUT),
        }
        self._open.clear()
        opened_at, delivered = time.monotonic(), 0
        events = self.kube.watch(
            self.resource.path, query, read_timeout=READ_TIMEOUT, holder=self._open
        )
        try:
            for event in events:
                if self._stop.is_set():
                    return
                self._apply(event)
                delivered += 1
                self._maybe_resync()
        except ApiError as err:
            if err.status != 0 or self._stop.is_set():
                raise
            # A read timeout or a dropped connection: resume from the last version.
            log.debug("%s: watch interrupted: %s", self.resource.name, err)
            self._maybe_resync()
        if not delivered and time.monotonic() - opened_at < RETRY_DELAY:
            # An unreachable server, or one ending watches at once, is not polled in a tight loop.
            self._stop.wait(RETRY_DELAY)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            status = int(obj.get("code") or 0)
            raise ApiError(status, str(obj.get("reason", "")), str(obj.get("message", "")))
        version = _version(obj)
        if version:
            self.resource_version = version
        if kind == "BOOKMARK":
            return
        key = object_key(obj)
        if kind == DELETED:
            prev = self.store.pop(key, None)
            self.handler(DELETED, prev or obj, None)
        elif kind in (ADDED, MODIFIED):
            prev = self.store.get(key)
            self.store[key] = obj
            self.handler(ADDED if prev is None else MODIFIED, obj, prev)

    def _maybe_resync(self) -> None:
        if self.resync_period <= 0 or time.monotonic() < self._next_resync:
            return
        self._next_resync = time.monotonic() + self.resync_period
        for obj in list(self.store.values()):
            self.handler(MODIFIED, obj, obj)


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")
