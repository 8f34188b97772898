"""Child processes of a cluster: started with their logs in files, stopped SIGTERM-then-SIGKILL.

A cluster's state (``cluster.json`` in its directory) lists each
component's pid, process start time and command, so ``ksched cluster
down`` in another shell stops exactly those processes and never a
recycled pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Final

__all__ = ["STATE_FILE", "Component", "read_state", "start_component", "stop_pids", "write_state"]

STATE_FILE: Final = "cluster.json"


@dataclass(frozen=True)
class Component:
    """One running component: ``started`` is the process start time (clock ticks, /proc)."""

    name: str
    pid: int
    started: int
    command: tuple[str, ...]
    log: str


def _start_ticks(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat: tells a process from a later one with the same pid.

    -1 when there is no such process or it is a zombie (exited, not yet reaped).
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    fields = text.rpartition(")")[2].split()
    return -1 if fields[0] == "Z" else int(fields[19])


def ksched_command(*args: str) -> list[str]:
    """``ksched ARGS`` run by this interpreter (no reliance on PATH)."""
    return [sys.executable, "-m", "ksched", *args]


def start_component(
    name: str, command: Sequence[str], log_dir: Path, *, detach: bool = False
) -> tuple[subprocess.Popen[bytes], Component]:
    """Start ``command`` with stdout and stderr in ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{name}.log"
    out: IO[bytes] = path.open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=detach,
        )
    finally:
        out.close()
    return proc, Component(name, proc.pid, _start_ticks(proc.pid), tuple(command), str(path))


def alive(component: Component) -> bool:
    return _start_ticks(component.pid) == component.started


def stop_pids(components: Sequence[Component], timeout: float = 15.0) -> list[str]:
    """SIGTERM each (in the given order), SIGKILL what is left after ``timeout``; names killed."""
    killed = []
    for c in components:
        if alive(c):
            os.kill(c.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while alive(c) and time.monotonic() < deadline:
                _reap(c.pid)
                time.sleep(0.05)
            if alive(c):
                os.kill(c.pid, signal.SIGKILL)
                killed.append(c.name)
                while alive(c):
                    _reap(c.pid)
                    time.sleep(0.05)
        _reap(c.pid)
    return killed


def _reap(pid: int) -> None:
    """Collect our own exited child (a zombie still has its /proc entry)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def write_state(directory: Path, kubeconfig: Path, components: Sequence[Component]) -> Path:
    path = directory / STATE_FILE
    tmp = path.with_suffix(".tmp")
    state = {"kubeconfig": str(kubeconfig), "components": [asdict(c) for c in components]}
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)
    return path


def read_state(directory: Path) -> tuple[Path, list[Component]]:
    """The kubeconfig and components ``write_state`` recorded; ValueError names a bad file."""
    path = directory / STATE_FILE
    try:
        state = json.loads(path.read_text())
        comps = [
            Component(
                name=str(c["name"]),
                pid=int(c["pid"]),
                started=int(c["started"]),
                command=tuple(c["command"]),
                log=str(c["log"]),
            )
            for c in state["components"]
        ]
        return Path(state["kubeconfig"]), comps
    except FileNotFoundError:
        raise ValueError(
            f"{path}: no cluster state here (is a cluster up in {directory}?)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a cluster state file ({exc})") from None
