"""MLScore passes the plugin contract kit, and its per-shape cache equals a fresh prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ksched.framework.cycle_state import CycleState
from ksched.ml import mlscore
from ksched.ml.features import FeatureExtractor
from ksched.scheduler import Scheduler
from ksched.sim.objects import PodFactory, build_nodes
from ksched.testing import check_plugin
from ksched.traces.workload import Workload


def test_contract_kit(model_dir: Path) -> None:
    check_plugin(mlscore, {"model": str(model_dir)})


def test_cached_values_equal_fresh_ones(workload: Workload, model_dir: Path) -> None:
    sched = Scheduler(explain_messages=False)
    sched.add_nodes(build_nodes(workload.nodes))
    snap = sched.snapshot
    factory = PodFactory(workload.pods)
    cached = mlscore.new(mlscore.MLScoreArgs(model=str(model_dir)), None)
    probe = factory.info(7, "probe")
    for r in range(20):
        cached.score_nodes(CycleState(), probe, snap.all_nodes())
        snap.add_pod(factory.info(r, f"p{r}"), snap.nodes[(5 * r) % snap.n].name)
        fresh = mlscore.MLScore(cached.model, FeatureExtractor(cached.extractor.target))
        np.testing.assert_array_equal(
            cached.score_nodes(CycleState(), probe, snap.all_nodes()),
            fresh.score_nodes(CycleState(), probe, snap.all_nodes()),
        )


def test_normalize_spans_the_range(model_dir: Path) -> None:
    plugin = mlscore.new(mlscore.MLScoreArgs(model=str(model_dir)), None)
    scores = np.array([-5_000_000, 0, 5_000_000], dtype=np.int64)
    plugin.normalize_score(CycleState(), None, scores)  # type: ignore[arg-type]
    assert scores.tolist() == [0, 50, 100]
    same = np.array([7, 7], dtype=np.int64)
    plugin.normalize_score(CycleState(), None, same)  # type: ignore[arg-type]
    assert same.tolist() == [100, 100]
