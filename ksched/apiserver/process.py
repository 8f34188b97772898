"""Running ``ksched apiserver`` as a child process: for tests, benchmarks and ``cluster up``."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from ksched._scope import Scoped

__all__ = ["ApiServerProcess"]


class ApiServerProcess(Scoped):
    """Start a server on a free loopback port; ``url``, ``token`` and ``kubeconfig`` once ready.

    ``workdir`` holds the kubeconfig, the data directory and the server's log;
    restarting with the same ``workdir`` reopens the same storage.
    """

    def __init__(self, workdir: Path, *extra_args: str, tls: bool = False) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        self.log_path = workdir / "apiserver.log"
        self.extra_args = extra_args
        self.tls = tls
        self.url = ""
        self.token: str | None = None
        self.ca_file: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self, timeout: float = 30.0) -> ApiServerProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig.unlink(missing_ok=True)
        args = [
            sys.executable,
            "-m",
            "ksched.cli.apiserver_cmd",
            "--port",
            "0",
            "--data-dir",
            str(self.workdir / "data"),
            "--write-kubeconfig",
            str(self.kubeconfig),
            *self.extra_args,
        ]
        if self.tls:
            args += ["--self-signed-cert-dir", str(self.workdir / "pki")]
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"apiserver exited with {self._proc.returncode}:\n{self.log_path.read_text()}"
                )
            if self.kubeconfig.exists():
                self._read_kubeconfig()
                if self._ready():
                    return
            time.sleep(0.05)
        raise TimeoutError(f"apiserver not ready in {timeout} s:\n{self.log_path.read_text()}")

    def _read_kubeconfig(self) -> None:
        doc: dict[str, Any] = yaml.safe_load(self.kubeconfig.read_text())
        self.url = doc["clusters"][0]["cluster"]["server"]
        self.token = doc["users"][0]["user"].get("token")
        if self.tls:
            self.ca_file = self.workdir / "pki" / "apiserver.crt"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"{self.url}/readyz", timeout=1, context=self.ssl_context()
            ) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush: what a crash looks like."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGKILL)
            self._proc.wait()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; SIGKILL after ``timeout``. The exit code."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return int(self._proc.returncode)

    def _enter(self) -> None:
        if self._proc is None:
            self.start()

    def _exit(self) -> None:
        self.stop()
