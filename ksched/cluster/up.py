"""``Cluster``: the API server, controllers, simulated kubelets and ksched as processes.

Each component is its own ``ksched`` process (as in a real control plane,
and so the two cores of a small machine are both used), logging to
``<dir>/logs/<name>.log``. The API server writes the kubeconfig the others
use; the scheduler is ``ksched run`` with leader election off and client
rate limits raised (kube-scheduler's defaults, 50 QPS, would make the API
the bottleneck of every replay). ``down`` stops them in reverse order.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from ksched.cluster.processes import (
    Component,
    alive,
    ksched_command,
    read_state,
    start_component,
    stop_pids,
    write_state,
)

__all__ = ["Cluster", "ClusterError", "ClusterOptions", "cluster_down"]

KUBECONFIG: Final = "kubeconfig.yaml"
SCHEDULER_CONFIG: Final = "scheduler-config.yaml"
CLIENT_QPS: Final = 100_000


class ClusterError(RuntimeError):
    """A component did not come up; the message quotes the end of its log."""


@dataclass
class ClusterOptions:
    """What to run. ``trace`` (with ``trace_args``) gives the kubelet a trace's nodes."""

    directory: Path = field(default_factory=lambda: Path("ksched-cluster"))
    nodes: int = 3
    trace: str | None = None
    trace_args: Sequence[str] = ()
    kubelet_args: Sequence[str] = ()
    scheduler: bool = True
    scheduler_config: Path | None = None
    scheduler_args: Sequence[str] = ()
    controllers: bool = True
    storage: str = "memory"
    port: int = 0
    start_timeout: float = 60.0


def _tail(path: str, lines: int = 15) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _logged(comp: Component, text: str) -> Callable[[], bool]:
    return lambda: text in _tail(comp.log, 50)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def scheduler_config(directory: Path, source: Path | None) -> Path:
    """The scheduler's configuration: ``source`` (or the defaults) without leader election,
    client rate limits raised."""
    doc: dict[str, Any] = (
        yaml.safe_load(source.read_text())
        if source is not None
        else {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}
    )
    if not isinstance(doc, dict):
        raise ClusterError(f"{source}: not a KubeSchedulerConfiguration mapping")
    doc["leaderElection"] = {**(doc.get("leaderElection") or {}), "leaderElect": False}
    doc["clientConnection"] = {
        **(doc.get("clientConnection") or {}),
        "qps": CLIENT_QPS,
        "burst": CLIENT_QPS,
    }
    path = directory / SCHEDULER_CONFIG
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Cluster:
    """``up()`` starts everything and returns the kubeconfig; ``down()`` stops it all."""

    def __init__(self, options: ClusterOptions | None = None) -> None:
        self.options = options or ClusterOptions()
        self.directory = self.options.directory.resolve()
        self.kubeconfig = self.directory / KUBECONFIG
        self.components: list[Component] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Cluster:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def _start(self, name: str, args: Sequence[str], detach: bool) -> Component:
        proc, comp = start_component(
            name, ksched_command(*args), self.directory / "logs", detach=detach
        )
        self._procs.append(proc)
        self.components.append(comp)
        write_state(self.directory, self.kubeconfig, self.components)
        return comp

    def _wait(self, comp: Component, ready: Any, what: str) -> None:
        deadline = time.monotonic() + self.options.start_timeout
        while not ready():
            if not alive(comp):
                self.down()
                raise ClusterError(f"{comp.name} exited before {what}:\n{_tail(comp.log)}")
            if time.monotonic() > deadline:
                self.down()
                raise ClusterError(
                    f"{comp.name}: no {what} within {self.options.start_timeout:g} s:\n"
                    f"{_tail(comp.log)}"
                )
            time.sleep(0.1)

    def up(self, *, detach: bool = False) -> Path:
        """Start the components in dependency order, each once the one before is ready."""
        from ksched.cluster.processes import STATE_FILE

        opts = self.options
        self.directory.mkdir(parents=True, exist_ok=True)
        state = self.directory / STATE_FILE
        if state.exists():
            _, old = read_state(self.directory)
            if any(alive(c) for c in old):
                raise ClusterError(
                    f"a cluster is already up in {self.directory} (ksched cluster down first)"
                )
        self.kubeconfig.unlink(missing_ok=True)
        api = self._start(
            "apiserver",
            [
                "apiserver",
                "--bind-address",
                "127.0.0.1",
                "--port",
                str(opts.port),
                "--storage",
                opts.storage,
                "--data-dir",
                str(self.directory / "data"),
                "--anonymous-dev",
                "--write-kubeconfig",
                str(self.kubeconfig),
            ],
            detach,
        )
        self._wait(api, self._api_ready, "an answer on /version")
        kc = str(self.kubeconfig)
        # The rest only need the API server: start them together, then wait for each.
        waits = []
        if opts.controllers:
            cm = self._start(
                "controller-manager", ["controller-manager", "--kubeconfig", kc], detach
            )
            waits.append((cm, _logged(cm, "running"), "its controllers running"))
        nodes = ["--trace", opts.trace] if opts.trace else ["--nodes", str(opts.nodes)]
        for arg in opts.trace_args:
            nodes += ["--trace-arg", arg]
        kubelet = self._start(
            "kubelet", ["kubelet", "--kubeconfig", kc, *nodes, *opts.kubelet_args], detach
        )
        waits.append((kubelet, _logged(kubelet, "running"), "its nodes registered"))
        if opts.scheduler:
            config = scheduler_config(self.directory, opts.scheduler_config)
            port = _free_port()
            sched = self._start(
                "scheduler",
                [
                    "run",
                    "--kubeconfig",
                    kc,
                    "--config",
                    str(config),
                    "--no-leader-elect",
                    "--metrics-bind-address",
                    f"127.0.0.1:{port}",
                    *opts.scheduler_args,
                ],
                detach,
            )
            ready = f"http://127.0.0.1:{port}/readyz"
            waits.append((sched, lambda: _http_ok(ready), "an answer on /readyz"))
        for comp, check, what in waits:
            self._wait(comp, check, what)
        return self.kubeconfig

    def _api_ready(self) -> bool:
        if not self.kubeconfig.is_file():
            return False
        from ksched.controllers.client import ApiError, ClientConfigError, KubeClient

        try:
            with KubeClient(str(self.kubeconfig)) as client:
                client.request("GET", "/version", timeout=2.0)
        except (ApiError, ClientConfigError, OSError):
            return False
        return True

    def down(self) -> list[str]:
        """Stop every component (reverse start order); names of those that needed SIGKILL."""
        killed = stop_pids(list(reversed(self.components)))
        for proc in self._procs:
            proc.wait()  # already stopped (and usually reaped): records the exit code
        write_state(self.directory, self.kubeconfig, [])
        self.components, self._procs = [], []
        return killed


def cluster_down(directory: Path) -> tuple[list[Component], list[str]]:
    """Stop the cluster recorded in ``directory`` (started detached): (components, killed)."""
    kubeconfig, components = read_state(directory)
    killed = stop_pids(list(reversed(components)))
    write_state(directory, kubeconfig, [])
    return components, killed
