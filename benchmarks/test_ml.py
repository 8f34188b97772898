"""Per-pod scoring cost at 5,000 nodes: MLScore (one batched prediction) vs the default profile.

The issue's target: MLScore costs no more than 2x the default profile's
Score phase per pod. Both profiles score the same stream of pods on the
same 5,000 synthetic openb-like nodes (PreFilter, PreScore and Score over
every node, as with percentageOfNodesToScore 100); each pod is then
placed on its best node, so later pods see a changing cluster, as in a
replay. MLScore's model is a HistGradientBoosting imitation of the
MostAllocated profile, the estimator ``ksched train`` fits by default
(100 trees of 15 leaves), trained on a small recorded replay;
``mlscore-distilled`` the same estimator regressing the teacher's scores
(``--objective distill``, the FGD copy's objective), whose values MLScore
rounds instead of rescaling.

``mlscore-cold`` rebuilds the plugin's per-shape cache before every pod:
the cost of a pod shape seen for the first time (all 5,000 rows
extracted and predicted). Per-pod microseconds go in ``extra_info``.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ksched.framework.cycle_state import CycleState
from ksched.framework.pod_info import PodInfo
from ksched.framework.runtime import Framework
from ksched.ml.decisions import DecisionRecorder, read_logs
from ksched.ml.evaluate import mlscore_policy
from ksched.ml.train import train_scorer
from ksched.scheduler import Scheduler
from ksched.sim import ArrivalReplay, PodConversion, TargetWorkload, load_profiles
from ksched.sim.objects import PodFactory, build_nodes
from ksched.sim.runner import PROFILES_DIR
from ksched.traces import synthetic

NODES = 5_000
PODS = 100


def _model(tmp: Path, objective: str) -> Path:
    small = synthetic(n_nodes=40, n_pods=400, seed=1)
    config = load_profiles(PROFILES_DIR / "most-allocated.yaml")[0].config
    logs = []
    for seed in (1, 2):
        rec = DecisionRecorder(TargetWorkload.from_pods(small.pods), group=f"s{seed}")
        ArrivalReplay(small, config=config, seed=seed, tune=1.0, recorder=rec).run()
        logs.append(rec.finish().to_dir(tmp / f"log{seed}"))
    return train_scorer(read_logs(logs), objective=objective, val_groups=["s2"]).save(tmp / "model")


def _setup(profile: str, tmp: Path) -> tuple[Framework, list[PodInfo], Scheduler]:
    wl = synthetic(n_nodes=NODES, n_pods=PODS, seed=7)
    if profile == "default":
        sched, conversion = Scheduler(explain_messages=False), PodConversion()
    else:
        objective = "distill" if profile == "mlscore-distilled" else "imitate"
        policy = mlscore_policy(_model(tmp, objective), TargetWorkload.from_pods(wl.pods))
        config, conversion, _ = policy.bind(wl)
        sched = Scheduler(config, explain_messages=False)
    sched.add_nodes(build_nodes(wl.nodes))
    factory = PodFactory(wl.pods, conversion)
    pods = [factory.info(r) for r in range(PODS)]
    fwk = next(iter(sched.profiles.values()))
    return fwk, pods, sched


def _score_stream(fwk: Framework, pods: list[PodInfo], cold: bool) -> None:
    snap = fwk.snapshot
    nodes = snap.all_nodes()
    scorer = next(p for p, _ in fwk.scores)
    for pod in pods:
        if cold:
            scorer._entries.clear()
        state = CycleState()
        fwk.run_pre_filter(state, pod)
        fwk.run_pre_score(state, pod, nodes)
        total = fwk.run_score(state, pod, nodes).total
        snap.add_pod(pod, snap.nodes[int(np.argmax(total))].name)


def _clear(fwk: Framework, pods: list[PodInfo]) -> None:
    for pod in pods:
        fwk.snapshot.remove_pod(pod)


@pytest.mark.parametrize("profile", ["default", "mlscore", "mlscore-distilled", "mlscore-cold"])
def test_scoring_cost_5000_nodes(
    benchmark: Any, profile: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fwk, pods, _sched = _setup(profile.removesuffix("-cold"), tmp_path_factory.mktemp("m"))
    cold = profile.endswith("-cold")
    _score_stream(fwk, pods, cold)  # warm: first sight of every pod shape
    gc.collect()

    def fresh() -> tuple[tuple[Any, ...], dict[str, Any]]:
        _clear(fwk, pods)  # every round scores the same stream on the same cluster
        return (fwk, pods, cold), {}

    benchmark.pedantic(_score_stream, setup=fresh, rounds=3, iterations=1)
    per_pod_us = benchmark.stats.stats.min / PODS * 1e6
    benchmark.extra_info.update(nodes=NODES, pods=PODS, per_pod_us=round(per_pod_us, 1))
