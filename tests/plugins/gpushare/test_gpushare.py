"""OpenGpuShare on small hand-made clusters: filter, reserve, unreserve, bound pods."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.api import Node, Pod
from ksched.config import load_config_text
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.plugins.gpushare import GPU_INDEX, GpuShareState, parse_gpu_index
from ksched.framework.plugins.gpushare.plugin import (
    ERR_REASON_MODEL,
    ERR_REASON_NO_GPU,
    ERR_REASON_NO_ROOM,
    OpenGpuShare,
    OpenGpuShareArgs,
    new,
)
from ksched.framework.plugins.gpushare.scenarios import gpu_node_json, gpu_pod_json
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.framework.status import Code
from ksched.scheduler import Scheduler


def pod(**kw: Any) -> PodInfo:
    name = kw.pop("name", "p")
    return PodInfo.from_pod(Pod.model_validate(gpu_pod_json(name, **kw)))


def cluster(
    *nodes: dict[str, Any], selection: str = "best"
) -> tuple[ClusterSnapshot, OpenGpuShare]:
    snap = ClusterSnapshot()
    for n in nodes:
        snap.add_node(Node.model_validate(n))
    handle = Handle(snapshot=snap, clock=SimClock(), rng=np.random.default_rng(0))
    return snap, new(OpenGpuShareArgs.model_validate({"gpuSelection": selection}), handle)


def place(snap: ClusterSnapshot, plugin: OpenGpuShare, p: PodInfo, node: str) -> tuple[int, ...]:
    """Assume then reserve, as the scheduling cycle does; the GPUs chosen."""
    state = CycleState()
    plugin.pre_filter(state, p, snap.all_nodes())
    snap.add_pod(p, node)
    assert plugin.reserve(state, p, node) is None
    chosen = parse_gpu_index(p)
    assert chosen is not None
    return chosen


def verdicts(
    snap: ClusterSnapshot, plugin: OpenGpuShare, p: PodInfo
) -> tuple[list[bool], list[str]]:
    state = CycleState()
    plugin.pre_filter(state, p, snap.all_nodes())
    vector = plugin.filter_nodes(state, p, snap.all_nodes()).tolist()
    reasons = []
    for info in snap.nodes:
        status = plugin.filter(state, p, info)
        reasons.append("" if status is None else status.reasons[0])
        assert (status is None) == vector[info.index]
    return vector, reasons


FILTER_CASES = [
    # (pod kwargs, expected verdict per node [v100x4 half used on GPU 0, t4x2, cpu-only])
    (
        {"milli": 1000, "count": 3},
        [True, False, False],
        ["", ERR_REASON_NO_ROOM, ERR_REASON_NO_GPU],
    ),
    (
        {"milli": 1000, "count": 4},
        [False, False, False],
        [ERR_REASON_NO_ROOM, ERR_REASON_NO_ROOM, ERR_REASON_NO_GPU],
    ),
    ({"milli": 500, "count": 4}, [True, False, False], ["", ERR_REASON_NO_ROOM, ERR_REASON_NO_GPU]),
    (
        {"milli": 600, "count": 1, "models": ("T4",)},
        [False, True, False],
        [ERR_REASON_MODEL, "", ERR_REASON_NO_GPU],
    ),
    (
        {"milli": 600, "count": 1, "models": ("T4", "V100")},
        [True, True, False],
        ["", "", ERR_REASON_NO_GPU],
    ),
]


@pytest.mark.parametrize(
    ("kw", "expected", "reasons"),
    FILTER_CASES,
    ids=["3-whole", "4-whole", "4-halves", "model-t4", "model-either"],
)
def test_filter_counts_individual_gpus_and_models(
    kw: dict[str, Any], expected: list[bool], reasons: list[str]
) -> None:
    snap, plugin = cluster(
        gpu_node_json("a", 4, "V100"), gpu_node_json("b", 2, "T4"), gpu_node_json("c", 0)
    )
    place(snap, plugin, pod(name="half", milli=500), "a")
    assert verdicts(snap, plugin, pod(**kw)) == (expected, reasons)


def test_pod_without_gpu_skips_the_filter() -> None:
    snap, plugin = cluster(gpu_node_json("c", 0))
    cpu_pod = PodInfo.from_pod(Pod.model_validate(gpu_pod_json("x", 0, 0)))
    _, status = plugin.pre_filter(CycleState(), cpu_pod, snap.all_nodes())
    assert status is not None and status.code == Code.SKIP


def test_bad_annotation_is_refused_with_the_pod_and_value_named() -> None:
    snap, plugin = cluster(gpu_node_json("a", 1))
    raw = gpu_pod_json("bad", 100)
    raw["metadata"]["annotations"]["alibabacloud.com/gpu-milli"] = "lots"
    _, status = plugin.pre_filter(
        CycleState(), PodInfo.from_pod(Pod.model_validate(raw)), snap.all_nodes()
    )
    assert status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "default/bad" in status.message and "'lots'" in status.message


def test_best_fit_takes_the_tightest_gpu_and_whole_gpus_the_lowest_free() -> None:
    snap, plugin = cluster(gpu_node_json("a", 4))
    assert place(snap, plugin, pod(name="p1", milli=600), "a") == (0,)
    assert place(snap, plugin, pod(name="p2", milli=700), "a") == (1,)
    assert place(snap, plugin, pod(name="p3", milli=300), "a") == (1,)  # 300 left on 1, 400 on 0
    assert place(snap, plugin, pod(name="p4", milli=1000, count=2), "a") == (2, 3)
    assert GpuShareState.of(snap).free[0].tolist() == [400, 0, 0, 0]


def test_random_selection_draws_among_gpus_with_room() -> None:
    snap, plugin = cluster(gpu_node_json("a", 4), selection="random")
    seen = set()
    for i in range(40):
        p = pod(name=f"p{i}", milli=100)
        seen.add(place(snap, plugin, p, "a"))
        plugin.unreserve(CycleState(), p, "a")
        snap.remove_pod(p)
    assert seen == {(0,), (1,), (2,), (3,)}


def test_unreserve_restores_state_and_annotation_and_is_idempotent() -> None:
    snap, plugin = cluster(gpu_node_json("a", 2))
    gpus = GpuShareState.of(snap)
    before = gpus.free.copy()
    p = pod(milli=400)
    place(snap, plugin, p, "a")
    assert p.pod.metadata.annotations[GPU_INDEX] == "0"
    for _ in range(2):
        plugin.unreserve(CycleState(), p, "a")
    assert GPU_INDEX not in p.pod.metadata.annotations
    assert np.array_equal(gpus.free, before)


def test_bound_pods_are_accounted_on_their_annotated_gpus_and_released_on_delete() -> None:
    snap, _ = cluster(gpu_node_json("a", 4))
    bound = PodInfo.from_pod(
        Pod.model_validate(gpu_pod_json("b", 700, node_name="a", indices=(2,)))
    )
    snap.add_pod(bound, "a")
    gpus = GpuShareState.of(snap)
    assert gpus.free[0].tolist() == [1000, 1000, 300, 1000]
    snap.remove_pod(bound)
    assert gpus.free[0].tolist() == [1000] * 4


def test_state_made_after_pods_were_bound_adopts_them() -> None:
    snap = ClusterSnapshot()
    snap.add_node(Node.model_validate(gpu_node_json("a", 2)))
    bound = PodInfo.from_pod(Pod.model_validate(gpu_pod_json("b", 1000, 2, node_name="a")))
    snap.add_pod(bound, "a")
    assert GpuShareState.of(snap).free[0].tolist() == [0, 0]


def test_state_is_shared_per_snapshot_and_freed_with_it() -> None:
    # A grid worker replays hundreds of cells: a state that outlived its snapshot
    # kept each replay's cluster alive until the worker ran out of memory.
    snap, _ = cluster(gpu_node_json("a", 2))
    state = GpuShareState.of(snap)
    assert GpuShareState.of(snap) is state is GpuShareState.existing(snap)
    assert GpuShareState.existing(ClusterSnapshot()) is None
    gone = weakref.ref(snap), weakref.ref(state)
    gc.disable()  # freed by reference counting: no cycle between the two
    try:
        del snap, state, _
        assert [ref() for ref in gone] == [None, None]
    finally:
        gc.enable()


PROFILE = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 100
profiles:
- schedulerName: default-scheduler
  plugins:
    multiPoint:
      enabled:
      - name: OpenGpuShare
"""


