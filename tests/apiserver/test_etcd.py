"""The etcd backend against a real etcd on loopback: writes survive ``kill -9`` of the server.

etcd comes from tools/k8s/build.sh (``ksched.testing.k8s.binary("etcd")``) or,
failing that, from PATH (Debian's ``etcd-server``). Skipped locally when
neither is there; a failure under CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ksched.apiserver import ApiServerProcess
from ksched.testing.k8s import BinaryMissingError, binary


def _etcd_binary() -> str:
    try:
        return str(binary("etcd"))
    except BinaryMissingError as err:
        found = shutil.which("etcd")
        if found:
            return found
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[str]:
    client, peer = _free_port(), _free_port()
    url = f"http://127.0.0.1:{client}"
    log = (tmp_path / "etcd.log").open("w")
    proc = subprocess.Popen(
        [
            _etcd_binary(),
            "--name=ksched-test",
            f"--data-dir={tmp_path / 'etcd-data'}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=ksched-test=http://127.0.0.1:{peer}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "etcd.log"
            ).read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def _pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}


def test_acknowledged_writes_survive_kill_9_with_etcd(tmp_path: Path, etcd: str) -> None:
    args = ("--anonymous-dev", "--storage", "etcd", "--etcd-servers", etcd)
    server = ApiServerProcess(tmp_path / "server", *args).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            with ThreadPoolExecutor(8) as pool:
                codes = list(
                    pool.map(
                        lambda i: (
                            http.post(
                                "/api/v1/namespaces/default/pods", json=_pod(f"e{i}")
                            ).status_code
                        ),
                        range(200),
                    )
                )
            assert codes == [201] * 200
            http.delete("/api/v1/namespaces/default/pods/e0")
            last_rv = int(
                http.get("/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]
            )
        server.kill()
        server = ApiServerProcess(tmp_path / "server", *args).start()
        with httpx.Client(base_url=server.url, timeout=10) as http:
            listed = http.get("/api/v1/namespaces/default/pods").json()
            names = {p["metadata"]["name"] for p in listed["items"]}
            assert names == {f"e{i}" for i in range(1, 200)}
            assert int(listed["metadata"]["resourceVersion"]) >= last_rv
            after = http.post("/api/v1/namespaces/default/pods", json=_pod("after")).json()
            assert int(after["metadata"]["resourceVersion"]) > last_rv
    finally:
        server.stop()


def test_unreachable_etcd_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ksched.cli.apiserver_cmd",
            "--anonymous-dev",
            "--storage",
            "etcd",
            "--etcd-servers",
            f"http://127.0.0.1:{_free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "is unreachable" in result.stderr and "Traceback" not in result.stderr
