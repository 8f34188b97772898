"""ksched vs kube-scheduler on a real kube-apiserver, scheduler_perf's SchedulingBasic shape.

Each scheduler gets a fresh control plane (etcd without fsync, as
scheduler_perf's), the same fake nodes (4 CPU / 32 GiB / 110 pods), the
same initial pods already bound (a tenth of the measured count, as
SchedulingBasic's 1,000 for 10,000) and the same measured pods (100m CPU /
500 MiB) created before the scheduler starts.  Both use the admin identity
and client QPS/burst raised to 5,000.  Throughput is the measured pods over
the time from the first to the last binding, sampled every 0.25 s by
listing the bound pods from this process; ``extra_info`` holds both figures and their ratio,
and each scheduler's CPU time per measured pod over the same interval (from
``/proc``), a figure that a busy machine disturbs less than pods/s.

The default size is 500 nodes / 1,000 pods so that CI stays short;
``KSCHED_LIVE_FULL=1`` runs upstream's 5,000 nodes / 10,000 pods.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ksched.live.kube import KubeClient
from ksched.testing.k8s import (
    COMPONENTS,
    BinaryMissingError,
    FakeNodes,
    RealControlPlane,
    binary,
    wait_until,
)

FULL = bool(os.environ.get("KSCHED_LIVE_FULL"))
NODES = 5_000 if FULL else 500
PODS = 10_000 if FULL else 1_000
INITIAL = PODS // 10
QPS = 5_000
NS = "bench"


def _pod(name: str, scheduler: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedulerName": scheduler,
        "containers": [
            {
                "name": "c",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}},
            }
        ],
    }
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BindingCounter:
    """Samples how many measured pods are bound, every ``PERIOD`` s, by listing the namespace.

    Each sample also holds the CPU time of process ``pid`` (the scheduler) once it is set.
    """

    PERIOD = 0.25

    def __init__(self, kubeconfig: Path) -> None:
        self.kube = KubeClient.connect(str(kubeconfig), qps=-1, burst=1)
        self.pid: int | None = None
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def bound(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def _run(self) -> None:
        query = {"fieldSelector": "spec.nodeName!="}
        while not self._stop.wait(self.PERIOD):
            page = self.kube.request("GET", f"/api/v1/namespaces/{NS}/pods", query=query)
            names = (p["metadata"]["name"] for p in page["items"])
            bound = sum(n.startswith("m-") for n in names)
            try:
                cpu = cpu_seconds(self.pid) if self.pid is not None else 0.0
            except OSError:  # the scheduler has just exited
                cpu = self.samples[-1][2] if self.samples else 0.0
            self.samples.append((time.monotonic(), bound, cpu))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.kube.close()


def _scheduler_command(cp: RealControlPlane, which: str, workdir: Path) -> list[str]:
    if which == "ksched":
        config = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            "leaderElection": {"leaderElect": False},
            "clientConnection": {"qps": float(QPS), "burst": QPS},
            "profiles": [{"schedulerName": "ksched"}],
        }
        path = workdir / "ksched.yaml"
        path.write_text(json.dumps(config))
        return [
            sys.executable, "-m", "ksched", "run", f"--kubeconfig={cp.kubeconfig}",
            f"--config={path}", "--metrics-bind-address=", "--log-level=WARNING",
        ]  # fmt: skip
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {"leaderElect": False},
        "clientConnection": {"qps": float(QPS), "burst": QPS, "kubeconfig": str(cp.kubeconfig)},
    }
    path = workdir / "kube-scheduler.yaml"
    path.write_text(json.dumps(config))
    return [
        str(binary("kube-scheduler")), f"--config={path}", "--bind-address=127.0.0.1",
        "--secure-port=0", f"--cert-dir={workdir / 'certs'}", "-v=1",
    ]  # fmt: skip


def _throughput(which: str, workdir: Path) -> dict[str, float]:
    scheduler = "ksched" if which == "ksched" else "default-scheduler"
    with RealControlPlane(etcd_fsync=False) as cp:
        cp.create_namespace(NS)
        fake = FakeNodes.uniform(cp.api, NODES, prefix="n-", cpu="4", memory="32Gi", pods=110)
        fake.workers = 16
        fake.register()
        pods = [_pod(f"i-{i}", scheduler, f"n-{i % NODES}") for i in range(INITIAL)]
        pods += [_pod(f"m-{i}", scheduler) for i in range(PODS)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: cp.api.call("POST", f"/api/v1/namespaces/{NS}/pods", p), pods))
        counter = BindingCounter(cp.kubeconfig)
        counter.start()
        log = (workdir / f"{which}.log").open("wb")
        started = time.monotonic()
        proc = subprocess.Popen(
            _scheduler_command(cp, which, workdir), stdout=log, stderr=subprocess.STDOUT
        )
        counter.pid = proc.pid
        try:
            wait_until(lambda: counter.bound() >= PODS, f"{which} to bind {PODS} pods", 1800, 0.2)
        finally:
            proc.terminate()
            proc.wait(30)
            counter.stop()
            log.close()
        first, _, cpu_first = next(s for s in counter.samples if s[1] > 0)
        last, _, cpu_last = next(s for s in counter.samples if s[1] >= PODS)
        return {
            "pods_per_second": round(PODS / max(last - first, BindingCounter.PERIOD), 1),
            "cpu_ms_per_pod": round(1000 * (cpu_last - cpu_first) / PODS, 2),
            "first_binding_after_start_s": round(first - started, 2),
            "total_s": round(last - started, 2),
        }


def _require_binaries() -> None:
    try:
        for name in COMPONENTS:
            binary(name)
    except BinaryMissingError as err:
        pytest.skip(str(err))


# ksched.testing.k8s.ApiClient keeps one TLS connection per pool thread and
# leaves it to the garbage collector once the thread ends.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_live_vs_kube_scheduler(benchmark: Any, tmp_path: Path) -> None:
    _require_binaries()
    kube = _throughput("kube-scheduler", tmp_path)
    ours: dict[str, float] = {}

    def run() -> None:
        ours.update(_throughput("ksched", tmp_path))

    benchmark.pedantic(run, rounds=1, iterations=1)
    ratio = ours["pods_per_second"] / kube["pods_per_second"]
    benchmark.extra_info.update(
        nodes=NODES,
        pods=PODS,
        ksched=ours,
        kube_scheduler=kube,
        throughput_ratio=round(ratio, 3),
    )
    print(
        f"\n{NODES} nodes / {PODS} pods: ksched {ours['pods_per_second']} pods/s, "
        f"kube-scheduler {kube['pods_per_second']} pods/s, ratio {ratio:.3f}; CPU per pod: "
        f"ksched {ours['cpu_ms_per_pod']} ms, kube-scheduler {kube['cpu_ms_per_pod']} ms"
    )
