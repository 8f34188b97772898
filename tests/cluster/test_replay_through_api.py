"""A trace through the whole stack: API server, ksched, simulated kubelets, and back as a result."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ksched.cluster.replay import ApiReplay, priority_class
from ksched.cluster.up import Cluster, ClusterOptions
from ksched.sim.result import PODS_COLUMNS, ReplayResult
from ksched.traces import synthetic
from ksched.traces.workload import Workload

PODS = 80


def small_workload() -> Workload:
    """20 nodes, 80 pods arriving over 2 s and running 0.5-1.5 s each (seeded).

    Every pod has trace priority 100 (one class, so none preempts another): the replay
    must give them a PriorityClass, as Priority admission refuses a stated number.
    """
    wl = synthetic(n_nodes=20, n_pods=PODS, seed=3)
    rng = np.random.default_rng(3)
    pods = dataclasses.replace(
        wl.pods,
        creation_time=np.sort(rng.uniform(0, 2.0, PODS)),
        duration=rng.uniform(0.5, 1.5, PODS),
        priority=np.full(PODS, 100, dtype=wl.pods.priority.dtype),
    )
    return Workload("small", wl.nodes, pods)


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "small"
    small_workload().to_parquet(path)
    return path


@pytest.fixture(scope="module")
def result(trace_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayResult]:
    options = ClusterOptions(directory=tmp_path_factory.mktemp("cluster"), trace=str(trace_dir))
    with Cluster(options) as cluster:
        yield ApiReplay(Workload.from_parquet(trace_dir), str(cluster.kubeconfig)).run()


def test_every_pod_is_bound_run_and_finished(result: ReplayResult) -> None:
    s = result.summary
    assert (s["pods_total"], s["pods_arrived"], s["pods_placed"], s["create_errors"]) == (
        PODS,
        PODS,
        PODS,
        0,
    )
    assert s["pods_pending_at_end"] == 0
    pods = result.pods
    assert set(PODS_COLUMNS) <= set(pods.columns)
    assert (pods.arrival_time <= pods.scheduled_time).all()
    assert (pods.scheduled_time < pods.finish_time).all()
    assert s["throughput_pods_per_s"] > 0
    assert s["cpu_alloc_pct_final"] == 0  # everything finished and was released


def test_no_node_is_ever_overcommitted(result: ReplayResult) -> None:
    """At every bind, the pods then running on that node fit its capacity."""
    wl = small_workload()
    capacity = {
        str(n): (int(c), int(m))
        for n, c, m in zip(wl.nodes.name, wl.nodes.cpu_milli, wl.nodes.memory_bytes, strict=True)
    }
    pods: pd.DataFrame = result.pods
    assert set(pods.node) <= set(capacity)
    for node, group in pods.groupby("node"):
        for t in group.scheduled_time:
            running = group[(group.scheduled_time <= t) & (group.finish_time > t)]
            cpu, mem = capacity[str(node)]
            assert running.cpu_milli.sum() <= cpu
            assert running.memory_bytes.sum() <= mem


def test_replay_cli_through_api_writes_results(trace_dir: Path, tmp_path: Path) -> None:
    default = Path(__file__).parents[2] / "ksched" / "sim" / "profiles" / "default.yaml"
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable, "-m", "ksched", "replay", "--through-api", "--trace", str(trace_dir),
            "--config", str(default), "--out", str(out),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads((out / "default" / "summary.json").read_text())
    assert summary["summary"]["pods_placed"] == PODS
    assert summary["meta"]["through_api"] is True
    assert not list((out / "cluster").glob("*/cluster.json")) or all(
        json.loads(p.read_text())["components"] == []
        for p in (out / "cluster").glob("*/cluster.json")
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"time_compression": 0.0}, "time_compression"),
        ({"time_compression": float("nan")}, "time_compression"),
        ({"horizon": -1.0}, "horizon"),
        ({"creators": 0}, "creators"),
        ({"idle_seconds": 0.0}, "idle_seconds"),
    ],
    ids=["zero-compression", "nan-compression", "negative-horizon", "no-creators", "no-idle"],
)
def test_bad_parameters_are_refused_by_name(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=f"The '{name}' parameter of ApiReplay must be"):
        ApiReplay(small_workload(), "unused", **kwargs)


def test_pods_carry_their_compressed_duration_and_an_image() -> None:
    replay = ApiReplay(small_workload(), "unused", time_compression=4.0, namespace="ns")
    replay._prepare()
    body = replay.pod(0)
    assert body["metadata"]["namespace"] == "ns"
    row = int(replay.rows[0])
    expected = float(small_workload().pods.duration[row]) / 4.0
    assert float(body["metadata"]["annotations"]["ksched.io/duration-seconds"]) == pytest.approx(
        expected, abs=1e-6
    )
    assert all(c["image"] for c in body["spec"]["containers"])
    assert body["spec"]["schedulerName"] == "default-scheduler"


def test_trace_priorities_become_priority_classes() -> None:
    replay = ApiReplay(small_workload(), "unused")
    replay._prepare()
    spec = replay.pod(0)["spec"]
    assert "priority" not in spec and spec["priorityClassName"] == "ksched-priority-100"
    assert priority_class(-5) == "ksched-priority-minus-5"
