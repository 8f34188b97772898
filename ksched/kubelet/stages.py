"""How long a simulated pod stays in each phase, and how it ends.

A pod's own annotations win over the kubelet's defaults, so a trace
replay can give every pod its recorded duration:
``ksched.io/duration-seconds`` (running time; absent and no default: the pod
runs until deleted) and ``ksched.io/result`` (``Succeeded`` or ``Failed``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = ["DURATION_ANNOTATION", "RESULT_ANNOTATION", "PodPlan", "StageError", "Stages"]

DURATION_ANNOTATION: Final = "ksched.io/duration-seconds"
RESULT_ANNOTATION: Final = "ksched.io/result"
Phase = Literal["Succeeded", "Failed"]


class StageError(ValueError):
    """A bad stage setting or pod annotation (the message names it)."""


@dataclass(frozen=True)
class PodPlan:
    """``start_after`` seconds Pending, then ``run_for`` seconds Running (None: forever)."""

    start_after: float
    run_for: float | None
    result: Phase


@dataclass(frozen=True)
class Stages:
    """Defaults for pods without annotations: ``running_seconds`` None runs forever."""

    pending_seconds: float = 0.0
    running_seconds: float | None = None
    result: Phase = "Succeeded"
    time_compression: float = 1.0

    def __post_init__(self) -> None:
        for name in ("pending_seconds", "running_seconds"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise StageError(
                    f"The {name!r} parameter of Stages must be a finite number >= 0. "
                    f"Got {value!r} instead."
                )
        if self.result not in ("Succeeded", "Failed"):
            raise StageError(
                f"The 'result' parameter of Stages must be 'Succeeded' or 'Failed'. "
                f"Got {self.result!r} instead."
            )
        if not (math.isfinite(self.time_compression) and self.time_compression > 0):
            raise StageError(
                "The 'time_compression' parameter of Stages must be a finite number > 0. "
                f"Got {self.time_compression!r} instead."
            )

    def plan(self, pod: dict[str, Any]) -> PodPlan:
        """The plan for ``pod``; a malformed annotation falls back to the defaults."""
        annotations = pod["metadata"].get("annotations") or {}
        run_for = self.running_seconds
        text = annotations.get(DURATION_ANNOTATION)
        if text is not None:
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if math.isfinite(value) and value >= 0:
                run_for = value
        result = annotations.get(RESULT_ANNOTATION, self.result)
        if result not in ("Succeeded", "Failed"):
            result = self.result
        scale = 1.0 / self.time_compression
        return PodPlan(
            self.pending_seconds * scale, None if run_for is None else run_for * scale, result
        )
