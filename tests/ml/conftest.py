"""A small openb-like workload, a recorded decision log and a model trained on it, shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched.ml.decisions import DecisionLog, DecisionRecorder
from ksched.ml.model import SavedModel
from ksched.ml.train import train_scorer
from ksched.sim import ArrivalReplay, TargetWorkload, load_profiles
from ksched.sim.runner import PROFILES_DIR
from ksched.traces import synthetic
from ksched.traces.workload import Workload


@pytest.fixture(scope="session")
def workload() -> Workload:
    return synthetic(n_nodes=24, n_pods=160, seed=3)


def record(workload: Workload, seed: int, profile: str = "most-allocated") -> DecisionLog:
    recorder = DecisionRecorder(
        TargetWorkload.from_pods(workload.pods), max_candidates=8, seed=seed, group=f"s{seed}"
    )
    prof = load_profiles(PROFILES_DIR / f"{profile}.yaml")[0]
    result = ArrivalReplay(
        workload, config=prof.config, seed=seed, tune=1.0, recorder=recorder
    ).run()
    return recorder.finish(result)


@pytest.fixture(scope="session")
def logs(workload: Workload, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("logs")
    return [record(workload, seed).to_dir(root / f"s{seed}") for seed in (1, 2)]


@pytest.fixture(scope="session")
def model(logs: list[Path]) -> SavedModel:
    from ksched.ml.decisions import read_logs

    return train_scorer(read_logs(logs), estimator="hgb", val_groups=["s2"])


@pytest.fixture(scope="session")
def model_dir(model: SavedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "model")
