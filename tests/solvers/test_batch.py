"""Batch placement inside the real scheduler: Filters hold, no pod is lost or placed twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ksched import solvers
from ksched.config import load_config
from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins.gpushare import GpuShareState
from ksched.framework.pod_info import PodInfo
from ksched.scheduler import Scheduler
from ksched.sim.objects import PodConversion, PodFactory, build_nodes
from ksched.solvers.batch import BatchPlacer
from ksched.solvers.objective import Objective
from ksched.solvers.validate import validate_assignment
from ksched.traces.synthetic import synthetic

PROFILE = Path(solvers.__file__).parent / "profiles" / "batch-gpushare.yaml"


def _cluster(n_nodes: int, n_pods: int, seed: int) -> tuple[Scheduler, list[PodInfo]]:
    wl = synthetic(n_nodes=n_nodes, n_pods=n_pods, seed=seed, gpu_nodes_only=True)
    sched = Scheduler(load_config(PROFILE), seed=seed, explain_messages=False)
    sched.add_nodes(build_nodes(wl.nodes))
    factory = PodFactory(wl.pods, PodConversion(scheduler_name="batch-gpushare"))
    return sched, [factory.info(i) for i in range(len(wl.pods))]


def _check_cluster(sched: Scheduler, placer: BatchPlacer) -> None:
    """Every bound pod passes every Filter on its node (judged without itself), cards fit."""
    fwk, snap = placer.framework, sched.snapshot
    for key, node in list(sched.bound.items()):
        pod = snap[node].pods[key]
        snap.remove_pod(pod)
        try:
            state = CycleState()
            _, pre = fwk.run_pre_filter(state, pod)
            assert pre is None, f"{key}: {pre}"
            status = fwk.run_filters_on_node(state, pod, snap[node])
        finally:
            snap.add_pod(pod, node)
        assert status is None, f"{key} on {node}: {status}"
    gpus = GpuShareState.of(snap)
    assert (gpus.free >= 0).all()
    held = np.zeros_like(gpus.free)
    for h in gpus.holdings.values():
        held[snap.index[h.node], list(h.indices)] += h.milli
    assert (held + gpus.free == np.where(np.arange(gpus.width) < gpus.gpus[:, None], 1000, 0)).all()


@pytest.mark.parametrize("solver", ["cpsat", "greedy"])
@pytest.mark.parametrize("order", ["size", "arrival"])
def test_batch_placements_pass_every_filter(solver: str, order: str) -> None:
    sched, pods = _cluster(12, 160, seed=4)
    placer = BatchPlacer(sched, solver=solver, order=order, time_limit=0.5, top_k=4)  # type: ignore[arg-type]
    for start in range(0, len(pods), 40):
        window = pods[start : start + 40]
        for pod in window:
            sched.add_pod(pod)
        outcome = placer.place(window)
        validate_assignment(outcome.problem, outcome.assignment)
        for pod, result in zip(window, outcome.results, strict=True):
            if not result.scheduled:
                sched.delete_pod(pod.key)
        _check_cluster(sched, placer)
    assert len(sched.bound) > 0
    assert len(sched.bound) < len(pods)  # the cluster fills up: the test reaches contention


@pytest.mark.parametrize("limit", [1e-4, 1e-2])
def test_timeout_never_loses_or_double_places(limit: float) -> None:
    sched, pods = _cluster(10, 120, seed=8)
    placer = BatchPlacer(sched, solver="cpsat", time_limit=limit, objective=Objective(frag=0))
    for pod in pods:
        sched.add_pod(pod)
    outcome = placer.place(pods)
    results = outcome.results
    assert [r.pod.key for r in results] == [p.key for p in pods]  # one result per pod, in order
    placed = [r.pod.key for r in results if r.scheduled]
    assert len(placed) == len(set(placed)) == outcome.assignment.placed
    assert sorted(sched.bound) == sorted(placed)
    assert sorted(sched.snapshot.pod_nodes) == sorted(placed)  # nothing assumed is left over
    for r in results:
        if r.scheduled:
            assert r.node == outcome.problem.node_names[outcome.assignment.node[pods.index(r.pod)]]
    assert outcome.rejected_at_commit == 0
    assert len(sched.queue.in_flight()) == 0


def test_hint_fixes_the_node() -> None:
    """schedule_one(hints=...): the hinted node or nothing, never another node."""
    sched, pods = _cluster(6, 10, seed=1)
    cpu_pod = next(p for p in pods if "alibabacloud.com/gpu-milli" not in p.requests)
    fwk = next(iter(sched.profiles.values()))
    state = CycleState()
    fwk.run_pre_filter(state, cpu_pod)
    feasible = fwk.find_feasible(state, cpu_pod).feasible
    assert len(feasible) > 1
    sched.add_pod(cpu_pod)
    expected = sched.schedule_pod(fwk, CycleState(), cpu_pod).node
    node = next(sched.snapshot.nodes[int(r)].name for r in feasible[::-1])
    node = node if node != expected else sched.snapshot.nodes[int(feasible[0])].name
    assert node != expected  # not where the profile alone would put it
    result = sched.schedule_one({cpu_pod.key: node})
    assert result is not None and result.scheduled and result.node == node
    other = next(p for p in pods if p is not cpu_pod)
    sched.add_pod(other)
    result = sched.schedule_one({other.key: ""})
    assert result is not None and not result.scheduled
    assert other.key not in sched.bound


def test_bad_parameters_are_refused() -> None:
    sched, _ = _cluster(2, 2, seed=0)
    with pytest.raises(ValueError, match="'solver' parameter of BatchPlacer"):
        BatchPlacer(sched, solver="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'top_k' parameter of BatchPlacer"):
        BatchPlacer(sched, top_k=0)
    with pytest.raises(ValueError, match="profile 'nope' is not in the scheduler"):
        BatchPlacer(sched, profile="nope")


def test_cached_candidates_equal_the_plain_pass() -> None:
    """The placer reads the scheduler's per-class cache when it keeps one: same candidates and
    scores, window after window, as filtering and scoring every node afresh."""

    def windows(cache: bool) -> list[tuple[list[list[int]], list[list[int]]]]:
        sched, pods = _cluster(12, 160, seed=4)
        sched.equivalence_cache = cache
        placer = BatchPlacer(sched, solver="greedy", order="arrival", top_k=4)
        out = []
        for start in range(0, len(pods), 40):
            window = pods[start : start + 40]
            for pod in window:
                sched.add_pod(pod)
            outcome = placer.place(window)
            problem = outcome.problem
            out.append(
                ([c.tolist() for c in problem.candidates], [s.tolist() for s in problem.scores])
            )
        return out

    cached, plain = windows(True), windows(False)
    assert cached == plain
    assert any(any(c) for c, _ in cached)
