"""The scheduler's event queue is bounded (client-go's maxQueuedEvents); status patches are not.

A real HTTP server on loopback holds every event POST until the test lets
it go, so events pile up behind one writer exactly as they do behind a slow
API server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ksched.api import Pod
from ksched.apiserver.kubeconfig import write_kubeconfig
from ksched.framework.pod_info import PodInfo
from ksched.live.client import MAX_QUEUED_EVENTS, ApiClusterClient
from ksched.live.kube import KubeClient

EXTRA_EVENTS = 25
PATCHES = 3


class _SlowEvents(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.events = 0
        self.patches = 0


class _Handler(BaseHTTPRequestHandler):
    server: _SlowEvents
    protocol_version = "HTTP/1.1"
    # One write per answer (flushed after each request): no Nagle/delayed-ACK stalls.
    wbufsize = -1
    disable_nagle_algorithm = True

    def _answer(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.release.wait(60)
        with self.server.lock:
            self.server.events += 1
        self._answer(201, {"kind": "Event", "apiVersion": "events.k8s.io/v1"})

    def do_PATCH(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.patches += 1
        self._answer(200, {"kind": "Pod", "apiVersion": "v1"})

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[_SlowEvents]:
    httpd = _SlowEvents()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()


def _pod(i: int) -> PodInfo:
    pod = Pod.model_validate(
        {"metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}, "spec": {}}
    )
    return PodInfo.from_pod(pod)


def test_events_beyond_the_queue_are_dropped_and_status_patches_kept(
    server: _SlowEvents, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    url = f"http://127.0.0.1:{server.server_address[1]}"
    write_kubeconfig(kubeconfig, url, user="test", token=None, ca_file=None)
    kube = KubeClient.connect(str(kubeconfig), qps=100_000, burst=100_000)
    client = ApiClusterClient(
        kube, pdbs=list, on_bind_failed=lambda *_: None, workers=1, recorder_workers=1
    )
    try:
        for i in range(MAX_QUEUED_EVENTS + EXTRA_EVENTS):
            client.event(_pod(i), "Warning", "FailedScheduling", "Scheduling", "no fit")
        for i in range(PATCHES):
            client.set_unschedulable(_pod(i), "0/3 nodes are available")
        assert client.dropped_events == EXTRA_EVENTS
        assert client.in_flight == MAX_QUEUED_EVENTS + PATCHES
        server.release.set()
        assert client.wait_idle(120)
    finally:
        client.close()
        kube.close()
    assert server.events == MAX_QUEUED_EVENTS
    assert server.patches == PATCHES
    assert client.dropped_events == EXTRA_EVENTS
