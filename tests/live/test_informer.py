"""Informer semantics that a real apiserver will not produce on demand: 410 Gone, dropped watches.

A loopback HTTP server speaks the list/watch protocol from a script; the
informer runs against it through the real ``kubernetes`` client transport.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client as k8s_client

from ksched.live.informer import Informer, Resource
from ksched.live.kube import ApiError, KubeClient, RateLimiter
from ksched.testing.k8s import wait_until


def _obj(name: str, rv: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class Script:
    """What the server answers: the current list, and per watch a list of lines then an end."""

    def __init__(self) -> None:
        self.lists: list[tuple[int, list[dict[str, Any]]]] = []
        self.watches: list[list[dict[str, Any]]] = []
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[tuple[Script, KubeClient]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            with script.lock:
                script.requests.append((url.path, query))
                if query.get("watch") == ["true"]:
                    lines = script.watches.pop(0) if script.watches else []
                    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
                else:
                    rv, items = script.lists[0] if len(script.lists) == 1 else script.lists.pop(0)
                    body = json.dumps(
                        {
                            "kind": "PodList",
                            "metadata": {"resourceVersion": str(rv)},
                            "items": items,
                        }
                    ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    configuration = k8s_client.Configuration()
    configuration.host = f"http://127.0.0.1:{httpd.server_address[1]}"
    kube = KubeClient(k8s_client.ApiClient(configuration), qps=-1, burst=1)
    yield script, kube
    kube.close()
    httpd.shutdown()
    httpd.server_close()


def test_relist_after_410_delivers_the_missed_changes(server: tuple[Script, KubeClient]) -> None:
    script, kube = server
    # While the watch was gone, b was deleted and a changed: the relist must say so.
    script.lists = [(1, [_obj("a", 1), _obj("b", 1)]), (6, [_obj("a", 5), _obj("c", 2)])]
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    script.watches = [
        [{"type": "ADDED", "object": _obj("c", 2)}, gone],
    ]
    seen: list[tuple[str, str]] = []
    informer = Informer(
        kube,
        Resource("/api/v1/pods", "pods"),
        lambda t, o, _p: seen.append((t, o["metadata"]["name"])),
    )
    informer.start()
    try:
        wait_until(lambda: ("ADDED", "c") in seen, "the watched add", 10)
        wait_until(lambda: ("DELETED", "b") in seen, "b's deletion from the relist", 10)
        wait_until(lambda: ("MODIFIED", "a") in seen, "a's update from the relist", 10)
    finally:
        informer.stop()
    assert seen[:2] == [("ADDED", "a"), ("ADDED", "b")]
    assert ("MODIFIED", "c") not in seen  # unchanged resourceVersion: no event
    assert informer.relists >= 2
    assert set(informer.store) == {"ns/a", "ns/c"}
    watches = [q for path, q in script.requests if q.get("watch") == ["true"]]
    assert watches[0]["resourceVersion"] == ["1"]
    assert watches[0]["allowWatchBookmarks"] == ["true"]


def test_a_watch_that_ends_resumes_from_the_last_version(server: tuple[Script, KubeClient]) -> None:
    script, kube = server
    script.lists = [(3, [_obj("a", 3)])]
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}
    script.watches = [[{"type": "MODIFIED", "object": _obj("a", 7)}, bookmark]]
    seen: list[str] = []
    informer = Informer(kube, Resource("/api/v1/pods", "pods"), lambda t, o, _p: seen.append(t))
    informer.start()
    try:
        wait_until(
            lambda: sum(1 for _, q in script.requests if q.get("watch") == ["true"]) >= 2,
            "a second watch",
            10,
        )
    finally:
        informer.stop()
    watches = [q for _, q in script.requests if q.get("watch") == ["true"]]
    assert watches[1]["resourceVersion"] == ["9"]  # the bookmark's, with no new list
    assert informer.relists == 1
    assert seen[:2] == ["ADDED", "MODIFIED"]


def test_errors_carry_status_and_reason(server: tuple[Script, KubeClient]) -> None:
    _, kube = server
    with pytest.raises(ApiError) as info:
        kube.request("POST", "/api/v1/pods", body={})  # the script serves GET only
    assert info.value.status == 501


@pytest.mark.parametrize(
    ("qps", "burst", "calls", "at_least"),
    [(50.0, 5, 5, 0.0), (50.0, 5, 10, 0.09), (-1.0, 1, 50, 0.0)],
    ids=["within-burst", "beyond-burst", "unlimited"],
)
def test_rate_limiter(qps: float, burst: int, calls: int, at_least: float) -> None:
    import time

    limiter = RateLimiter(qps, burst)
    start = time.monotonic()
    for _ in range(calls):
        limiter.wait()
    elapsed = time.monotonic() - start
    assert elapsed >= at_least
    if at_least == 0.0:
        assert elapsed < 0.05
