"""Helpers for the live tests: ``ksched run`` as a child process, pods, waits and event reads."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ksched.testing.k8s import ApiClient, FakeNodes, RealControlPlane, wait_until

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KSCHED = "ksched"


def ksched_kubeconfig(cluster: RealControlPlane, directory: Path) -> Path:
    """Apply deploy/rbac.yaml with kubectl; a kubeconfig with the ServiceAccount's token."""
    cluster.kubectl("apply", "-f", str(DEPLOY / "rbac.yaml"))
    token = cluster.service_account_token("ksched", "kube-system")
    return cluster.write_kubeconfig(directory / "ksched.kubeconfig", token, user="ksched")


def register(nodes: FakeNodes) -> None:
    """Register fake nodes, quietly dropping the TLS connections of FakeNodes' pool threads.

    ``ksched.testing.k8s.ApiClient`` keeps one connection per thread and leaves
    it to the garbage collector when the thread ends, which warns.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        nodes.register()
        gc.collect()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class KschedProcess:
    """``python -m ksched run`` with deploy/'s configuration, logging to a file."""

    def __init__(
        self,
        kubeconfig: Path,
        workdir: Path,
        *,
        leader_elect: bool = False,
        config: Path = DEPLOY / "ksched-config.yaml",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "ksched.log"
        self.port = free_port()
        self.argv = [
            sys.executable,
            "-m",
            "ksched",
            "run",
            f"--kubeconfig={kubeconfig}",
            f"--config={config}",
            "--leader-elect" if leader_elect else "--no-leader-elect",
            f"--metrics-bind-address=127.0.0.1:{self.port}",
            *extra_args,
        ]
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        wait_until(self.ready, f"ksched /readyz on port {self.port}", 180)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def ready(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(f"ksched exited {self.popen.returncode}:\n{self.log_tail()}")
        with contextlib.suppress(OSError):
            return self.get("/readyz")[0] == 200
        return False

    def metric(self, metric: str, /, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        series = f"{metric}{{{want}}}" if want else metric
        for line in self.get("/metrics")[1].splitlines():
            head, _, value = line.rpartition(" ")
            if head == series or _same_series(head, metric, labels):
                return float(value)
        return 0.0

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the graceful path (lease released)."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is released."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _same_series(head: str, name: str, labels: Mapping[str, str]) -> bool:
    if not head.startswith(name + "{"):
        return False
    found = dict(part.split("=", 1) for part in head[len(name) + 1 : -1].split(",") if "=" in part)
    return {k: v.strip('"') for k, v in found.items()} == dict(labels)


def pod(
    name: str,
    scheduler: str = KSCHED,
    *,
    cpu: str = "100m",
    memory: str = "128Mi",
    labels: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "spec": {
            "schedulerName": scheduler,
            "containers": [
                {
                    "name": "c",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ],
            "terminationGracePeriodSeconds": 0,
            **spec,
        },
    }


def create_pods(api: ApiClient, namespace: str, pods: list[dict[str, Any]]) -> None:
    for p in pods:
        api.call("POST", f"/api/v1/namespaces/{namespace}/pods", p)


def pods_in(api: ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    body = api.call("GET", f"/api/v1/namespaces/{namespace}/pods")
    return {p["metadata"]["name"]: p for p in body["items"]}


def wait_bound(
    api: ApiClient, namespace: str, names: list[str], timeout: float = 60.0
) -> dict[str, dict[str, Any]]:
    def probe() -> dict[str, dict[str, Any]] | None:
        pods = pods_in(api, namespace)
        ok = all(pods.get(n, {}).get("spec", {}).get("nodeName") for n in names)
        return pods if ok else None

    return wait_until(probe, f"pods {names} in {namespace} to be bound", timeout, 0.2)


def events(api: ApiClient, namespace: str) -> list[dict[str, Any]]:
    """events.k8s.io/v1 Events of the namespace."""
    body = api.call("GET", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events")
    items: list[dict[str, Any]] = body["items"]
    return items


def scheduled_events(api: ApiClient, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Pod name -> its ``Scheduled`` events."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events(api, namespace):
        if e.get("reason") == "Scheduled":
            out.setdefault(e["regarding"]["name"], []).append(e)
    return out


def condition(pod_obj: Mapping[str, Any], kind: str = "PodScheduled") -> dict[str, Any] | None:
    for c in pod_obj.get("status", {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return None


def lease_holder(api: ApiClient, name: str = "ksched", namespace: str = "kube-system") -> str:
    status, body = api.request(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
    )
    if status != 200:
        return ""
    return str(body.get("spec", {}).get("holderIdentity") or "")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def now() -> float:
    return time.monotonic()
