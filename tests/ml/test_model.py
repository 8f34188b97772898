"""Saved models reload to identical scores; a model that does not fit is refused, clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ksched.framework.cycle_state import CycleState
from ksched.ml import mlscore
from ksched.ml.features import FEATURE_NAMES, feature_schema_hash
from ksched.ml.model import META_FILE, ModelMismatchError, SavedModel, load_model
from ksched.ml.train import train_scorer
from ksched.scheduler import Scheduler
from ksched.sim.objects import PodFactory, build_nodes
from ksched.traces.workload import Workload


def _load(path: Path) -> SavedModel:
    return load_model(path, kind="scorer", features=FEATURE_NAMES, schema=feature_schema_hash())


def _edit(src: Path, dst: Path, **changes: object) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    meta = json.loads((dst / META_FILE).read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            meta[key].update(value)
        else:
            meta[key] = value
    (dst / META_FILE).write_text(json.dumps(meta))
    return dst


def test_reload_scores_identically(model: SavedModel, model_dir: Path) -> None:
    x = np.random.default_rng(0).random((500, len(FEATURE_NAMES)))
    again = _load(model_dir)
    np.testing.assert_array_equal(model.value(x), again.value(x))
    assert again.extra["target"] == model.extra["target"]


def test_plugin_from_disk_scores_as_the_model(
    workload: Workload, model: SavedModel, model_dir: Path
) -> None:
    sched = Scheduler(explain_messages=False)
    sched.add_nodes(build_nodes(workload.nodes))
    plugin = mlscore.new(mlscore.MLScoreArgs(model=str(model_dir)), None)
    pod = PodFactory(workload.pods).info(5)
    nodes = sched.snapshot.all_nodes()
    expected = np.rint(model.value(plugin.extractor.extract(pod, nodes)) * mlscore.SCALE)
    np.testing.assert_array_equal(plugin.score_nodes(CycleState(), pod, nodes), expected)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"features": [*FEATURE_NAMES[:-1], "renamed"]},
            "feature schema mismatch.*missing untolerated_taints; unknown renamed",
        ),
        ({"schema": "0000"}, "feature schema mismatch.*same names"),
        (
            {"versions": {"scikit-learn": "0.1.0"}},
            "saved with scikit-learn 0.1.0, but scikit-learn",
        ),
        ({"kind": "duration"}, "a duration model, a scorer model is needed"),
        ({"format": 99}, "model format 99"),
    ],
    ids=["renamed-feature", "schema-version", "sklearn-version", "kind", "format"],
)
def test_mismatch_refused(
    model_dir: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    bad = _edit(model_dir, tmp_path / "bad", **changes)
    with pytest.raises(ModelMismatchError, match=message):
        _load(bad)
    with pytest.raises(ModelMismatchError, match=message):
        mlscore.new(mlscore.MLScoreArgs(model=str(bad)), None)


def test_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelMismatchError, match="not a saved ksched model"):
        _load(tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"")
    (tmp_path / META_FILE).write_text("{\n  bad")
    with pytest.raises(ModelMismatchError, match="line 2: not valid JSON"):
        _load(tmp_path)


@pytest.mark.parametrize("estimator", ["linear", "mlp"], ids=["linear", "mlp"])
def test_other_estimators_round_trip(logs: list[Path], tmp_path: Path, estimator: str) -> None:
    from ksched.ml.decisions import read_logs

    model = train_scorer(read_logs(logs), estimator=estimator, val_groups=["s2"])
    x = np.random.default_rng(1).random((50, len(FEATURE_NAMES)))
    np.testing.assert_array_equal(model.value(x), _load(model.save(tmp_path / "m")).value(x))


def test_outcome_regression_ranks_lower_outcomes_higher(logs: list[Path]) -> None:
    from ksched.ml.decisions import read_logs

    model = train_scorer(
        read_logs(logs), objective="outcome:frag_delta", estimator="linear", val_groups=["s2"]
    )
    assert model.higher_is_better is False
    assert model.extra["validation"]["rows_train"] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "outcome:nope"}, "'objective' parameter of train_scorer"),
        ({"estimator": "svm"}, "'estimator' parameter of train_scorer"),
        ({"val_groups": ["zzz"]}, r"validation groups \['zzz'\] are not in the logs"),
        ({"val_groups": ["s1", "s2"]}, "nothing is left to train on"),
    ],
    ids=["objective", "estimator", "unknown-group", "all-validation"],
)
def test_bad_training_input(logs: list[Path], kwargs: dict[str, object], message: str) -> None:
    from ksched.ml.decisions import read_logs

    with pytest.raises(ValueError, match=message):
        train_scorer(read_logs(logs), **kwargs)  # type: ignore[arg-type]


def test_imitating_the_top_set_labels_every_tied_best_candidate(logs: list[Path]) -> None:
    from ksched.ml.decisions import read_logs

    log = read_logs(logs)
    cand = log.candidates
    best = cand.groupby("decision")["score_total"].transform("max")
    tied = cand[(cand["score_total"] == best) & ~cand["chosen"]]
    assert len(tied), "the fixture's teacher should leave ties for the tie-break to settle"
    chosen = train_scorer(log, val_groups=["s2"])
    top = train_scorer(log, objective="imitate-top", val_groups=["s2"])
    assert top.extra["objective"] == "imitate-top"
    x = tied[list(FEATURE_NAMES)].to_numpy(np.float64)
    # A tied best node is a positive example now, a negative one before.
    assert top.value(x).mean() > chosen.value(x).mean()


def test_distilled_scorer_predicts_the_teachers_scores_and_keeps_them(
    workload: Workload, logs: list[Path], tmp_path: Path
) -> None:
    from ksched.ml.decisions import read_logs

    log = read_logs(logs)
    weights = log.meta["parts"][0]["score_weights"]
    assert weights and all(w >= 1 for w in weights.values())
    model = train_scorer(log, objective="distill", val_groups=["s2"])
    assert model.extra["score_scale"] == "teacher"
    assert 0.0 <= model.extra["validation"]["exact_score_val"] <= 1.0
    cand = log.candidates
    x = cand[list(FEATURE_NAMES)].to_numpy(np.float64)
    teacher = cand["score_total"].to_numpy(np.float64) / sum(weights.values())
    assert np.abs(model.value(x) - teacher).mean() < 5.0  # on the 0-100 scale

    plugin = mlscore.new(mlscore.MLScoreArgs(model=str(model.save(tmp_path / "m"))), None)
    sched = Scheduler(explain_messages=False)
    sched.add_nodes(build_nodes(workload.nodes))
    pod = PodFactory(workload.pods).info(5)
    nodes = sched.snapshot.all_nodes()
    values = model.value(plugin.extractor.extract(pod, nodes))
    scores = plugin.score_nodes(CycleState(), pod, nodes)
    np.testing.assert_array_equal(scores, np.clip(np.rint(values), 0, 100))
    kept = scores.copy()
    assert plugin.normalize_score(CycleState(), pod, scores) is None
    np.testing.assert_array_equal(scores, kept)  # rounded, never rescaled


def test_distill_needs_the_teachers_weights(logs: list[Path], tmp_path: Path) -> None:
    from ksched.ml.decisions import read_logs

    old = read_logs(logs)
    for part in old.meta["parts"]:
        part.pop("score_weights")
    with pytest.raises(ValueError, match="record them again"):
        train_scorer(old, objective="distill", val_groups=["s2"])
