"""HistGradientBoosting inference over all trees at once, for the few rows a cycle re-predicts.

scikit-learn predicts tree by tree (one call per tree) after validating its
input: for the one or two rows whose node changed since the last cycle, that
fixed cost was most of MLScore's per-pod time. Here every tree walks one
level per numpy step, over all rows and trees together, with scikit-learn's
arithmetic (``_hist_gradient_boosting/_predictor.pyx``: a numeric split
sends ``x <= num_threshold`` left and NaN by ``missing_go_to_left``; the raw
prediction is the baseline plus the leaf values added tree by tree, in that
order). Models with categorical splits, several trees per iteration or a
non-identity output link are left to scikit-learn (``compile_forest``
returns None), and ``SavedModel`` checks the two agree before it relies on
this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

__all__ = ["CompiledForest", "compile_forest"]

# Above this many rows scikit-learn's compiled loops win over numpy steps.
MAX_ROWS: Final = 64


@dataclass(frozen=True, slots=True)
class CompiledForest:
    """Every tree's nodes in flat arrays; a leaf points to itself on both sides."""

    feature: NDArray[np.intp]
    threshold: NDArray[np.float64]
    missing_left: NDArray[np.bool_]
    left: NDArray[np.intp]
    right: NDArray[np.intp]
    value: NDArray[np.float64]
    roots: NDArray[np.intp]
    depth: int
    baseline: float

    def raw(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The ensemble's raw prediction for each row of ``x``."""
        n, width = x.shape
        flat = np.ascontiguousarray(x).ravel()
        offsets = (np.arange(n) * width)[:, None]
        pos = np.broadcast_to(self.roots, (n, len(self.roots)))
        missing = bool(np.isnan(flat).any())
        for _ in range(self.depth):
            v = flat.take(self.feature.take(pos) + offsets)
            if missing:
                with np.errstate(invalid="ignore"):
                    go_left = np.where(
                        np.isnan(v), self.missing_left.take(pos), v <= self.threshold.take(pos)
                    )
            else:
                go_left = v <= self.threshold.take(pos)
            pos = np.where(go_left, self.left.take(pos), self.right.take(pos))
        terms = np.concatenate([np.full((n, 1), self.baseline), self.value.take(pos)], axis=1)
        out: NDArray[np.float64] = np.add.accumulate(terms, axis=1)[:, -1]
        return out


def compile_forest(
    estimator: Any, output: Literal["decision_function", "predict_proba", "predict"]
) -> CompiledForest | None:
    """The flat form of a fitted HistGradientBoosting model, or None if it has no exact one."""
    try:
        return _compile(estimator, output)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return None  # a scikit-learn whose internals differ: keep its own predict


def _compile(estimator: Any, output: str) -> CompiledForest | None:
    if isinstance(estimator, HistGradientBoostingClassifier):
        if output != "decision_function" or estimator.n_trees_per_iteration_ != 1:
            return None
    elif isinstance(estimator, HistGradientBoostingRegressor):
        if output != "predict" or type(estimator._loss.link).__name__ != "IdentityLink":
            return None
    else:
        return None
    if getattr(estimator, "_preprocessor", None) is not None:
        return None  # categorical columns are encoded first
    trees = [it[0] for it in estimator._predictors]
    if any(len(it) != 1 for it in estimator._predictors) or not trees:
        return None
    parts: dict[str, list[NDArray[Any]]] = {
        k: [] for k in ("feature", "threshold", "missing_left", "left", "right", "value")
    }
    roots, offset, depth = [], 0, 0
    for tree in trees:
        nodes = tree.nodes
        if nodes["is_categorical"].any():
            return None
        own = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp))
        parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
        parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
        parts["left"].append(np.where(leaf, own, nodes["left"]).astype(np.intp) + offset)
        parts["right"].append(np.where(leaf, own, nodes["right"]).astype(np.intp) + offset)
        parts["value"].append(nodes["value"].astype(np.float64))
        roots.append(offset)
        offset += len(nodes)
        depth = max(depth, int(nodes["depth"].max()))
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)
    if len(baseline) != 1:
        return None
    flat = {k: np.concatenate(v) for k, v in parts.items()}
    return CompiledForest(
        feature=flat["feature"],
        threshold=flat["threshold"],
        missing_left=flat["missing_left"],
        left=flat["left"],
        right=flat["right"],
        value=flat["value"],
        roots=np.asarray(roots, dtype=np.intp),
        depth=depth,
        baseline=float(baseline[0]),
    )
