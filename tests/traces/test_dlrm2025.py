"""The DLRM 2025 loader: README counts, and totals checked against a plain csv-module read."""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import numpy as np

from ksched.api import pod_requests
from ksched.traces import load_dlrm2025
from ksched.traces.dlrm2025 import DISK_RESOURCE, RDMA_RESOURCE
from ksched.traces.workload import GROUP_LABEL, MAX_PER_NODE_ANNOTATION

GIB = 1 << 30


def test_readme_counts(dlrm_dir: Path) -> None:
    w = load_dlrm2025(dlrm_dir)
    pods = w.pods
    assert len(pods) == 23_871
    assert len(w.nodes) == 0
    # 16,485 CN (CPU node) and 7,386 HN (GPU node) instances; HN instances hold one GPU.
    assert pods.summary()["pods_by_num_gpu"] == {0: 16_485, 1: 7_386}
    assert len(set(pods.group)) == 156
    assert set(pods.qos) == {"LS"}
    assert int(np.isnan(pods.creation_time).sum()) == 7280
    assert int(np.isnan(pods.scheduled_time).sum()) == 7280
    assert int(np.isnan(pods.deletion_time).sum()) == 8878
    assert round(float(np.nanmin(pods.creation_time))) == 475
    assert np.nanmax(pods.creation_time) == 2_676_636


def test_totals_match_an_independent_read(dlrm_dir: Path) -> None:
    with (dlrm_dir / "disaggregated_DLRM_trace.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    pods = load_dlrm2025(dlrm_dir).pods
    assert pods.name.tolist() == [r["instance_sn"] for r in rows]
    assert int(pods.cpu_milli.sum()) == 1000 * sum(int(r["cpu_request"]) for r in rows)
    assert int(pods.num_gpu.sum()) == sum(int(r["gpu_request"]) for r in rows) == 7386
    memory = sum(Fraction(r["memory_request"]) * GIB for r in rows)
    disk = sum(Fraction(r["disk_request"]) * GIB for r in rows)
    assert int(pods.memory_bytes.sum()) == memory
    assert int(pods.extended[DISK_RESOURCE].sum()) == disk
    assert int(pods.extended[RDMA_RESOURCE].sum()) == sum(int(r["rdma_request"]) for r in rows)
    limits = [int(r["max_instance_per_node"]) for r in rows]
    assert pods.max_per_node.tolist() == [0 if v == -1 else v for v in limits]
    lifetimes = [
        float(r["deletion_time"]) - float(r["creation_time"])
        for r in rows
        if r["deletion_time"] and r["creation_time"]
    ]
    assert np.allclose(np.sort(pods.duration[~np.isnan(pods.duration)]), np.sort(lifetimes))


def test_pods_build(dlrm_dir: Path) -> None:
    w = load_dlrm2025(dlrm_dir)
    first = next(w.to_pods())
    assert first.metadata.name == "instance_0"
    assert first.metadata.labels[GROUP_LABEL] == "app_0"
    assert first.metadata.annotations[MAX_PER_NODE_ANNOTATION] == "8"
    assert pod_requests(first) == {
        "cpu": 12_000,
        "memory": 120 * GIB,
        RDMA_RESOURCE: 25,
        DISK_RESOURCE: 640 * GIB,
    }


def test_csv_path_or_folder(dlrm_dir: Path) -> None:
    by_file = load_dlrm2025(dlrm_dir / "disaggregated_DLRM_trace.csv")
    assert by_file.pods.equals(load_dlrm2025(dlrm_dir).pods)
