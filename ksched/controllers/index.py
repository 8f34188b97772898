"""Dependents by owner uid from an informer's events (client-go's controllerRef index)."""

from __future__ import annotations

import threading

from ksched.controllers.client import Obj
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import controller_of

__all__ = ["Expectations", "OwnerIndex"]


class OwnerIndex:
    """``owned(uid)``: the objects whose controller reference has that uid."""

    def __init__(self, informer: Informer) -> None:
        self._by_owner: dict[str, dict[str, Obj]] = {}
        self._owner_of: dict[str, str] = {}
        self._lock = threading.Lock()
        informer.add_handler(self._on_event)

    def _on_event(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        key = key_of(obj)
        ref = controller_of(new) if new is not None else None
        uid = str(ref["uid"]) if ref else None
        with self._lock:
            before = self._owner_of.pop(key, None)
            if before is not None and before != uid:
                group = self._by_owner.get(before)
                if group is not None:
                    group.pop(key, None)
                    if not group:
                        del self._by_owner[before]
            if uid is not None:
                self._owner_of[key] = uid
                self._by_owner.setdefault(uid, {})[key] = obj

    def owned(self, uid: str) -> list[Obj]:
        with self._lock:
            return list(self._by_owner.get(uid, {}).values())


class Expectations:
    """Creates and deletes a controller issued but has not yet seen in its informer.

    As upstream's ``ControllerExpectations``: while an owner waits for its
    own writes to come back through the watch, its pod count is stale and a
    sync must not create or delete again. Expectations expire after
    ``ttl`` seconds (upstream: 5 minutes) so a lost event cannot wedge it.
    """

    def __init__(self, ttl: float = 60.0) -> None:
        import time

        self._clock = time.monotonic
        self.ttl = ttl
        self._pending: dict[str, tuple[int, int, float]] = {}
        self._deleting: set[str] = set()
        self._lock = threading.Lock()

    def observe_event(self, key: str, event: str, old: Obj | None, new: Obj | None) -> None:
        """Count an informer event on one of ``key``'s dependents.

        A deletion is observed once: when the dependent gets its
        ``deletionTimestamp`` or, without one, when it disappears.
        """
        obj = new if new is not None else old
        assert obj is not None
        uid = str(obj["metadata"].get("uid", ""))
        if event == "ADDED" and old is None:
            self.observe(key, adds=1)
        deleting = event == "DELETED" or bool(obj["metadata"].get("deletionTimestamp"))
        if not deleting:
            return
        with self._lock:
            first = uid not in self._deleting
            if event == "DELETED":
                self._deleting.discard(uid)
            elif first:
                self._deleting.add(uid)
        if first:
            self.observe(key, deletes=1)

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        with self._lock:
            a, d, _ = self._pending.get(key, (0, 0, 0.0))
            self._pending[key] = (a + adds, d + deletes, self._clock())

    def observe(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        with self._lock:
            if key in self._pending:
                a, d, t = self._pending[key]
                self._pending[key] = (a - adds, d - deletes, t)

    def satisfied(self, key: str) -> bool:
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                return True
            a, d, t = entry
            if (a <= 0 and d <= 0) or self._clock() - t > self.ttl:
                del self._pending[key]
                return True
            return False

    def forget(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)
