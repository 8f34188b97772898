"""Training: a node scorer from decision logs, a duration predictor from trace pods.

Imitation (``objective="imitate"``) fits a classifier of "the teacher chose
this candidate" on every kept candidate of decisions that had a choice; the
classifier's score ranks nodes. Outcome regression
(``objective="outcome:<column>"``) fits the chosen node's later outcome
(``frag_delta``, ``later_failures``, ``completion_time``) from its
features; lower predicted outcomes rank higher.

Validation is by group (trace, variant, seed: the recorder's ``group``), never
by row, so no decision of a validation replay is seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ksched.ml.decisions import DecisionLog
from ksched.ml.duration import DURATION_FEATURES, duration_features, duration_schema_hash
from ksched.ml.features import FEATURE_NAMES, feature_schema_hash
from ksched.ml.model import SavedModel
from ksched.traces.workload import PodTable

__all__ = ["ESTIMATORS", "IMITATIONS", "OUTCOMES", "Estimator", "train_duration", "train_scorer"]

Estimator = Literal["hgb", "linear", "mlp"]
ESTIMATORS: Final = ("hgb", "linear", "mlp")
OUTCOMES: Final = ("frag_delta", "later_failures", "completion_time")
# imitate: the teacher's chosen node; imitate-top: every node it scored highest.
IMITATIONS: Final = ("imitate", "imitate-top")


def _estimator(name: str, classify: bool, seed: int) -> Any:
    if name == "hgb":
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(max_iter=100, max_leaf_nodes=15, learning_rate=0.1, random_state=seed)
    if name == "linear":
        head = LogisticRegression(max_iter=2000) if classify else Ridge(alpha=1.0)
        return make_pipeline(StandardScaler(), head)
    if name == "mlp":
        mlp = MLPClassifier if classify else MLPRegressor
        return make_pipeline(
            StandardScaler(),
            mlp(hidden_layer_sizes=(32, 16), max_iter=300, early_stopping=True, random_state=seed),
        )
    raise ValueError(
        f"The 'estimator' parameter of train_scorer must be one of {ESTIMATORS}. "
        f"Got {name!r} instead."
    )


def _split(groups: Sequence[str], val_groups: Sequence[str] | None) -> tuple[set[str], set[str]]:
    names = sorted(set(groups))
    if val_groups is None:
        if len(names) < 2:
            raise ValueError(
                f"a group split needs logs of at least two groups (replays); got {names}"
            )
        val = {names[-1]}
    else:
        val = set(val_groups)
        unknown = sorted(val - set(names))
        if unknown:
            raise ValueError(
                f"validation groups {unknown} are not in the logs (groups: {', '.join(names)})"
            )
    train = set(names) - val
    if not train:
        raise ValueError("every group is a validation group: nothing is left to train on")
    return train, val


def _agreement(frame: pd.DataFrame, value: NDArray[np.float64]) -> float:
    """Share of decisions whose chosen candidate has the highest model value among kept ones."""
    if len(frame) == 0:
        return float("nan")
    f = pd.DataFrame({"d": frame["decision"].to_numpy(), "v": value, "c": frame["chosen"]})
    best = f.groupby("d")["v"].transform("max")
    hit = f[f["c"]]
    return float((hit["v"].to_numpy() >= best[f["c"]].to_numpy()).mean())


def _weight_sum(log: DecisionLog) -> float:
    """The sum of the teacher's Score weights, the same in every part of ``log``."""
    parts = log.meta.get("parts", [log.meta])
    sums = {sum((p.get("score_weights") or {}).values()) for p in parts}
    if len(sums) != 1 or not next(iter(sums)):
        raise ValueError(
            "objective 'distill' needs logs that record the teacher's score weights, one "
            f"teacher for all of them (found weight sums {sorted(sums)}): record them again"
        )
    return float(next(iter(sums)))


