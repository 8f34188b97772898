"""The flat tree-ensemble form gives scikit-learn's values bit for bit, or is not used."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from ksched.ml import forest as forest_module
from ksched.ml.forest import CompiledForest, compile_forest
from ksched.ml.model import SavedModel


def _data(n: int, seed: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[:, 3] = rng.integers(0, 4, size=n)  # ties at thresholds
    x[rng.random(size=(n, 6)) < 0.05] = np.nan  # trees learn where missing values go
    y = np.nan_to_num(x[:, 0]) * 2 - np.nan_to_num(x[:, 1]) + (x[:, 3] == 2)
    return x, y


@pytest.fixture(scope="module")
def regressor() -> HistGradientBoostingRegressor:
    x, y = _data(3000, 1)
    return HistGradientBoostingRegressor(max_iter=60, max_leaf_nodes=15, random_state=0).fit(x, y)


@pytest.fixture(scope="module")
def classifier() -> HistGradientBoostingClassifier:
    x, y = _data(3000, 2)
    model = HistGradientBoostingClassifier(max_iter=60, max_leaf_nodes=15, random_state=0)
    return model.fit(x, y > np.median(y))


@pytest.mark.parametrize("rows", [1, 3, 64, 500])
def test_regressor_values_equal_sklearn(regressor: Any, rows: int) -> None:
    flat = compile_forest(regressor, "predict")
    assert isinstance(flat, CompiledForest)
    x, _ = _data(rows, 10 + rows)
    assert np.array_equal(flat.raw(x), regressor.predict(x))


@pytest.mark.parametrize("rows", [1, 7, 64])
def test_classifier_decision_function_equals_sklearn(classifier: Any, rows: int) -> None:
    flat = compile_forest(classifier, "decision_function")
    assert isinstance(flat, CompiledForest)
    x, _ = _data(rows, 20 + rows)
    assert np.array_equal(flat.raw(x), classifier.decision_function(x))


def test_rows_without_missing_values(regressor: Any) -> None:
    flat = compile_forest(regressor, "predict")
    assert flat is not None
    x = np.nan_to_num(_data(40, 3)[0])
    assert np.array_equal(flat.raw(x), regressor.predict(x))


def test_no_flat_form_where_it_would_not_be_exact(classifier: Any) -> None:
    x, y = _data(600, 4)
    three = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    multiclass = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(x, three)
    categorical = HistGradientBoostingRegressor(
        max_iter=5, categorical_features=[3], random_state=0
    ).fit(np.nan_to_num(x), y)
    poisson = HistGradientBoostingRegressor(max_iter=5, loss="poisson").fit(x, np.abs(y))
    assert compile_forest(classifier, "predict_proba") is None
    assert compile_forest(multiclass, "decision_function") is None
    assert compile_forest(categorical, "predict") is None
    assert compile_forest(poisson, "predict") is None
    assert compile_forest(Ridge().fit(np.nan_to_num(x), y), "predict") is None


def _saved(estimator: Any, output: Any) -> SavedModel:
    return SavedModel("scorer", estimator, ("a", "b", "c", "d", "e", "f"), "x", output)


def test_saved_model_uses_the_flat_form_for_small_batches(regressor: Any) -> None:
    model = _saved(regressor, "predict")
    x, _ = _data(5, 30)
    assert np.array_equal(model.value(x), regressor.predict(x))
    assert isinstance(model._forest, CompiledForest)
    big, _ = _data(forest_module.MAX_ROWS + 1, 31)
    assert np.array_equal(model.value(big), regressor.predict(big))


def test_a_flat_form_that_disagrees_is_dropped(
    regressor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    right = compile_forest(regressor, "predict")
    assert right is not None
    wrong = CompiledForest(**{**_fields(right), "baseline": right.baseline + 1e-9})
    monkeypatch.setattr("ksched.ml.model.compile_forest", lambda *_: wrong)
    model = _saved(regressor, "predict")
    x, _ = _data(4, 32)
    assert np.array_equal(model.value(x), regressor.predict(x))
    assert model._forest is False
    assert np.array_equal(model.value(x), regressor.predict(x))


def _fields(flat: CompiledForest) -> dict[str, Any]:
    return {name: getattr(flat, name) for name in CompiledForest.__dataclass_fields__}
