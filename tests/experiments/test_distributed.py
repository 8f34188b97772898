"""The sweep on a real Dask cluster: a scheduler and two worker processes on loopback.

The workers get neither the trace folder nor the profile files (the client
scatters the workload and sends the profile text), and the records equal
an in-process run of the same cells.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksched.experiments import InProcess, iter_records, plan_grid, resolve_policy, run_grid
from ksched.experiments.distributed import DaskCluster

pytestmark = pytest.mark.slow


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dask_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("dask")
    info = work / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(info)],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(scheduler)
        _wait_for(info, scheduler)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
             "--nthreads", "1", "--no-dashboard", "--local-directory", str(work)],
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(worker)
        _wait_for_workers(address, 2)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        client.wait_for_workers(n, timeout=120)


def test_a_sweep_on_dask_equals_the_local_run(
    dask_address: str, tiny_trace: Path, tmp_path: Path
) -> None:
    policies = [resolve_policy("default"), resolve_policy("most-allocated")]
    cells = plan_grid(["default", "most-allocated"], ["default", "gpushare40"], [42])
    cells += plan_grid(["most-allocated"], ["default"], [43], ["random"])
    remote = run_grid(
        cells, policies, tmp_path / "dask", DaskCluster(dask_address, str(tiny_trace))
    )
    assert len(remote.ran) == len(cells) == 5 and not remote.failed
    local = run_grid(cells, policies, tmp_path / "local", InProcess(str(tiny_trace)))
    stored = {r.cell: r.outcome() for r in iter_records(tmp_path / "dask")}
    assert stored == {r.cell: r.outcome() for r in local.ran}


def test_a_failing_cell_on_dask_is_reported_with_its_error(
    dask_address: str, tiny_trace: Path, tmp_path: Path
) -> None:
    from ksched.experiments import GridError, Policy

    bad = Policy("broken", "apiVersion: kubescheduler.config.k8s.io/v1\nkind: Nope\n", "b.yaml")
    cells = plan_grid(["broken"], ["default"], [42])
    with pytest.raises(
        GridError, match=r"default/broken/seed 42/smallest-name: ConfigError: b\.yaml:2"
    ):
        run_grid(cells, [bad], tmp_path, DaskCluster(dask_address, str(tiny_trace)))
