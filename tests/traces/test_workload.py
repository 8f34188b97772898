"""The columnar workload: construction checks, subsets, lazy API objects, Parquet round trip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ksched.api import Node, Pod, node_allocatable, pod_requests
from ksched.traces import (
    GPU_CARD_MODEL,
    GPU_COUNT,
    GPU_MILLI,
    NodeTable,
    PodTable,
    TraceFormatError,
    Workload,
    gpu_model_sets,
    load_dlrm2025,
    load_openb,
    synthetic,
)
from ksched.traces.workload import GROUP_LABEL, QOS_ANNOTATION

MIB, GIB = 1 << 20, 1 << 30


def small() -> Workload:
    nodes = NodeTable.from_columns(
        name=["n0", "n1"],
        cpu_milli=[64_000, 32_000],
        memory_bytes=[256 * GIB, 3 * MIB + 5],
        gpu_count=[2, 0],
        gpu_model=["T4", ""],
        extended={"example.com/fpga": [1, 0]},
        labels=[{"zone": "a"}, {}],
    )
    pods = PodTable.from_columns(
        name=["p0", "p1", "p2"],
        cpu_milli=[1500, 0, 250],
        memory_bytes=[GIB, 0, 5],
        num_gpu=[1, 0, 2],
        gpu_milli=[470, 0, 1000],
        gpu_models=gpu_model_sets(["T4|V100M16|T4", "", ""]),
        priority=[0, 5, 0],
        qos=["LS", "", "BE"],
        group=["g", "", ""],
        creation_time=[0.0, 1.5, np.nan],
        deletion_time=[10.0, np.nan, np.nan],
        extended={"example.com/fpga": [0, 1, 0]},
    )
    return Workload("small", nodes, pods, {"source": "test", "n": 3})


def test_gpu_model_sets() -> None:
    sets = gpu_model_sets(["V100M16|V100M32|V100M32", "", " A10 ||T4", "V100M16|V100M32"])
    assert sets.tolist() == [("V100M16", "V100M32"), (), ("A10", "T4"), ("V100M16", "V100M32")]
    assert gpu_model_sets([]).shape == (0,)


def test_defaults_and_duration() -> None:
    pods = small().pods
    assert pods.num_gpu.dtype == np.int32 and pods.cpu_milli.dtype == np.int64
    assert pods.phase.tolist() == ["", "", ""]
    assert np.array_equal(pods.duration, [10.0, np.nan, np.nan], equal_nan=True)
    assert np.isnan(pods.scheduled_time).all()
    assert small().nodes.max_pods.tolist() == [110, 110]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cpu_milli": [1, 2]}, "column cpu_milli has shape"),
        ({"gpu_milli": [0, 1001, 0]}, "gpu_milli has a value above 1000"),
        ({"memory_bytes": [0, -1, 0]}, "column memory_bytes has a negative value"),
        ({"extended": {"x/y": [1, 2]}}, "extended resource 'x/y' has shape"),
    ],
    ids=["length", "gpu-milli", "negative", "extended"],
)
def test_tables_refuse_inconsistent_columns(change: dict[str, object], message: str) -> None:
    columns: dict[str, object] = {"name": ["a", "b", "c"], "cpu_milli": [1, 2, 3]}
    columns["memory_bytes"] = [0, 0, 0]
    columns.update(change)
    with pytest.raises(ValueError, match=message):
        PodTable.from_columns(**columns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "idx",
    [slice(1, 3), np.array([False, True, True]), [1, 2]],
    ids=["slice", "mask", "positions"],
)
def test_subset(idx: object) -> None:
    w = small()
    sub = w.subset(idx)  # type: ignore[arg-type]
    assert len(sub) == 2 and sub.pods.name.tolist() == ["p1", "p2"]
    assert sub.pods.extended["example.com/fpga"].tolist() == [1, 0]
    assert sub.nodes is w.nodes
    assert w.nodes.subset([1]).labels == ({},)


def test_to_pods_builds_api_objects() -> None:
    p0, p1, p2 = small().to_pods()
    assert isinstance(p0, Pod)
    assert pod_requests(p0) == {"cpu": 1500, "memory": GIB}
    assert p0.metadata.annotations == {
        GPU_COUNT: "1",
        GPU_MILLI: "470",
        GPU_CARD_MODEL: "T4|V100M16",
        QOS_ANNOTATION: "LS",
    }
    assert p0.metadata.labels == {GROUP_LABEL: "g"}
    assert p1.spec.priority == 5 and pod_requests(p1) == {"example.com/fpga": 1}
    assert GPU_CARD_MODEL not in p2.metadata.annotations
    assert p2.metadata.namespace == "default"


def test_to_nodes_builds_api_objects() -> None:
    n0, n1 = small().to_nodes()
    assert isinstance(n0, Node)
    assert node_allocatable(n0) == {
        "cpu": 64_000,
        "memory": 256 * GIB,
        "pods": 110,
        GPU_COUNT: 2,
        GPU_MILLI: 2000,
        "example.com/fpga": 1,
    }
    assert n0.metadata.labels == {
        "kubernetes.io/hostname": "n0",
        "zone": "a",
        GPU_CARD_MODEL: "T4",
    }
    assert node_allocatable(n1)["memory"] == 3 * MIB + 5
    assert GPU_COUNT not in node_allocatable(n1)


def test_pods_are_built_lazily() -> None:
    w = synthetic(10, 100_000, seed=1)
    pods = w.to_pods()
    first = next(pods)
    assert first.metadata.name == "syn-pod-0000000"


def round_trip(w: Workload, tmp_path: Path) -> Workload:
    back = Workload.from_parquet(w.to_parquet(tmp_path / "wl"))
    assert back.name == w.name and back.meta == w.meta
    assert back.nodes.equals(w.nodes)
    assert back.pods.equals(w.pods)
    return back


def test_parquet_round_trip_small(tmp_path: Path) -> None:
    back = round_trip(small(), tmp_path)
    assert back.pods.gpu_models[0] == ("T4", "V100M16")
    assert sorted(p.name for p in (tmp_path / "wl").iterdir()) == [
        "nodes.parquet",
        "pods.parquet",
        "workload.json",
    ]


def test_parquet_round_trip_synthetic(tmp_path: Path) -> None:
    round_trip(synthetic(200, 50_000, seed=9, gpu_spec_share=0.2), tmp_path)


def test_parquet_round_trip_openb(openb_dir: Path, tmp_path: Path) -> None:
    round_trip(load_openb(openb_dir, variant="gpuspec33", cluster="all"), tmp_path)


def test_parquet_round_trip_dlrm(dlrm_dir: Path, tmp_path: Path) -> None:
    round_trip(load_dlrm2025(dlrm_dir), tmp_path)


def test_from_parquet_refuses_other_directories(tmp_path: Path) -> None:
    out = small().to_parquet(tmp_path / "wl")
    (out / "workload.json").write_text(json.dumps({"format": "other", "version": 9}))
    with pytest.raises(TraceFormatError, match="not a ksched-workload version 1 directory"):
        Workload.from_parquet(out)


def test_equals_notices_differences() -> None:
    a, b = small().pods, small().pods
    assert a.equals(b)
    assert not a.equals(b.subset([0, 1, 2][::-1]))
    nodes = small().nodes
    assert not nodes.equals(dataclasses.replace(nodes, labels=None))
