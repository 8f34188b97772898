"""Features are deterministic, aligned with the node order, and right on a hand-made node."""

from __future__ import annotations

import numpy as np
import pytest

from ksched.api import Node, Pod
from ksched.framework.plugins.gpushare import GpuShareState
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeSet
from ksched.ml.features import FEATURE_NAMES, FeatureExtractor, feature_schema_hash, gpu_layout
from ksched.sim import TargetWorkload
from ksched.sim.objects import PodFactory, build_nodes
from ksched.traces.workload import Workload


def _cluster(workload: Workload, placed: int = 40) -> tuple[ClusterSnapshot, PodFactory]:
    snap = ClusterSnapshot()
    snap.add_nodes(build_nodes(workload.nodes))
    factory = PodFactory(workload.pods)
    for r in range(placed):
        snap.add_pod(factory.info(r, f"placed-{r}"), snap.nodes[(3 * r) % snap.n].name)
    return snap, factory


def _extractor(workload: Workload) -> FeatureExtractor:
    return FeatureExtractor(TargetWorkload.from_pods(workload.pods))


def test_deterministic(workload: Workload) -> None:
    snap, factory = _cluster(workload)
    pods = [factory.info(r) for r in range(50, 60)]
    a = [_extractor(workload).extract(p, snap.all_nodes()) for p in pods]
    b = [_extractor(workload).extract(p, snap.all_nodes()) for p in pods]
    for x, y in zip(a, b, strict=True):
        assert x.shape == (snap.n, len(FEATURE_NAMES))
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["perm0", "perm1", "perm2"])
def test_aligned_with_node_order(workload: Workload, seed: int) -> None:
    snap, factory = _cluster(workload)
    fx = _extractor(workload)
    pod = factory.info(70)
    full = fx.extract(pod, snap.all_nodes())
    idx = np.random.default_rng(seed).permutation(snap.n)[: snap.n // 2].astype(np.intp)
    np.testing.assert_array_equal(fx.extract(pod, NodeSet(snap, idx)), full[idx])
    for row in idx[:5]:
        np.testing.assert_array_equal(fx.extract_one(pod, snap.nodes[int(row)]), full[row])


def _node(name: str, gpus: int) -> Node:
    return Node.model_validate(
        {
            "metadata": {"name": name, "labels": {"alibabacloud.com/gpu-card-model": "V100"}},
            "status": {
                "allocatable": {
                    "cpu": "8",
                    "memory": "32Gi",
                    "pods": "110",
                    "alibabacloud.com/gpu-count": str(gpus),
                    "alibabacloud.com/gpu-milli": str(1000 * gpus),
                }
            },
        }
    )


def _pod(name: str, cpu: str, gpus: int, milli: int) -> PodInfo:
    return PodInfo.from_pod(
        Pod.model_validate(
            {
                "metadata": {
                    "name": name,
                    "annotations": {
                        "alibabacloud.com/gpu-count": str(gpus),
                        "alibabacloud.com/gpu-milli": str(milli),
                    },
                },
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "resources": {
                                "requests": {
                                    "cpu": cpu,
                                    "memory": "4Gi",
                                    "alibabacloud.com/gpu-milli": str(gpus * milli),
                                }
                            },
                        }
                    ]
                },
            }
        )
    )


def test_hand_computed_node() -> None:
    # Target: only 1-GPU pods of 500 milli and 1 CPU. Node: 2 GPUs, one half used.
    target = TargetWorkload(
        cpu_milli=np.array([1000]),
        gpu_milli=np.array([500]),
        num_gpu=np.array([1]),
        gpu_models=((),),
        weight=np.array([1.0]),
    )
    snap = ClusterSnapshot()
    snap.add_node(_node("n0", 2))
    snap.add_pod(_pod("old", "2", 1, 500), "n0")
    row = FeatureExtractor(target).extract(_pod("new", "2", 1, 700), snap.all_nodes())[0]
    f = dict(zip(FEATURE_NAMES, row.tolist(), strict=True))
    assert f["cpu_free_frac"] == pytest.approx(6 / 8)
    assert f["cpu_after_frac"] == pytest.approx(4 / 8)
    assert f["gpu_free_frac"] == pytest.approx(1500 / 2000)
    assert f["gpu_after_frac"] == pytest.approx(800 / 2000)
    assert f["node_gpus"] == 2
    assert f["gpus_fully_free"] == 1  # packed: the 500 used sit on one GPU
    assert f["gpus_fitting"] == 1  # only the free GPU has 700 left
    assert f["best_fit_leftover"] == pytest.approx(0.3)
    # Before: both GPUs can host a 500 pod -> no fragment. After: 500 + 300 left, the
    # 300 GPU is too small for the target pod -> 300 milli of fragment.
    assert f["frag_before"] == pytest.approx(0.0)
    assert f["frag_after"] == pytest.approx(0.3)
    assert f["frag_delta"] == pytest.approx(0.3)
    assert f["pod_shares_gpu"] == 1.0


def test_per_gpu_state_is_used_when_a_profile_keeps_one() -> None:
    snap = ClusterSnapshot()
    snap.add_node(_node("n0", 2))
    packed = gpu_layout(snap.all_nodes())
    state = GpuShareState.of(snap)
    state.free[0, :2] = [600, 700]  # as if two sharing pods held 400 and 300
    split = gpu_layout(snap.all_nodes())
    assert packed[0, :2].tolist() == [1000, 1000]
    assert split[0, :2].tolist() == [600, 700]


def test_schema_hash_changes_with_names() -> None:
    assert feature_schema_hash() != feature_schema_hash((*FEATURE_NAMES, "extra"))
    assert feature_schema_hash() != feature_schema_hash(tuple(reversed(FEATURE_NAMES)))