def test_time_based_deletes_through_the_scheduler_free_the_gpus() -> None:
    sched = Scheduler(load_config_text(PROFILE))
    sched.add_nodes([Node.model_validate(gpu_node_json("a", 1))])
    first = sched.add_pod(Pod.model_validate(gpu_pod_json("first", 800)))
    assert sched.schedule_one().scheduled  # type: ignore[union-attr]
    second = sched.add_pod(Pod.model_validate(gpu_pod_json("second", 800)))
    assert not sched.schedule_one().scheduled  # type: ignore[union-attr]
    sched.delete_pod(first.key)
    sched.delete_pod(second.key)
    sched.add_pod(Pod.model_validate(gpu_pod_json("third", 800)))
    result = sched.schedule_one()
    assert result is not None and result.scheduled
    assert result.pod.pod.metadata.annotations[GPU_INDEX] == "0"


SHAPES = st.tuples(st.sampled_from([100, 250, 300, 500, 700, 1000]), st.integers(1, 3))


@settings(max_examples=30, deadline=None)
@given(
    gpus=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    shapes=st.lists(SHAPES, min_size=1, max_size=30),
    deletions=st.lists(st.integers(0, 29), max_size=10),
)
def test_no_gpu_is_ever_overcommitted(
    gpus: list[int], shapes: list[tuple[int, int]], deletions: list[int]
) -> None:
    """Through the real scheduler: per-GPU use never exceeds 1000, and equals the pods' holdings."""
    sched = Scheduler(load_config_text(PROFILE))
    sched.add_nodes([Node.model_validate(gpu_node_json(f"n{i}", g)) for i, g in enumerate(gpus)])
    keys = []
    for i, (milli, count) in enumerate(shapes):
        share = 1000 if count > 1 else milli
        info = sched.add_pod(Pod.model_validate(gpu_pod_json(f"p{i}", share, count, cpu="100m")))
        result = sched.schedule_one()
        if result is None or not result.scheduled:
            sched.delete_pod(info.key)
        else:
            keys.append(info.key)
        if i in deletions and keys:
            sched.delete_pod(keys.pop(0))
    state = GpuShareState.of(sched.snapshot)
    assert (state.free >= 0).all()
    used = np.zeros_like(state.free)
    for key in keys:
        p = sched.pods[key]
        indices = parse_gpu_index(p)
        assert indices is not None
        row = sched.snapshot.index[sched.bound[key]]
        share = int(p.pod.metadata.annotations["alibabacloud.com/gpu-milli"])
        used[row, list(indices)] += share
    capacity = np.where(np.arange(state.width)[None, :] < state.gpus[:, None], 1000, 0)
    assert np.array_equal(state.free, capacity - used)