def train_scorer(
    log: DecisionLog,
    *,
    objective: str = "imitate",
    estimator: str = "hgb",
    val_groups: Sequence[str] | None = None,
    seed: int = 0,
    target: dict[str, Any] | None = None,
) -> SavedModel:
    """Fit a node scorer on ``log``; validation metrics go into the model's metadata."""
    decisions, cand = log.decisions, log.candidates
    missing = [f for f in FEATURE_NAMES if f not in cand.columns]
    if missing:
        raise ValueError(f"the decision log lacks feature columns {missing}: record it again")
    group_of = decisions.set_index("decision")["group"]
    train_g, val_g = _split(list(decisions["group"].astype(str)), val_groups)
    if target is None:
        parts = log.meta.get("parts", [log.meta])
        target = next((p["target"] for p in parts if "target" in p), None)
    extra: dict[str, Any] = {"objective": objective, "target": target}
    if objective in IMITATIONS:
        counts = cand.groupby("decision")["chosen"].agg(["size", "sum"])
        useful = counts.index[(counts["size"] >= 2) & (counts["sum"] == 1)]
        frame = cand[cand["decision"].isin(useful)]
        groups = group_of.reindex(frame["decision"]).astype(str).to_numpy()
        tr, va = np.isin(groups, list(train_g)), np.isin(groups, list(val_g))
        x = frame[list(FEATURE_NAMES)].to_numpy(np.float64)
        if objective == "imitate-top":
            # Every candidate the teacher scored highest: the chosen one among them was
            # picked by the tie-break rule (node names), which the features cannot see.
            best = frame.groupby("decision")["score_total"].transform("max")
            y = (frame["score_total"] == best).to_numpy(bool)
        else:
            y = frame["chosen"].to_numpy(bool)
        if tr.sum() == 0 or y[tr].all() or not y[tr].any():
            raise ValueError("the training decisions have no choice to learn from")
        model = _estimator(estimator, True, seed)
        model.fit(x[tr], y[tr])
        output: Literal["decision_function", "predict_proba", "predict"] = (
            "decision_function" if hasattr(model, "decision_function") else "predict_proba"
        )
        saved = SavedModel("scorer", model, FEATURE_NAMES, feature_schema_hash(), output, True)
        extra["validation"] = {
            "agreement_train": _agreement(frame[tr], saved.value(x[tr])),
            "agreement_val": _agreement(frame[va], saved.value(x[va])),
            "decisions_train": int(frame[tr]["decision"].nunique()),
            "decisions_val": int(frame[va]["decision"].nunique()),
        }
    elif objective == "distill":
        # The teacher's own score of every kept candidate, on its 0-100 scale: MLScore
        # then rounds to it, so the teacher's ties (which its tie-break settles) survive.
        scale = _weight_sum(log)
        frame = cand[np.isfinite(cand["score_total"].to_numpy(np.float64))]
        groups = group_of.reindex(frame["decision"]).astype(str).to_numpy()
        tr, va = np.isin(groups, list(train_g)), np.isin(groups, list(val_g))
        if tr.sum() < 2:
            raise ValueError("fewer than two training candidates have a teacher score")
        x = frame[list(FEATURE_NAMES)].to_numpy(np.float64)
        y = frame["score_total"].to_numpy(np.float64) / scale
        model = _estimator(estimator, False, seed)
        model.fit(x[tr], y[tr])
        saved = SavedModel("scorer", model, FEATURE_NAMES, feature_schema_hash(), "predict", True)
        extra["score_scale"] = "teacher"
        rounded = np.clip(np.rint(saved.value(x[va])), 0, 100) if va.any() else np.zeros(0)
        extra["validation"] = {
            "exact_score_val": float((rounded == y[va]).mean()) if va.any() else float("nan"),
            "agreement_val": _agreement(frame[va], rounded),
            "rows_train": int(tr.sum()),
            "rows_val": int(va.sum()),
        }
    elif objective.startswith("outcome:") and objective[len("outcome:") :] in OUTCOMES:
        column = objective[len("outcome:") :]
        # The outcome may share a feature's name (frag_delta): keep it apart.
        outcome = decisions[["decision", column, "group"]].rename(columns={column: "_outcome"})
        chosen = cand[cand["chosen"]].merge(outcome, on="decision")
        chosen = chosen[np.isfinite(chosen["_outcome"].to_numpy(np.float64))]
        groups = chosen["group"].astype(str).to_numpy()
        tr, va = np.isin(groups, list(train_g)), np.isin(groups, list(val_g))
        if tr.sum() < 2:
            raise ValueError(f"fewer than two training decisions have a finite {column!r}")
        x = chosen[list(FEATURE_NAMES)].to_numpy(np.float64)
        y = chosen["_outcome"].to_numpy(np.float64)
        model = _estimator(estimator, False, seed)
        model.fit(x[tr], y[tr])
        saved = SavedModel("scorer", model, FEATURE_NAMES, feature_schema_hash(), "predict", False)
        pred = saved.value(x[va]) if va.any() else np.zeros(0)
        extra["validation"] = {
            "mae_val": float(np.abs(pred - y[va]).mean()) if va.any() else float("nan"),
            "rows_train": int(tr.sum()),
            "rows_val": int(va.sum()),
        }
    else:
        raise ValueError(
            "The 'objective' parameter of train_scorer must be 'imitate', 'imitate-top', "
            "'distill' or 'outcome:<column>' "
            f"with a column in {OUTCOMES}. Got {objective!r} instead."
        )
    extra.update(
        estimator_name=estimator,
        train_groups=sorted(train_g),
        val_groups=sorted(val_g),
        seed=seed,
        teacher=sorted({str(p.get("profile", "")) for p in log.meta.get("parts", [log.meta])}),
    )
    saved.extra = extra
    return saved


def train_duration(
    tables: Sequence[PodTable],
    *,
    estimator: str = "hgb",
    seed: int = 0,
    describe: dict[str, Any] | None = None,
) -> SavedModel:
    """Fit log(1 + duration seconds) from pod features; pods without a duration are skipped."""
    xs, ys = [], []
    for table in tables:
        ok = np.isfinite(table.duration) & (table.duration >= 0)
        xs.append(duration_features(table)[ok])
        ys.append(np.log1p(table.duration[ok]))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if len(y) < 2:
        raise ValueError("fewer than two pods with a known duration to train on")
    model = _estimator(estimator, False, seed)
    model.fit(x, y)
    saved = SavedModel(
        "duration", model, DURATION_FEATURES, duration_schema_hash(), "predict", False
    )
    fit = model.predict(x)
    saved.extra = {
        "target": "log1p(duration_s)",
        "estimator_name": estimator,
        "rows_train": len(y),
        "mae_train_log": float(np.abs(fit - y).mean()),
        **(describe or {}),
    }
    return saved
