"""The object store: in-memory state, one global resourceVersion, group commit, watch cache.

Writes are applied to an overlay at once (so the next write sees them and
conflicts are detected), batched to the durable backend by one flusher, and
only then committed: moved to the state that reads and lists serve,
published to watchers and acknowledged. A client therefore never sees a
resourceVersion that a crash could take back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

import orjson

from ksched.apiserver.errors import expired
from ksched.apiserver.storage import Backend, Op

__all__ = ["Store", "Watcher"]

_Key = tuple[str, str]
_MAX_QUEUED: Final = 50_000
"""Events a slow watcher may fall behind by before it is closed (it then re-watches)."""


class Watcher:
    """One watch stream: filters committed events of one resource into encoded JSON lines."""

    def __init__(
        self,
        rkey: str,
        namespace: str | None,
        matches: Callable[[Mapping[str, Any]], bool] | None,
        convert: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    ) -> None:
        self.rkey = rkey
        self.namespace = namespace
        self.matches = matches
        # Objects of a view (events.k8s.io Events over core ones) leave in the view's shape.
        self.convert = convert
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False

    def event_type(self, op: Op) -> str | None:
        """The event this watcher sees for ``op``; selector transitions become ADDED/DELETED."""
        if self.namespace is not None and op.namespace != self.namespace:
            return None
        if self.matches is None:
            return op.type
        now = self.matches(op.obj)
        if op.type != "MODIFIED":
            return op.type if now else None
        before = op.prev is not None and self.matches(op.prev)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None

    def offer(self, op: Op, encoded: Callable[[str], bytes]) -> None:
        kind = self.event_type(op)
        if kind is None or self.closed:
            return
        if self.queue.qsize() >= _MAX_QUEUED:
            self.closed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(encoded(kind) if self.convert is None else self.encode(kind, op.obj))

    def encode(self, kind: str, obj: Mapping[str, Any]) -> bytes:
        return encode_event(kind, obj if self.convert is None else self.convert(obj))


def encode_event(kind: str, obj: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"type": kind, "object": obj}) + b"\n"


class Store:
    """All objects, by resource key (``core/pods``) and ``(namespace, name)``."""

    def __init__(self, backend: Backend | None = None, window: int = 100_000) -> None:
        self._backend = backend
        self._objects: dict[str, dict[_Key, dict[str, Any]]] = {}
        self._overlay: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._pending: list[Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._flushed = asyncio.Event()
        self._failure: BaseException | None = None
        self.rv = 0
        if backend is not None:
            self.rv, rows = backend.load()
            for rkey, namespace, name, obj in rows:
                self._objects.setdefault(rkey, {})[namespace, name] = obj
        self.committed_rv = self.rv
        self._events: deque[Op] = deque(maxlen=window)
        # Watches may resume from any resourceVersion >= this one.
        self._floor = self.rv
        self._watchers: dict[str, set[Watcher]] = {}

    # -- reads (committed state) -------------------------------------------------

    def get(self, rkey: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(rkey, {}).get((namespace, name))

    def items(self, rkey: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Committed objects of a resource in (namespace, name) order."""
        table = self._objects.get(rkey, {})
        for key in sorted(table):
            if namespace is None or key[0] == namespace:
                yield table[key]

    def unordered(self, rkey: str) -> Iterable[dict[str, Any]]:
        """Committed objects of a resource in no order: ``items`` without its sort."""
        return self._objects.get(rkey, {}).values()

    def count(self, rkey: str) -> int:
        return len(self._objects.get(rkey, {}))

    # -- writes ------------------------------------------------------------------

    def latest(self, rkey: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The newest state, including writes not yet durable: what a write must check against."""
        key = (rkey, namespace, name)
        if key in self._overlay:
            return self._overlay[key]
        return self.get(rkey, namespace, name)

    def put(
        self, rkey: str, namespace: str, name: str, obj: dict[str, Any], prev: dict[str, Any] | None
    ) -> Op:
        """Store ``obj`` (new dict, not shared) under the next resourceVersion."""
        self._check_healthy()
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        op = Op(self.rv, "ADDED" if prev is None else "MODIFIED", rkey, namespace, name, obj, prev)
        self._record(op)
        return op

    def delete(self, rkey: str, namespace: str, name: str, last: dict[str, Any]) -> Op:
        """Remove an object; ``last`` (a new dict) is its final state, sent to watchers."""
        self._check_healthy()
        self.rv += 1
        last["metadata"]["resourceVersion"] = str(self.rv)
        op = Op(self.rv, "DELETED", rkey, namespace, name, last, None)
        self._record(op)
        return op

    def _check_healthy(self) -> None:
        if self._failure is not None:
            raise RuntimeError(f"storage failed, refusing writes: {self._failure}")

    def _record(self, op: Op) -> None:
        if self._backend is None:
            self._commit(op)
            self.committed_rv = op.rv
            return
        self._overlay[op.rkey, op.namespace, op.name] = None if op.type == "DELETED" else op.obj
        self._pending.append(op)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def wait_committed(self, rv: int) -> None:
        """Return once the write with resourceVersion ``rv`` is durable and visible."""
        while self.committed_rv < rv:
            if self._failure is not None:
                raise RuntimeError(f"storage failed: {self._failure}")
            await self._flushed.wait()

    async def _flush(self) -> None:
        assert self._backend is not None
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await asyncio.to_thread(self._backend.write, batch, batch[-1].rv)
                except Exception as exc:
                    # Fail stop: waiters and later writes get the error; nothing more is written.
                    self._failure = exc
                    return
                for op in batch:
                    key = (op.rkey, op.namespace, op.name)
                    # Leave the overlay entry if a later write (still pending) replaced it.
                    pending = None if op.type == "DELETED" else op.obj
                    if key in self._overlay and self._overlay[key] is pending:
                        del self._overlay[key]
                    self._commit(op)
                self.committed_rv = batch[-1].rv
                flushed, self._flushed = self._flushed, asyncio.Event()
                flushed.set()
        finally:
            self._flusher = None
            if self._failure is not None:
                self._flushed.set()

    def _commit(self, op: Op) -> None:
        table = self._objects.setdefault(op.rkey, {})
        if op.type == "DELETED":
            table.pop((op.namespace, op.name), None)
        else:
            table[op.namespace, op.name] = op.obj
        if len(self._events) == self._events.maxlen:
            self._floor = self._events[0].rv
        self._events.append(op)
        watchers = self._watchers.get(op.rkey)
        if watchers:
            cache: dict[str, bytes] = {}

            def encoded(kind: str) -> bytes:
                if kind not in cache:
                    cache[kind] = encode_event(kind, op.obj)
                return cache[kind]

            for watcher in list(watchers):
                watcher.offer(op, encoded)
                if watcher.closed:
                    watchers.discard(watcher)

    # -- watch -------------------------------------------------------------------

    def watch(self, watcher: Watcher, since: int | None) -> list[bytes]:
        """Register ``watcher``; the events it missed after ``since`` (``None``: the current
        objects as ADDED). Raises 410 Expired when ``since`` is older than the window.
        """
        backlog: list[bytes] = []
        if since is None:
            for obj in self.items(watcher.rkey, watcher.namespace):
                if watcher.matches is None or watcher.matches(obj):
                    backlog.append(watcher.encode("ADDED", obj))
        else:
            if since < self._floor:
                raise expired(
                    f"too old resource version: {since} ({self._floor})",
                )
            missed: list[Op] = []
            for op in reversed(self._events):
                if op.rv <= since:
                    break
                if op.rkey == watcher.rkey:
                    missed.append(op)
            for op in reversed(missed):
                kind = watcher.event_type(op)
                if kind is not None:
                    backlog.append(watcher.encode(kind, op.obj))
        self._watchers.setdefault(watcher.rkey, set()).add(watcher)
        return backlog

    def unwatch(self, watcher: Watcher) -> None:
        watcher.closed = True
        self._watchers.get(watcher.rkey, set()).discard(watcher)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.closed = True
                watcher.queue.put_nowait(None)
        self._watchers.clear()
        if self._backend is not None:
            self._backend.close()
