"""The openb loader reproduces every count and total the trace README publishes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ksched.api import Node, load_yaml, node_allocatable, pod_requests
from ksched.traces import (
    GPU_CARD_MODEL,
    GPU_COUNT,
    GPU_MILLI,
    OPENB_VARIANTS,
    load_openb,
    read_openb_nodes,
    read_openb_pods,
)

MIB = 1 << 20

# The README's variant table: rows, pods by num_gpu 0/1/2/4/8, sharing pods,
# total GPU request (GPUs, one decimal), pods with a non-empty gpu_spec.
DEFAULT = (1088, 6989, 16, 15, 44)
VARIANTS = {
    "default": (8152, DEFAULT, 3078, 6086.8, 0),
    "cpu0": (7064, (0, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu037": (7336, (272, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu050": (7439, (375, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu072": (7608, (544, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu100": (7853, (789, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu200": (8832, (1768, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu235": (9240, (2176, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu250": (9420, (2356, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "cpu300": (10094, (3030, 6989, 16, 15, 44), 3078, 6086.8, 0),
    "gpushare20": (8152, (1088, 6977, 12, 13, 62), 2324, 6531.5, 0),
    "gpushare40": (8152, (1088, 7002, 12, 11, 39), 4001, 5641.2, 0),
    "gpushare60": (8152, (1088, 7034, 7, 9, 14), 5233, 4908.3, 0),
    "gpushare80": (8152, (1088, 7047, 2, 3, 12), 6279, 4408.2, 0),
    "gpushare100": (8152, (1088, 7064, 0, 0, 0), 7064, 3952.7, 0),
    "gpuspec05": (8152, DEFAULT, 3078, 6086.8, 369),
    "gpuspec10": (8152, DEFAULT, 3078, 6086.8, 732),
    "gpuspec20": (8152, DEFAULT, 3078, 6086.8, 1444),
    "gpuspec25": (8152, DEFAULT, 3078, 6086.8, 1759),
    "gpuspec33": (8152, DEFAULT, 3078, 6086.8, 2388),
    "multigpu20": (8324, (1088, 6989, 54, 52, 141), 3078, 7086.8, 0),
    "multigpu30": (8508, (1088, 6989, 112, 83, 236), 3078, 8086.8, 0),
    "multigpu40": (8746, (1088, 6989, 156, 154, 359), 3078, 9442.8, 0),
    "multigpu50": (9061, (1088, 6989, 222, 206, 556), 3078, 11358.8, 0),
    "gpuspec33_cpu0": (7064, (0, 6989, 16, 15, 44), 3078, 6086.8, 2388),
    "nomem": (8152, DEFAULT, 3078, 6086.8, 0),
    "nomem_cpu0": (7064, (0, 6989, 16, 15, 44), 3078, 6086.8, 0),
}

GPUS_BY_MODEL = {
    "G2": 4392,
    "T4": 842,
    "G3": 312,
    "P100": 265,
    "V100M32": 204,
    "V100M16": 195,
    "A10": 2,
}


def test_every_variant_is_in_the_table() -> None:
    assert set(OPENB_VARIANTS) == set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS), ids=str)
def test_variant_matches_readme(openb_dir: Path, variant: str) -> None:
    rows, by_gpu, sharing, total_gpus, constrained = VARIANTS[variant]
    pods = load_openb(openb_dir, variant=variant).pods
    summary = pods.summary()
    assert len(pods) == rows
    counts = summary["pods_by_num_gpu"]
    assert tuple(counts.get(g, 0) for g in (0, 1, 2, 4, 8)) == by_gpu
    assert summary["sharing_pods"] == sharing
    assert abs(summary["gpu_milli"] / 1000 - total_gpus) <= 0.05 + 1e-9
    assert sum(1 for models in pods.gpu_models if models) == constrained


def test_default_workload(openb_dir: Path) -> None:
    w = load_openb(openb_dir)
    pods = w.pods
    assert (w.name, len(w), len(w.nodes)) == ("openb-default", 8152, 1213)
    assert dict(zip(*np.unique(pods.qos, return_counts=True), strict=True)) == {
        "LS": 4647,
        "BE": 3398,
        "Burstable": 100,
        "Guaranteed": 7,
    }
    assert dict(zip(*np.unique(pods.phase, return_counts=True), strict=True)) == {
        "Running": 5193,
        "Failed": 1870,
        "Pending": 897,
        "Succeeded": 192,
    }
    assert (pods.creation_time.min(), pods.creation_time.max()) == (0, 12_901_761)
    assert (pods.deletion_time.min(), pods.deletion_time.max()) == (9_964_972, 12_902_960)
    assert int((pods.creation_time < 9_964_972).sum()) == 33
    assert np.median(pods.duration) == 540
    assert pods.duration.max() == 12_537_496
    unscheduled = np.isnan(pods.scheduled_time)
    assert int(unscheduled.sum()) == 897
    assert set(pods.phase[unscheduled]) == {"Pending"}
    assert pods.cpu_milli.min() == 1000 and pods.cpu_milli.max() == 120_200
    assert pods.memory_bytes.min() == 0 and pods.memory_bytes.max() == 737_280 * MIB
    sharing_values = set(pods.gpu_milli[(pods.num_gpu == 1) & (pods.gpu_milli < 1000)])
    assert sharing_values == {
        50, 110, 140, 160, 220, 230, 270, 290, 320, 330, 350, 370, 440, 460, 470, 480,
        550, 590, 650, 810,
    }  # fmt: skip
    assert set(pods.gpu_milli[pods.num_gpu >= 2]) == {1000}
    assert set(pods.gpu_milli[pods.num_gpu == 0]) == {0}


@pytest.mark.parametrize(
    ("cluster", "nodes", "cpu_only", "vcpu", "memory_mib"),
    [("all", 1523, 310, 125_514, 612_028_416), ("gpu", 1213, 0, 107_018, 503_828_480)],
    ids=["all_node", "gpu_node"],
)
def test_nodes_match_readme(
    openb_dir: Path, cluster: str, nodes: int, cpu_only: int, vcpu: int, memory_mib: int
) -> None:
    table = read_openb_nodes(openb_dir / f"openb_node_list_{cluster}_node.csv")
    summary = table.summary()
    assert summary["nodes"] == nodes
    assert summary["nodes_by_gpu_count"] == {
        **({0: cpu_only} if cpu_only else {}),
        1: 24,
        2: 518,
        4: 54,
        8: 617,
    }
    assert summary["gpus"] == 6212
    assert summary["gpus_by_model"] == GPUS_BY_MODEL
    assert summary["cpu_milli"] == vcpu * 1000
    assert summary["memory_bytes"] == memory_mib * MIB
    assert set(table.gpu_model[table.gpu_count == 0]) <= {""}


def test_nodes_equal_the_upstream_node_yaml(openb_dir: Path) -> None:
    yaml_path = openb_dir / "node_yaml" / "openb_node_list_gpu_node.yaml"
    objects = load_yaml(yaml_path.read_text(encoding="utf-8"), str(yaml_path))
    expected = {
        n.metadata.name: (node_allocatable(n), n.metadata.labels[GPU_CARD_MODEL])
        for n in objects
        if isinstance(n, Node)
    }
    assert len(expected) == len(objects) == 1213
    got = {
        n.metadata.name: (node_allocatable(n), n.metadata.labels[GPU_CARD_MODEL])
        for n in load_openb(openb_dir).to_nodes()
    }
    assert got == expected


def test_pods_carry_open_gpu_share_annotations(openb_dir: Path) -> None:
    w = load_openb(openb_dir, variant="gpuspec33")
    by_name = {p.metadata.name: p for p in w.to_pods()}
    pods = w.pods
    for i in range(len(pods)):
        pod = by_name[pods.name[i]]
        notes = pod.metadata.annotations
        assert pod_requests(pod).get("cpu") == pods.cpu_milli[i]
        if pods.num_gpu[i]:
            assert notes[GPU_COUNT] == str(pods.num_gpu[i])
            assert notes[GPU_MILLI] == str(pods.gpu_milli[i])
            assert notes.get(GPU_CARD_MODEL, "") == "|".join(pods.gpu_models[i])
        else:
            assert GPU_COUNT not in notes and GPU_MILLI not in notes


def test_gpu_spec_duplicates_are_removed(openb_dir: Path) -> None:
    pods = read_openb_pods(openb_dir / "openb_pod_list_gpuspec33.csv")
    assert all(len(set(m)) == len(m) for m in pods.gpu_models)
    assert ("V100M16", "V100M32") in set(pods.gpu_models)


def test_layout_without_memory_or_times(openb_dir: Path) -> None:
    nomem = read_openb_pods(openb_dir / "simulator-history" / "openb_pod_list_nomem.csv")
    assert not nomem.memory_bytes.any()
    multigpu = read_openb_pods(openb_dir / "openb_pod_list_multigpu50.csv")
    assert np.isnan(multigpu.creation_time).all() and set(multigpu.qos) == {""}


def test_gpu_milli_is_clamped_like_the_fgd_simulator(tmp_path: Path) -> None:
    path = tmp_path / "openb_pod_list_clamp.csv"
    path.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
        "a,1000,1024,1,1500\n"
        "b,1000,1024,1,-20\n"
        "c,1000,1024,0,300\n"
        "d,1000,1024,1,470\n"
    )
    pods = read_openb_pods(path)
    assert pods.gpu_milli.tolist() == [1000, 0, 0, 470]


def test_unknown_variant_is_refused(openb_dir: Path) -> None:
    with pytest.raises(ValueError, match="'variant' parameter of load_openb must be one of"):
        load_openb(openb_dir, variant="cpu999")
