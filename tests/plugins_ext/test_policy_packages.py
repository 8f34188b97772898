"""The six FGD-paper policy packages (plugins/ksched-*): contract, registration, formulas.

The packages are installed by .ci/run (``pip install -e plugins/<each>``);
these tests exercise them as a user would, through the entry points.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ksched.api import Node, Pod
from ksched.config import load_config_text
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.plugins.gpushare import GpuShareState, gpu_request
from ksched.framework.plugins.gpushare.scenarios import gpu_node_json, gpu_pod_json, gpu_scenarios
from ksched.framework.plugins.registry import default_registry
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.scheduler import Scheduler
from ksched.testing import check_plugin, default_scenarios, pod_json

ROOT = Path(__file__).resolve().parents[2]
MODULES = {
    "RandomScore": "ksched_random.random_score",
    "DotProductScore": "ksched_dotprod.dot_product",
    "GpuClusteringScore": "ksched_gpuclustering.gpu_clustering",
    "GpuPackingScore": "ksched_gpupacking.gpu_packing",
    "BestFitScore": "ksched_bestfit.best_fit",
    "FGDScore": "ksched_fgd.fgd",
}
FGD_SHAPES = {
    "targetShapes": [
        {"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "weight": 3},
        {"cpuMilli": 4000, "gpuMilli": 1000, "gpuCount": 2, "weight": 1},
        {"cpuMilli": 2000, "weight": 1},
    ]
}


@pytest.mark.parametrize("name", list(MODULES))
def test_each_package_registers_through_its_entry_point(name: str) -> None:
    registry = default_registry()
    assert name in registry
    assert f"ksched-{MODULES[name].split('.')[0].removeprefix('ksched_')}" in registry.source(name)


@pytest.mark.parametrize("name", list(MODULES))
def test_each_package_honours_the_plugin_contract(name: str) -> None:
    args = FGD_SHAPES if name == "FGDScore" else None
    check_plugin(MODULES[name], args=args, scenarios=[*default_scenarios(), *gpu_scenarios()])


def test_open_gpu_share_honours_the_plugin_contract_on_gpu_clusters() -> None:
    check_plugin("ksched.framework.plugins.gpushare.plugin", scenarios=gpu_scenarios())


# -- hand-computed scores ---------------------------------------------------------------
def build(
    name: str, nodes: list[dict[str, Any]], bound: list[dict[str, Any]], args: Any = None
) -> tuple[Any, ClusterSnapshot]:
    snap = ClusterSnapshot()
    for n in nodes:
        snap.add_node(Node.model_validate(n))
    for p in bound:
        info = PodInfo.from_pod(Pod.model_validate(p))
        snap.add_pod(info, info.node_name)
    spec = default_registry()[name]
    parsed = None if spec.args_type is None else spec.args_type.model_validate(args or {})
    handle = Handle(snapshot=snap, clock=SimClock(), rng=np.random.default_rng(0))
    return spec.factory(parsed, handle), snap


def scores(plugin: Any, snap: ClusterSnapshot, pod: dict[str, Any]) -> list[int]:
    info = PodInfo.from_pod(Pod.model_validate(pod))
    state = CycleState()
    if hasattr(plugin, "pre_score"):
        plugin.pre_score(state, info, snap.all_nodes())
    out = plugin.score_nodes(state, info, snap.all_nodes())
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, info, out)
    return [int(v) for v in out]


def sig(x: float) -> int:
    return int(100 / (1 + math.exp(-x)))


TWO_NODES = [gpu_node_json("a", 4, cpu="32"), gpu_node_json("b", 2, cpu="16")]
HALF_USED = [gpu_pod_json("s", 600, node_name="a", indices=(0,), cpu="0")]


def test_dot_product() -> None:
    plugin, snap = build("DotProductScore", TWO_NODES, [])
    # a: (32000/128000)(4000/128000) + (4000/8000)(500/8000) = 0.0390625 -> 100(1 - 0.01953125)
    # b: (16000/128000)(4000/128000) + (2000/8000)(500/8000) = 0.01953125 -> 100(1 - 0.009765625)
    assert scores(plugin, snap, gpu_pod_json("p", 500, cpu="4")) == [98, 99]


def test_best_fit_then_min_max() -> None:
    plugin, snap = build("BestFitScore", [*TWO_NODES, gpu_node_json("c", 1, cpu="8")], [])
    # left: a 28000/128000/2 + 3500/8000/2 = .328125 -> 67; b .140625 -> 85; c 4000/128000/2 + 500/8000/2 = .046875 -> 95
    assert scores(plugin, snap, gpu_pod_json("p", 500, cpu="4")) == [
        0,
        (85 - 67) * 100 // (95 - 67),
        100,
    ]


def test_gpu_packing_cases() -> None:
    plugin, snap = build(
        "GpuPackingScore",
        [gpu_node_json("idle", 4), gpu_node_json("used", 4)],
        [gpu_pod_json("s", 600, node_name="used", indices=(0,))],
    )
    assert scores(plugin, snap, gpu_pod_json("p", 300)) == [
        max(33 - 4, 4),
        100 - (400 * 100 // 1000) // 10,
    ]
    assert scores(plugin, snap, gpu_pod_json("p", 500)) == [29, max(50 - 1, 33)]
    assert scores(plugin, snap, gpu_pod_json("p", 1000, 2)) == [29, 48]
    assert scores(plugin, snap, pod_json("cpu")) == [0, 0]


def test_gpu_clustering_cases() -> None:
    nodes = [gpu_node_json("idle", 4), gpu_node_json("shared", 4), gpu_node_json("mixed", 4)]
    bound = [
        gpu_pod_json("s1", 600, node_name="shared", indices=(0,)),
        gpu_pod_json("s2", 600, node_name="mixed", indices=(0,)),
        gpu_pod_json("w1", 1000, node_name="mixed", indices=(1,)),
    ]
    plugin, snap = build("GpuClusteringScore", nodes, bound)
    fill_idle, fill_shared, fill_mixed = 25 * 4000 // 8000, 25 * 4600 // 8000, 25 * 5600 // 8000
    assert scores(plugin, snap, gpu_pod_json("p", 300)) == [
        25 + fill_idle,
        75 + fill_shared,
        50 + fill_mixed,
    ]
    assert scores(plugin, snap, gpu_pod_json("p", 1000, 2)) == [
        25 + fill_idle,
        fill_shared,
        fill_mixed,
    ]
    assert scores(plugin, snap, pod_json("cpu")) == [0, 0, 0]


ONE_SHAPE = {"targetShapes": [{"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "weight": 1}]}


def test_fgd_scores_the_decrease_of_expected_fragmentation() -> None:
    nodes = [gpu_node_json("one", 1), gpu_node_json("two", 2)]
    plugin, snap = build(
        "FGDScore",
        nodes,
        [gpu_pod_json("s", 400, node_name="two", indices=(1,), cpu="0")],
        ONE_SHAPE,
    )
    # one: [1000] -> [300] leaves 300 the typical pod cannot use; two: only GPU 0 has room,
    # [1000, 600] -> [300, 600] also leaves 300 unusable
    assert scores(plugin, snap, gpu_pod_json("p", 700, cpu="1")) == [sig(-0.3), sig(-0.3)]
    # 500 fits exactly on "one" (no fragment either way); on "two" GPU 0 -> [500, 600] changes nothing
    assert scores(plugin, snap, gpu_pod_json("p", 500, cpu="1")) == [50, 50]
    # 600 on "two": GPU 0 -> [400, 600] adds 400 of fragment, GPU 1 -> [1000, 0] adds none
    assert scores(plugin, snap, gpu_pod_json("p", 600, cpu="1")) == [sig(-0.4), 50]
    state = GpuShareState.of(snap)
    info = PodInfo.from_pod(Pod.model_validate(gpu_pod_json("p", 600, cpu="1")))
    from ksched.framework.plugins.gpushare import gpu_request

    request = gpu_request(info)
    assert request is not None
    assert plugin.select_gpus(info, request, snap.index["two"], state) == (1,)


def test_fgd_cpu_only_pod_that_leaves_too_little_cpu_fragments_every_idle_gpu() -> None:
    plugin, snap = build("FGDScore", [gpu_node_json("n", 1, cpu="1500m")], [], ONE_SHAPE)
    assert scores(plugin, snap, pod_json("cpu", cpu="1", memory="1Gi")) == [sig(-1.0)]


def test_fgd_target_from_a_pod_list_file(tmp_path: Path) -> None:
    csv = tmp_path / "pods.csv"
    csv.write_text(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n"
        + "".join(f"p{i},1000,1024,1,500,\n" for i in range(19))
        + "q,4000,1024,0,0,\n"
    )
    plugin, _ = build("FGDScore", [gpu_node_json("n", 1)], [], {"targetPods": str(csv)})
    assert plugin.target.cpu_milli.tolist() == [1000]  # 19 of 20 pods cover 95%


def test_fgd_refuses_a_missing_pod_list_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(ValueError, match=r"targetPods .*nope\.csv"):
        build("FGDScore", [], [], {"targetPods": str(missing)})


def test_random_gives_one_feasible_node_the_maximum() -> None:
    plugin, snap = build("RandomScore", [gpu_node_json(f"n{i}", 1) for i in range(5)], [])
    picks = [scores(plugin, snap, gpu_pod_json("p", 100)) for _ in range(60)]
    assert all(sorted(s) == [0, 0, 0, 0, 100] for s in picks)
    assert {s.index(100) for s in picks} == set(range(5))


# -- the paper's profiles -----------------------------------------------------------------
POLICIES = ("random", "dotprod", "gpuclustering", "gpupacking", "bestfit", "fgd")


@pytest.mark.parametrize("policy", POLICIES)
def test_paper_profiles_schedule_gpu_pods_without_overcommitting(
    policy: str, tmp_path: Path
) -> None:
    text = (ROOT / "paper" / "profiles" / f"{policy}.yaml").read_text()
    if policy == "fgd":  # the test cluster is not openb: a small pod list as the target
        csv = tmp_path / "pods.csv"
        csv.write_text(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,500,1024,1,300\nq,500,1024,2,1000\n"
        )
        assert "targetPods: openb:default" in text
        text = text.replace("targetPods: openb:default", f"targetPods: {csv}")
    config = load_config_text(text)
    sched = Scheduler(config, seed=1, tie_break="smallest-name")
    sched.add_nodes([Node.model_validate(gpu_node_json(f"n{i}", 1 + i % 4)) for i in range(6)])
    placed = 0
    for i, (milli, count) in enumerate([(300, 1), (500, 1), (1000, 2), (700, 1), (1000, 1)] * 6):
        pod = gpu_pod_json(f"p{i}", milli, count, cpu="500m")
        pod["spec"]["schedulerName"] = policy
        info = sched.add_pod(Pod.model_validate(pod))
        result = sched.schedule_one()
        if result is not None and result.scheduled:
            placed += 1
        else:
            sched.delete_pod(info.key)
    state = GpuShareState.of(sched.snapshot)
    assert placed > 0 and (state.free >= 0).all()
    assert int((1000 * state.gpus).sum() - state.free.sum()) == sum(
        int(p.pod.metadata.annotations["alibabacloud.com/gpu-milli"])
        * int(p.pod.metadata.annotations["alibabacloud.com/gpu-count"])
        for p in sched.pods.values()
        if p.key in sched.bound
    )


def test_fragment_after_one_gpu_share_equals_the_full_computation() -> None:
    """``Fragmentation.amount_after_share`` (FGD's fast path) against ``amount`` on each layout."""
    from ksched.sim.metrics import Fragmentation, TargetWorkload

    rng = np.random.default_rng(3)
    target = TargetWorkload(
        cpu_milli=np.array([1000, 2000, 500, 8000, 4000]),
        gpu_milli=np.array([500, 1000, 0, 250, 700]),
        num_gpu=np.array([1, 2, 0, 1, 1]),
        gpu_models=((), (), (), ("T4",), ()),
        weight=np.array([0.4, 0.2, 0.2, 0.1, 0.1]),
    )
    frag = Fragmentation(target, ["T4", "V100"])
    left = rng.choice([0, 100, 250, 400, 500, 750, 1000], size=(50, 8)).astype(np.int64)
    cpu = rng.integers(0, 10000, size=50)
    model = rng.integers(0, 2, size=50).astype(np.intp)
    for milli in (100, 250, 500, 900):
        rows, shares, fast = frag.amount_after_share(left, cpu, model, milli)
        tried = {(r, v) for r in range(len(left)) for v in left[r].tolist() if v >= milli}
        assert sorted(zip(rows.tolist(), shares.tolist(), strict=True)) == sorted(tried)
        for r, v, got in zip(rows.tolist(), shares.tolist(), fast.tolist(), strict=True):
            after = left[r : r + 1].copy()
            after[0, left[r].tolist().index(v)] -= milli
            slow = frag.amount(after, cpu[r : r + 1], model[r : r + 1])[0]
            np.testing.assert_allclose(got, slow, rtol=0, atol=1e-9)
            per_gpu = frag.amount_after_share_row(
                left[r].tolist(), int(cpu[r]), int(model[r]), milli
            )
            assert [x is not None for x in per_gpu] == (left[r] >= milli).tolist()
            assert per_gpu[left[r].tolist().index(v)] == got  # bit for bit


# -- row forms: the runtime patches cached classes through them, so they must agree exactly
# Twelve GPU shapes: more than 8 groups, so the fragment's sum over groups takes numpy's
# pairwise path, which the scalar form reproduces.
MANY_SHAPES = {
    "targetShapes": [
        {"cpuMilli": 500 * (1 + i % 5), "gpuMilli": m, "gpuCount": 1, "weight": 1 + i}
        for i, m in enumerate([50, 120, 230, 250, 330, 410, 470, 500, 650, 810, 900, 1000])
    ]
    + [
        {"cpuMilli": 4000, "gpuMilli": 1000, "gpuCount": 2, "weight": 3},
        {"cpuMilli": 8000, "gpuMilli": 1000, "gpuCount": 4, "gpuModels": ["T4"], "weight": 2},
        {"cpuMilli": 2000, "weight": 5},
    ]
}


def _random_pod(rng: np.random.Generator, name: str, node_name: str = "") -> dict[str, Any]:
    kind = rng.integers(4)
    cpu = f"{int(rng.integers(0, 6000))}m"
    if kind == 0:
        return pod_json(name, cpu=cpu, memory="1Gi", node_name=node_name)
    if kind == 1:
        return gpu_pod_json(name, 1000, int(rng.choice([1, 2, 4])), cpu=cpu, node_name=node_name)
    milli = int(rng.choice([50, 100, 230, 250, 300, 470, 500, 650, 900]))
    models = ("T4",) if kind == 3 else ()
    return gpu_pod_json(name, milli, cpu=cpu, models=models, node_name=node_name)


@pytest.mark.parametrize("gpus", [[1], [2], [1, 2, 4, 8]], ids=["one-gpu", "two-gpu", "mixed"])
@pytest.mark.parametrize(
    ("name", "args"),
    [("FGDScore", MANY_SHAPES), ("FGDScore", FGD_SHAPES), ("BestFitScore", None)],
    ids=["fgd-many", "fgd-few", "bestfit"],
)
def test_row_forms_equal_the_vectorised_forms_as_pods_bind(
    name: str, args: Any, gpus: list[int]
) -> None:
    rng = np.random.default_rng(7)
    nodes = [
        gpu_node_json(f"n{i}", gpus[i % len(gpus)], ["T4", "V100"][i % 2], cpu=str(4 + 4 * (i % 5)))
        for i in range(12)
    ]
    plugin, snap = build(name, nodes, [], args)
    spec = default_registry()[name]
    parsed = None if spec.args_type is None else spec.args_type.model_validate(args or {})
    handle = Handle(snapshot=snap, clock=SimClock(), rng=np.random.default_rng(0))
    gpu_filter: Any = default_registry()["OpenGpuShare"].factory(None, handle)
    state = CycleState()
    for step in range(60):
        pod = PodInfo.from_pod(Pod.model_validate(_random_pod(rng, f"p{step}")))
        fresh: Any = spec.factory(parsed, handle)  # no state carried over from earlier pods
        want = fresh.score_nodes(state, pod, snap.all_nodes()).tolist()
        assert [plugin.score_row(state, pod, info) for info in snap.nodes] == want
        fits = gpu_filter.filter_nodes(state, pod, snap.all_nodes()).tolist()
        assert [gpu_filter.filter_row(state, pod, info) == 0 for info in snap.nodes] == fits
        if hasattr(plugin, "select_gpus") and any(fits):
            request = gpu_request(pod)
            row = fits.index(True)
            if request is not None:
                gpus_state = GpuShareState.of(snap)
                assert plugin.select_gpus(pod, request, row, gpus_state) == fresh.select_gpus(
                    pod, request, row, gpus_state
                )
        if any(fits):  # bind it where it fits, so the next pods see a changed cluster
            target = snap.nodes[int(rng.choice(np.flatnonzero(fits)))].name
            bound = Pod.model_validate(_random_pod(rng, f"b{step}", node_name=target))
            bound_info = PodInfo.from_pod(bound)
            if gpu_filter.filter_row(state, bound_info, snap[target]) == 0:
                snap.add_pod(bound_info, target)
