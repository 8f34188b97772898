"""The synthetic generator: same seed, same workload; its statistics match openb's."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from numpy.typing import NDArray

from ksched.traces import Workload, synthetic
from ksched.traces.workload import PodTable

# openb default (README): 1088 / 6989 / 16 / 15 / 44 pods by num_gpu, 3078 sharing.
POD_SHARES = {0: 1088 / 8152, 1: 6989 / 8152, 2: 16 / 8152, 4: 15 / 8152, 8: 44 / 8152}
SHARING_SHARE = 3078 / 8152
SHARING_VALUES = {
    50, 110, 140, 160, 220, 230, 270, 290, 320, 330, 350, 370, 440, 460, 470, 480, 550,
    590, 650, 810,
}  # fmt: skip
# openb all_node (README): 1523 nodes, 310 CPU-only; GPU nodes 24 / 518 / 54 / 617.
NODE_SHARES = {0: 310 / 1523, 1: 24 / 1523, 2: 518 / 1523, 4: 54 / 1523, 8: 617 / 1523}


@pytest.fixture(scope="module")
def big() -> Workload:
    return synthetic(n_nodes=5000, n_pods=200_000, seed=11)


def test_same_seed_same_workload() -> None:
    a, b = synthetic(50, 2000, seed=3), synthetic(50, 2000, seed=3)
    assert a.pods.equals(b.pods) and a.nodes.equals(b.nodes) and a.meta == b.meta
    c = synthetic(50, 2000, seed=4)
    assert not c.pods.equals(a.pods)


def test_sizes_and_names() -> None:
    w = synthetic(7, 30, seed=0)
    assert (len(w.nodes), len(w)) == (7, 30)
    assert w.pods.name[0] == "syn-pod-0000000" and w.nodes.name[6] == "syn-node-00006"
    assert len(set(w.pods.name)) == 30


def test_pod_classes(big: Workload) -> None:
    pods = big.pods
    n = len(pods)
    for gpus, share in POD_SHARES.items():
        observed = float((pods.num_gpu == gpus).mean())
        assert abs(observed - share) <= 4 * math.sqrt(share * (1 - share) / n) + 1e-4, gpus
    sharing = (pods.num_gpu == 1) & (pods.gpu_milli < 1000)
    assert abs(float(sharing.mean()) - SHARING_SHARE) < 0.01
    assert set(pods.gpu_milli[sharing].tolist()) == SHARING_VALUES
    assert set(pods.gpu_milli[pods.num_gpu == 0].tolist()) == {0}
    assert set(pods.gpu_milli[pods.num_gpu >= 2].tolist()) == {1000}
    # The most frequent share in openb's default is 810 (1078 of 3078 pods).
    values, counts = np.unique(pods.gpu_milli[sharing], return_counts=True)
    assert values[np.argmax(counts)] == 810


def test_requests_are_plausible_and_fit(big: Workload) -> None:
    pods = big.pods
    assert pods.cpu_milli.min() >= 100 and pods.cpu_milli.max() <= big.nodes.cpu_milli.max()
    assert pods.memory_bytes.max() <= big.nodes.memory_bytes.max()
    assert not (pods.cpu_milli % 100).any()
    # Median CPU of CPU-only pods in openb's default is 12,500 millicores (log-mean 9.66).
    # Per pod, not per template: a few templates hold most pods, so their median wanders.
    drawn = synthetic(n_nodes=50, n_pods=50_000, seed=11, templates=False).pods
    assert 10_000 <= np.median(drawn.cpu_milli[drawn.num_gpu == 0]) <= 20_000


def _pairs(pods: PodTable, mask: NDArray[np.bool_]) -> int:
    pairs = zip(pods.cpu_milli[mask].tolist(), pods.memory_bytes[mask].tolist(), strict=True)
    return len(set(pairs))


def test_pods_repeat_a_few_templates_as_openb_does() -> None:
    # openb default: 25 / 19 / 60 distinct (cpu, memory) pairs among its 1088 CPU-only,
    # 3078 GPU-sharing and 3911 whole-one-GPU pods; 151 distinct requests in all.
    counts = []
    for seed in range(20):
        pods = synthetic(n_nodes=50, n_pods=8152, seed=seed).pods
        sharing = (pods.num_gpu == 1) & (pods.gpu_milli < 1000)
        whole = (pods.num_gpu == 1) & (pods.gpu_milli == 1000)
        counts.append((_pairs(pods, pods.num_gpu == 0), _pairs(pods, sharing), _pairs(pods, whole)))
    means = np.mean(counts, axis=0)
    for mean, trace in zip(means, (25, 19, 60), strict=True):
        assert abs(mean / trace - 1) < 0.25, (means, trace)
    # The same pod shape draws every pod's requests on its own when templates are off.
    pods = synthetic(n_nodes=50, n_pods=8152, seed=0, templates=False).pods
    assert _pairs(pods, pods.num_gpu >= 0) > 8000
    assert synthetic(5, 10, seed=0).meta["templates"] is True


def test_lifetimes_and_poisson_arrivals(big: Workload) -> None:
    pods = big.pods
    # README: median lifetime 540 s.
    assert abs(np.median(pods.duration) / 540 - 1) < 0.03
    assert np.allclose(pods.deletion_time - pods.creation_time, pods.duration)
    gaps = np.diff(pods.creation_time)
    rate = big.meta["arrival_rate"]
    assert abs(gaps.mean() * rate - 1) < 0.02
    assert abs(gaps.std() / gaps.mean() - 1) < 0.02  # exponential gaps: CV = 1
    assert (gaps >= 0).all()


def test_rate_targets_the_offered_gpu_load(big: Workload) -> None:
    pods = big.pods
    capacity = 1000.0 * big.nodes.gpu_count.sum()
    mean_gpu = float((pods.num_gpu * pods.gpu_milli.astype(float)).mean())
    mean_life = 540 * math.exp(1.88**2 / 2)
    offered = big.meta["arrival_rate"] * mean_life * mean_gpu / capacity
    assert abs(offered - 0.9) < 0.03
    assert synthetic(10, 10, seed=1, arrival_rate=2.5).meta["arrival_rate"] == 2.5


def test_node_shapes(big: Workload) -> None:
    nodes = big.nodes
    for gpus, share in NODE_SHARES.items():
        assert abs(float((nodes.gpu_count == gpus).mean()) - share) < 0.02, gpus
    gpu_only = synthetic(500, 0, seed=2, gpu_nodes_only=True).nodes
    assert (gpu_only.gpu_count > 0).all()
    assert set(nodes.gpu_model[nodes.gpu_count == 0].tolist()) == {""}


def test_gpu_spec_share() -> None:
    w = synthetic(300, 20_000, seed=5, gpu_spec_share=0.33)
    pods = w.pods
    pinned = np.array([bool(m) for m in pods.gpu_models])
    assert not pinned[pods.num_gpu == 0].any()
    assert abs(pinned[pods.num_gpu > 0].mean() - 0.33) < 0.02
    models = set(w.nodes.gpu_model[w.nodes.gpu_count > 0].tolist())
    assert {m for ms in pods.gpu_models[pinned] for m in ms} <= models


@pytest.mark.parametrize(
    "kwargs",
    [{"n_nodes": 0}, {"n_pods": -1}, {"load": 0}, {"gpu_spec_share": 1.5}, {"arrival_rate": -1}],
    ids=["nodes", "pods", "load", "spec", "rate"],
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="parameter of synthetic is out of range"):
        synthetic(**kwargs)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_million_pods_in_seconds() -> None:
    start = time.perf_counter()
    w = synthetic(n_nodes=10_000, n_pods=1_000_000, seed=0)
    elapsed = time.perf_counter() - start
    assert len(w) == 1_000_000 and len(w.nodes) == 10_000
    assert elapsed < 15.0
