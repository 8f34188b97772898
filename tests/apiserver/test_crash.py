"""``kill -9`` during a burst of writes: every acknowledged write survives, watchers catch up.

The server is killed with SIGKILL while eight writers create pods as fast as
they can and a watcher follows them; after a restart on the same data
directory every pod whose create was answered 201 must be there, resource
versions must keep growing, and the watcher must either resume from its last
resourceVersion or get 410 Expired and relist, ending with exactly the
server's state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ksched.apiserver import ApiServerProcess

WRITERS = 8
HEADERS = {"Authorization": "Bearer admin-token-0123456789"}  # conftest.ADMIN_TOKEN


def _pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "burst"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }


class _Writer(threading.Thread):
    def __init__(self, url: str, index: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.index, self.stop = url, index, stop
        self.acknowledged: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=HEADERS, timeout=5) as http:
            n = 0
            while not self.stop.is_set():
                name = f"w{self.index}-{n}"
                n += 1
                try:
                    response = http.post("/api/v1/namespaces/burst/pods", json=_pod(name))
                except httpx.HTTPError:
                    return  # the server died mid-request: this write was never acknowledged
                assert response.status_code == 201, response.text
                self.acknowledged.append(name)


class _Follower(threading.Thread):
    """A list-then-watch client keeping a replica of the namespace's pods."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.state: dict[str, str] = {}  # name -> resourceVersion
        self.rv = ""
        self.last_rv_seen = 0
        self.ready = threading.Event()
        self.stream_error: str | None = None

    def relist(self, http: httpx.Client) -> None:
        body = http.get("/api/v1/namespaces/burst/pods").json()
        self.state = {
            p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in body["items"]
        }
        self.rv = body["metadata"]["resourceVersion"]

    def follow(self, http: httpx.Client) -> str:
        """Watch from ``self.rv`` until the stream ends; ``"expired"`` on a 410 ERROR event."""
        params = {"watch": "true", "resourceVersion": self.rv, "allowWatchBookmarks": "true"}
        with http.stream("GET", "/api/v1/namespaces/burst/pods", params=params) as stream:
            self.ready.set()
            for line in stream.iter_lines():
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    assert obj["kind"] == "Status" and obj["reason"] == "Expired", obj
                    assert obj["code"] == 410
                    return "expired"
                rv = obj["metadata"]["resourceVersion"]
                assert int(rv) > self.last_rv_seen or event["type"] == "BOOKMARK"
                self.last_rv_seen = max(self.last_rv_seen, int(rv))
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.state[obj["metadata"]["name"]] = rv
                elif event["type"] == "DELETED":
                    self.state.pop(obj["metadata"]["name"], None)
                self.rv = rv
        return "ended"

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=HEADERS, timeout=None) as http:
            self.relist(http)
            try:
                self.follow(http)
            except httpx.HTTPError as exc:
                self.stream_error = type(exc).__name__


def _restart(workdir: Path, security_args: Callable[[Path], list[str]]) -> ApiServerProcess:
    return ApiServerProcess(workdir, *security_args(workdir / "security")).start()


def test_kill_9_during_write_burst_loses_no_acknowledged_write(
    tmp_path: Path, security_args: Callable[[Path], list[str]]
) -> None:
    server = _restart(tmp_path, security_args)
    try:
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            assert (
                http.post("/api/v1/namespaces", json={"metadata": {"name": "burst"}}).status_code
                == 201
            )
        follower = _Follower(server.url)
        follower.start()
        assert follower.ready.wait(10)
        stop = threading.Event()
        writers = [_Writer(server.url, i, stop) for i in range(WRITERS)]
        for w in writers:
            w.start()
        deadline = time.monotonic() + 60
        while sum(len(w.acknowledged) for w in writers) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL while writes are in flight
        stop.set()
        for w in writers:
            w.join(10)
        follower.join(10)
        acknowledged = {name for w in writers for name in w.acknowledged}
        assert len(acknowledged) >= 300
        seen_before = follower.last_rv_seen

        server = _restart(tmp_path, security_args)
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            listed = http.get("/api/v1/namespaces/burst/pods").json()
            stored = {p["metadata"]["name"] for p in listed["items"]}
            missing = acknowledged - stored
            print(
                f"crash: {len(acknowledged)} acknowledged creates, {len(stored)} stored after "
                f"restart ({len(stored - acknowledged)} committed but unanswered), "
                f"{len(missing)} lost"
            )
            assert not missing, (
                f"{len(missing)} acknowledged writes lost, e.g. {sorted(missing)[:5]}"
            )
            # Resource versions only grow across the crash.
            assert int(listed["metadata"]["resourceVersion"]) >= seen_before
            after = http.post("/api/v1/namespaces/burst/pods", json=_pod("after-restart")).json()
            assert int(after["metadata"]["resourceVersion"]) > int(
                listed["metadata"]["resourceVersion"]
            )

            # The watcher resumes from its last version, or is told 410 and relists.
            follower.url = server.url
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=3) as watch_http:
                try:
                    outcome = follower.follow(watch_http)
                except httpx.ReadTimeout:
                    outcome = "resumed"
                if outcome == "expired":
                    follower.relist(watch_http)
            final = {
                p["metadata"]["name"]
                for p in http.get("/api/v1/namespaces/burst/pods").json()["items"]
            }
            assert set(follower.state) == final
            assert acknowledged | {"after-restart"} <= final
    finally:
        server.stop()


def test_watch_resumes_from_last_version_after_clean_restart(
    tmp_path: Path, security_args: Callable[[Path], list[str]]
) -> None:
    """When nothing happened after the watcher's version, it resumes without a relist."""
    server = _restart(tmp_path, security_args)
    try:
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            http.post("/api/v1/namespaces", json={"metadata": {"name": "burst"}})
            created = http.post("/api/v1/namespaces/burst/pods", json=_pod("a")).json()
            rv = created["metadata"]["resourceVersion"]
        server.stop()
        server = _restart(tmp_path, security_args)
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
            params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3"}
            lines: list[dict[str, Any]] = []
            with http.stream("GET", "/api/v1/namespaces/burst/pods", params=params) as stream:
                http2 = httpx.Client(base_url=server.url, headers=HEADERS)
                http2.post("/api/v1/namespaces/burst/pods", json=_pod("b"))
                http2.close()
                for line in stream.iter_lines():
                    lines.append(json.loads(line))
                    break
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "b")]
    finally:
        server.stop()
