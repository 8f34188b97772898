"""A trained model on disk: the estimator (joblib) beside JSON metadata that says what it expects.

``<dir>/model.joblib`` holds the scikit-learn estimator; ``<dir>/model.json``
its kind, feature names and schema fingerprint, the library versions that
saved it, the target workload of its fragmentation features and how it
was trained. ``load_model`` reads the JSON first and refuses a model whose
schema or library versions differ from this installation's, naming what
differs, before unpickling anything.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import joblib
import numpy as np
import sklearn
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from ksched.ml.forest import MAX_ROWS as FOREST_MAX_ROWS
from ksched.ml.forest import CompiledForest, compile_forest

__all__ = [
    "META_FILE",
    "MODEL_FILE",
    "ModelKind",
    "ModelMismatchError",
    "SavedModel",
    "library_versions",
    "load_model",
]

MODEL_FILE: Final = "model.joblib"
META_FILE: Final = "model.json"
FORMAT: Final = 1
ModelKind = Literal["scorer", "duration"]


_CONTROLLER: list[ThreadpoolController] = []


def _threadpools() -> ThreadpoolController:
    """The process's native thread pools, found once.

    Finding them scans the loaded libraries (``/proc/self/maps``): done per
    call it cost more than the prediction it wraps.  Found at the first
    prediction, after scikit-learn has loaded its OpenMP runtime.
    """
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


class ModelMismatchError(ValueError):
    """The saved model does not fit this installation (schema, versions, kind or files)."""


def library_versions() -> dict[str, str]:
    """Versions whose change can alter an unpickled estimator's behaviour."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@dataclass
class SavedModel:
    """An estimator with what it needs to be used again.

    ``higher_is_better``: whether a larger estimator output ranks a node
    (or a job, for durations: never) higher. ``output``: the estimator
    method that gives the ranking value.
    """

    kind: ModelKind
    estimator: Any
    features: tuple[str, ...]
    schema: str
    output: Literal["decision_function", "predict_proba", "predict"]
    higher_is_better: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=library_versions)
    # The flat form of a tree ensemble (``ksched.ml.forest``): None until first
    # needed, False when there is none or it disagreed with the estimator.
    _forest: CompiledForest | bool | None = field(default=None, repr=False, compare=False)

    def value(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The estimator's ranking output for the rows of ``x`` (one batched call)."""
        if len(x) == 0:
            return np.zeros(0)
        if len(x) <= FOREST_MAX_ROWS and self._forest is not False:
            forest = self._trusted_forest(x)
            if forest is not None:
                return forest.raw(x)
        return self._estimator_value(x)

    def _estimator_value(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        # One thread: per-cycle batches are small, and OpenMP workers spinning on a busy
        # machine cost far more than they save (seconds per call under load).
        with _threadpools().limit(limits=1, user_api="openmp"):
            if self.output == "predict_proba":
                out = self.estimator.predict_proba(x)[:, 1]
            else:
                out = getattr(self.estimator, self.output)(x)
        return np.asarray(out, dtype=np.float64).reshape(len(x))

    def _trusted_forest(self, x: NDArray[np.float64]) -> CompiledForest | None:
        """The flat form, once it has given exactly the estimator's values on ``x``."""
        if isinstance(self._forest, CompiledForest):
            return self._forest
        forest = compile_forest(self.estimator, self.output)
        if forest is None or not np.array_equal(forest.raw(x), self._estimator_value(x)):
            self._forest = False
            return None
        self._forest = forest
        return forest

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "estimator": type(self.estimator).__name__,
            "features": list(self.features),
            "schema": self.schema,
            "output": self.output,
            "higher_is_better": self.higher_is_better,
            "versions": self.versions,
            **self.extra,
        }

    def save(self, directory: str | Path) -> Path:
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.estimator, out / MODEL_FILE)
        (out / META_FILE).write_text(json.dumps(self.meta(), indent=2, sort_keys=True) + "\n")
        return out


def load_model(
    directory: str | Path,
    *,
    kind: ModelKind,
    features: tuple[str, ...],
    schema: str,
) -> SavedModel:
    """Read a model saved by ``SavedModel.save``, refusing one this installation cannot trust."""
    where = Path(directory)
    meta_path, model_path = where / META_FILE, where / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise ModelMismatchError(
            f"{where}: not a saved ksched model (expected {META_FILE} and {MODEL_FILE})"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelMismatchError(
            f"{meta_path}: line {exc.lineno}: not valid JSON ({exc.msg})"
        ) from None
    for key in ("format", "kind", "features", "schema", "output", "versions"):
        if key not in meta:
            raise ModelMismatchError(f"{meta_path}: field {key!r} is missing")
    if meta["format"] != FORMAT:
        raise ModelMismatchError(
            f"{meta_path}: model format {meta['format']!r}, this ksched reads format {FORMAT}"
        )
    if meta["kind"] != kind:
        raise ModelMismatchError(f"{meta_path}: a {meta['kind']} model, a {kind} model is needed")
    saved = tuple(meta["features"])
    if saved != features or meta["schema"] != schema:
        missing = [f for f in features if f not in saved]
        extra = [f for f in saved if f not in features]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"unknown {', '.join(extra)}")
        if not detail:
            detail.append("same names in another order or schema version")
        raise ModelMismatchError(
            f"{meta_path}: feature schema mismatch: the model was trained on schema "
            f"{meta['schema']} and this ksched extracts schema {schema} ({'; '.join(detail)}); "
            "retrain the model with `ksched train`"
        )
    now = library_versions()
    for lib in ("scikit-learn", "numpy"):
        was = str(meta["versions"].get(lib, "?"))
        if _minor(was) != _minor(now[lib]):
            raise ModelMismatchError(
                f"{meta_path}: saved with {lib} {was}, but {lib} {now[lib]} is installed; "
                "an unpickled estimator may behave differently: retrain the model or install "
                f"{lib} {_minor(was)}.x"
            )
    estimator = joblib.load(model_path)
    known = {
        "format", "kind", "estimator", "features", "schema", "output",
        "higher_is_better", "versions",
    }  # fmt: skip
    return SavedModel(
        kind=kind,
        estimator=estimator,
        features=saved,
        schema=meta["schema"],
        output=meta["output"],
        higher_is_better=bool(meta.get("higher_is_better", True)),
        extra={k: v for k, v in meta.items() if k not in known},
        versions=dict(meta["versions"]),
    )
