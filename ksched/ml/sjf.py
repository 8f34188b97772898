"""ShortestPredictedJobFirst: a QueueSort that runs the job expected to finish soonest first.

Shortest-job-first minimises mean completion time on one machine (Smith's
rule, 1956); a learned duration estimate makes it usable when durations are
unknown, as in the Alibaba PAI study (Weng et al., NSDI '22, sec. 6). Within
a priority level, pods go by predicted duration, then by arrival.

Args: exactly one of ``model`` (a duration model from ``ksched train
duration``; the prediction is made once per pod) and ``durations`` (a
Parquet or CSV file with ``name`` and ``duration`` columns: known
durations, e.g. the trace's own for an oracle). Pods the file does not list
sort after every listed one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from ksched.framework.pod_info import PodInfo
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.ml.duration import DURATION_FEATURES, duration_schema_hash, pod_duration_features
from ksched.ml.model import SavedModel, load_model

__all__ = ["NAME", "Args", "ShortestPredictedJobFirst", "ShortestPredictedJobFirstArgs", "new"]

NAME: Final = "ShortestPredictedJobFirst"
_CACHE: Final = "_sjf_duration"


class ShortestPredictedJobFirstArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    durations: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ShortestPredictedJobFirstArgs:
        if (self.model is None) == (self.durations is None):
            raise ValueError("give exactly one of 'model' and 'durations'")
        return self


Args = ShortestPredictedJobFirstArgs


def read_durations(path: str | Path) -> dict[str, float]:
    """``name -> duration`` from a Parquet or CSV file with those two columns."""
    where = Path(path)
    if not where.is_file():
        raise FileNotFoundError(f"{where}: durations file not found")
    frame = pd.read_parquet(where) if where.suffix == ".parquet" else pd.read_csv(where)
    missing = [c for c in ("name", "duration") if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: columns {missing} are missing (need name, duration)")
    values = pd.to_numeric(frame["duration"], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy() & frame["duration"].notna().to_numpy())
    if len(bad):
        raise ValueError(f"{where}: row {int(bad[0]) + 1}: field 'duration' is not a number")
    return dict(zip(frame["name"].astype(str), values.astype(float), strict=True))


class ShortestPredictedJobFirst:
    def __init__(
        self, model: SavedModel | None = None, durations: dict[str, float] | None = None
    ) -> None:
        self.model = model
        self.durations = durations

    @property
    def name(self) -> str:
        return NAME

    def duration(self, pod: PodInfo) -> float:
        """Predicted (or known) seconds; cached on the pod, so each pod is predicted once."""
        hit = pod.cache.get(_CACHE)
        if isinstance(hit, float):
            return hit
        if self.durations is not None:
            value = self.durations.get(pod.name, math.inf)
            value = math.inf if math.isnan(value) else value
        else:
            assert self.model is not None
            log = self.model.value(pod_duration_features(pod)[None, :])[0]
            value = float(np.expm1(log))
        pod.cache[_CACHE] = value
        return value

    def sort_key(self, pod: QueuedPodInfo) -> tuple[int, float, float]:
        return (-pod.pod_info.priority, self.duration(pod.pod_info), pod.timestamp)

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        return self.sort_key(a) < self.sort_key(b)


def new(args: ShortestPredictedJobFirstArgs | None, handle: Any) -> ShortestPredictedJobFirst:
    if args is None:
        raise ValueError(f"plugin {NAME!r} needs args: 'model' or 'durations'")
    if args.model is not None:
        model = load_model(
            args.model, kind="duration", features=DURATION_FEATURES, schema=duration_schema_hash()
        )
        return ShortestPredictedJobFirst(model=model)
    assert args.durations is not None
    return ShortestPredictedJobFirst(durations=read_durations(args.durations))
