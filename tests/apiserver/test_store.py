"""The store's group commit: nothing is visible or acknowledged before it is durable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ksched.apiserver import Store
from ksched.apiserver.storage import Op, SQLiteBackend
from ksched.apiserver.store import Watcher


def _obj(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}}


class _CountingBackend(SQLiteBackend):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def write(self, ops: Any, rv: int) -> None:
        self.batches.append(len(ops))
        super().write(ops, rv)


def test_writes_are_invisible_until_committed_and_batched(tmp_path: Path) -> None:
    async def run() -> tuple[list[int], int]:
        backend = _CountingBackend(tmp_path / "state.db")
        store = Store(backend)
        watcher = Watcher("core/pods", None, None)
        assert store.watch(watcher, 0) == []
        ops = [store.put("core/pods", "ns", f"p{i}", _obj(f"p{i}"), None) for i in range(50)]
        # Written to the overlay (conflict checks see it) but not yet readable or published.
        assert store.latest("core/pods", "ns", "p0") is not None
        assert store.get("core/pods", "ns", "p0") is None
        assert watcher.queue.empty() and store.committed_rv == 0
        await store.wait_committed(ops[-1].rv)
        assert store.get("core/pods", "ns", "p49") is not None
        assert watcher.queue.qsize() == 50
        await store.close()
        return backend.batches, ops[-1].rv

    batches, last = asyncio.run(run())
    assert sum(batches) == 50 and len(batches) <= 2  # one group commit (plus at most a straggler)
    reopened = Store(SQLiteBackend(tmp_path / "state.db"))
    assert reopened.rv == last == 50
    assert reopened.count("core/pods") == 50


def test_a_failed_commit_refuses_later_writes(tmp_path: Path) -> None:
    class Broken(SQLiteBackend):
        def write(self, ops: Any, rv: int) -> None:
            raise OSError("disk full")

    async def run() -> None:
        store = Store(Broken(tmp_path / "state.db"))
        op: Op = store.put("core/pods", "ns", "a", _obj("a"), None)
        with pytest.raises(RuntimeError, match="disk full"):
            await store.wait_committed(op.rv)
        with pytest.raises(RuntimeError, match="refusing writes"):
            store.put("core/pods", "ns", "b", _obj("b"), None)
        assert store.get("core/pods", "ns", "a") is None

    asyncio.run(run())
