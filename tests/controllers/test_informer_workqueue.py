"""The shared core: the work queue's guarantees, and the informer's relist after 410 Gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksched.cluster.servers import api_server
from ksched.controllers import NODES, ApiError, Informer, KubeClient, Obj, WorkQueue, wait_until


def test_queue_holds_a_key_once_and_never_in_two_workers() -> None:
    q = WorkQueue()
    for key in ("a", "b", "a", "a"):
        q.add(key)
    assert len(q) == 2
    first = q.get(timeout=1)
    assert first == "a"
    q.add("a")  # re-added while processing: not handed out again yet
    assert q.get(timeout=1) == "b"
    assert q.get(timeout=0.05) is None
    q.done("a")  # now it comes back
    assert q.get(timeout=1) == "a"


def test_rate_limited_requeue_backs_off_exponentially_and_forget_resets() -> None:
    q = WorkQueue(base_delay=0.05, max_delay=1.0)
    delays = []
    for _ in range(3):
        start = time.monotonic()
        q.add_rate_limited("k")
        assert q.get(timeout=2) == "k"
        delays.append(time.monotonic() - start)
        q.done("k")
    assert q.retries("k") == 3
    assert delays[0] >= 0.04 and delays[1] >= 0.09 and delays[2] >= 0.19
    q.forget("k")
    assert q.retries("k") == 0


def test_shut_down_releases_waiting_workers() -> None:
    q = WorkQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.shut_down()
    t.join(timeout=2)
    assert got == [None]


@pytest.fixture
def small_window(tmp_path: Path) -> Iterator[str]:
    """A ``ksched apiserver`` whose watch cache keeps only 5 events."""
    args = ("--storage", "memory", "--anonymous-dev", "--watch-cache-size", "5")
    with api_server("ksched", tmp_path / "api", *args) as path:
        yield str(path)


def node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def test_informer_relists_after_410_and_misses_no_event(small_window: str) -> None:
    with KubeClient(small_window) as client:
        for i in range(3):
            client.create(NODES, node(f"old-{i}"))
        informer = Informer(client, NODES)
        seen: list[tuple[str, str]] = []
        informer.add_handler(
            lambda e, old, new: seen.append((e, ((new or old) or {})["metadata"]["name"]))
        )
        informer._list()  # the first list, then the world moves past the watch window
        stale = informer.resource_version
        for i in range(10):
            client.create(NODES, node(f"new-{i}"))
        client.delete(NODES, "old-0")
        with pytest.raises(ApiError) as gone:
            list(client.watch(NODES, stale, timeout_seconds=1))
        assert gone.value.gone
        informer.start()
        try:
            assert wait_until(lambda: informer.relists >= 1 and "old-0" not in informer.store, 10)
            names = {n["metadata"]["name"] for n in client.list(NODES)["items"]}
            assert wait_until(lambda: set(informer.store) == names, 10)
        finally:
            informer.stop()
        assert ("DELETED", "old-0") in seen
        assert {n for e, n in seen if e == "ADDED"} == names | {"old-0"}
