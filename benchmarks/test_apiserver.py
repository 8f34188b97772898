"""``ksched apiserver`` throughput: pod creates/s and watch fan-out (target 3,000 writes/s).

- HTTP creates: a real server process (SQLite with group commit, or memory)
  and an aiohttp client keeping ``CONCURRENCY`` requests in flight, both on
  this machine (they share its cores).
- Watch fan-out: the same, with ``WATCHERS`` watch streams open on the
  namespace; the clock stops when every watcher has seen every pod.
- In-process creates: ``Registry.create`` without HTTP, to show what the
  storage and object handling cost on their own.
- ``/healthz`` at the same concurrency: the floor set by the HTTP stack and
  the machine (no storage, no JSON), to read the other figures against.

Figures go in ``extra_info`` (writes_per_second, events_per_second).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ksched.apiserver import ApiServerProcess, Store
from ksched.apiserver.registry import Registry
from ksched.apiserver.resources import find
from ksched.apiserver.storage import SQLiteBackend

PODS = 3000
CONCURRENCY = 64
WATCHERS = 10
TOKEN = "bench-token"


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ]
        },
    }


@pytest.fixture(params=["sqlite", "memory"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiServerProcess]:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(f'{TOKEN},bench,1,"system:masters"\n')
    args = ["--token-auth-file", str(tokens), "--storage", request.param]
    with ApiServerProcess(tmp_path / "server", *args) as proc:
        yield proc


async def _create_all(session: aiohttp.ClientSession, url: str, ns: str, names: list[str]) -> None:
    queue = iter(names)

    async def worker() -> None:
        for name in queue:
            async with session.post(f"{url}/api/v1/namespaces/{ns}/pods", json=_pod(name)) as r:
                assert r.status == 201, await r.text()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _creates(url: str, round_no: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        ns = f"bench-{round_no}"
        async with session.post(f"{url}/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
            assert r.status == 201
        names = [f"p{i}" for i in range(PODS)]
        start = time.perf_counter()
        await _create_all(session, url, ns, names)
        return time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_pod_creates_per_second(benchmark: Any, server: ApiServerProcess) -> None:
    rounds = iter(range(1000))
    before = _cpu_seconds(server.pid)
    seconds = benchmark.pedantic(
        lambda: asyncio.run(_creates(server.url, next(rounds))), rounds=2, iterations=1
    )
    server_cpu = _cpu_seconds(server.pid) - before
    benchmark.extra_info.update(
        pods=PODS,
        concurrency=CONCURRENCY,
        writes_per_second=round(PODS / benchmark.stats.stats.min, 1),
        last_round_seconds=round(seconds, 3),
        # The server's own cost, apart from the load generator sharing the cores.
        server_cpu_us_per_write=round(1e6 * server_cpu / (2 * PODS), 1),
        cores=os.cpu_count(),
    )


async def _fan_out(url: str, round_no: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY + WATCHERS)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as s:
        ns = f"fan-{round_no}"
        async with s.post(f"{url}/api/v1/namespaces", json={"metadata": {"name": ns}}) as r:
            assert r.status == 201
        async with s.get(f"{url}/api/v1/namespaces/{ns}/pods") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        names = [f"p{i}" for i in range(PODS)]
        opened = asyncio.Event()
        counts = [0] * WATCHERS

        async def watch(i: int) -> None:
            params = {"watch": "true", "resourceVersion": rv}
            async with s.get(f"{url}/api/v1/namespaces/{ns}/pods", params=params) as r:
                if sum(1 for c in counts if c >= 0) == WATCHERS:
                    opened.set()
                async for line in r.content:
                    assert json.loads(line)["type"] == "ADDED"
                    counts[i] += 1
                    if counts[i] == PODS:
                        return

        start = time.perf_counter()
        watchers = [asyncio.create_task(watch(i)) for i in range(WATCHERS)]
        await asyncio.sleep(0.2)
        await _create_all(s, url, ns, names)
        await asyncio.wait_for(asyncio.gather(*watchers), 120)
        return time.perf_counter() - start


def test_watch_fan_out_ten_watchers(benchmark: Any, server: ApiServerProcess) -> None:
    rounds = iter(range(1000))
    benchmark.pedantic(
        lambda: asyncio.run(_fan_out(server.url, next(rounds))), rounds=2, iterations=1
    )
    seconds = benchmark.stats.stats.min
    benchmark.extra_info.update(
        pods=PODS,
        watchers=WATCHERS,
        writes_per_second=round(PODS / seconds, 1),
        events_per_second=round(PODS * WATCHERS / seconds, 1),
        cores=os.cpu_count(),
    )


@pytest.mark.parametrize("storage", ["sqlite", "memory"])
def test_in_process_creates(benchmark: Any, storage: str) -> None:
    pods = find("", "v1", "pods")
    assert pods is not None

    async def run() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            backend = SQLiteBackend(Path(tmp) / "state.db") if storage == "sqlite" else None
            registry = Registry(Store(backend))
            registry.seed()
            await registry.store.wait_committed(registry.store.rv)
            start = time.perf_counter()
            # Concurrent requests, as the server sees them: one group commit per batch.
            batch = 100
            for first in range(0, PODS, batch):
                await asyncio.gather(
                    *(
                        registry.create(pods, "default", _pod(f"p{i}"))
                        for i in range(first, first + batch)
                    )
                )
            elapsed = time.perf_counter() - start
            await registry.store.close()
            return elapsed

    benchmark.pedantic(lambda: asyncio.run(run()), rounds=3, iterations=1)
    benchmark.extra_info.update(
        pods=PODS, writes_per_second=round(PODS / benchmark.stats.stats.min, 1)
    )


async def _healthz(url: str) -> float:
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        requests = iter(range(PODS))

        async def worker() -> None:
            for _ in requests:
                async with session.get(f"{url}/healthz") as r:
                    assert r.status == 200
                    await r.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - start


def test_http_floor_healthz(benchmark: Any, tmp_path: Path) -> None:
    with ApiServerProcess(tmp_path, "--anonymous-dev", "--storage", "memory") as server:
        benchmark.pedantic(lambda: asyncio.run(_healthz(server.url)), rounds=2, iterations=1)
    benchmark.extra_info.update(
        requests=PODS,
        concurrency=CONCURRENCY,
        requests_per_second=round(PODS / benchmark.stats.stats.min, 1),
        cores=os.cpu_count(),
    )
