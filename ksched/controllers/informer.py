"""List + watch into a local store, as client-go's reflector and informer.

One thread per informer: list (remembering the list's resourceVersion),
then watch from it; every event updates the store and calls the handlers.
When the watch ends it resumes from the last resourceVersion seen
(bookmarks included); when the server answers 410 Gone (the version left its
watch window) or the connection fails, it lists again and turns the
difference between the old store and the new list into events, so a
handler never misses a deletion. Handlers run on the informer's thread and
must be quick: controllers only enqueue keys there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from ksched.controllers.client import ApiError, KubeClient, Obj, Resource, WatchStream

__all__ = ["Handler", "Informer", "key_of"]

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj | None, Obj | None], None]
"""``handler(event, old, new)``: event is ``ADDED``, ``MODIFIED`` or ``DELETED``."""

_RETRY_SECONDS: Final = 0.5


def key_of(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for a cluster-scoped object (client-go's key)."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else str(meta["name"])


class Informer:
    """A store of one resource kept current by list + watch on a daemon thread."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_timeout = watch_timeout
        self.store: dict[str, Obj] = {}
        self.lock = threading.RLock()
        self.resource_version = ""
        self.relists = 0
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._stream: WatchStream | None = None
        self._thread: threading.Thread | None = None

    def add_handler(self, handler: Handler) -> None:
        """Call ``handler`` for every change; add handlers before ``start``."""
        self._handlers.append(handler)

    def start(self) -> Informer:
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.resource.plural}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait_synced(self, timeout: float | None = None) -> bool:
        """True once the first list is in the store."""
        return self._synced.wait(timeout)

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def get(self, key: str) -> Obj | None:
        with self.lock:
            return self.store.get(key)

    def items(self) -> list[Obj]:
        with self.lock:
            return list(self.store.values())

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        need_list = not self._synced.is_set()
        while not self._stop.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                self._watch()
            except ApiError as err:
                if err.gone:
                    log.info("%s: watch expired (410), relisting", self.resource.plural)
                else:
                    log.warning("%s: %s", self.resource.plural, err)
                    self._stop.wait(_RETRY_SECONDS)
                need_list = True
            except (OSError, ValueError) as err:
                if self._stop.is_set():
                    break
                log.warning("%s: connection failed (%s), relisting", self.resource.plural, err)
                need_list = True
                self._stop.wait(_RETRY_SECONDS)

    def _list(self) -> None:
        answer = self.client.list(
            self.resource,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        fresh = {key_of(o): o for o in answer.get("items") or []}
        kind = self.resource.kind
        for obj in fresh.values():
            obj.setdefault("kind", kind)
            obj.setdefault("apiVersion", self.resource.api_version)
        with self.lock:
            old = self.store
            self.store = fresh
            self.resource_version = str((answer.get("metadata") or {}).get("resourceVersion", ""))
            if self._synced.is_set():
                self.relists += 1
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", None, obj)
            elif _rv(before) != _rv(obj):
                self._emit("MODIFIED", before, obj)
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj, None)
        self._synced.set()

    def _watch(self) -> None:
        stream = self.client.watch(
            self.resource,
            self.resource_version,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            timeout_seconds=self.watch_timeout,
        )
        self._stream = stream
        if self._stop.is_set():
            stream.close()
        for event in stream:
            kind, obj = event.get("type"), event.get("object") or {}
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            if kind == "BOOKMARK":
                self.resource_version = rv or self.resource_version
                continue
            obj.setdefault("kind", self.resource.kind)
            obj.setdefault("apiVersion", self.resource.api_version)
            key = key_of(obj)
            with self.lock:
                before = self.store.get(key)
                if kind == "DELETED":
                    self.store.pop(key, None)
                else:
                    self.store[key] = obj
                self.resource_version = rv or self.resource_version
            if kind == "DELETED":
                self._emit("DELETED", before or obj, None)
            elif kind in ("ADDED", "MODIFIED"):
                self._emit("ADDED" if before is None else "MODIFIED", before, obj)

    def _emit(self, event: str, old: Obj | None, new: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(event, old, new)
            except Exception:  # a handler's bug must not stop the informer
                log.exception("%s handler failed on %s", self.resource.plural, event)


def _rv(obj: Obj) -> str:
    return str(obj["metadata"].get("resourceVersion", ""))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
