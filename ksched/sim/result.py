"""One profile's replay, in the format ``ksched.report`` reads (/work/notes/sim-results.md).

Summary keys (all protocols): ``pods_total`` (pods in the replayed, tuned
workload), ``pods_arrived``, ``pods_placed`` (placed and not since failed:
running or finished), ``pods_failed`` (arrival-only: dropped after their one
attempt; time-based: evicted and not resubmitted, or deleted while still
pending), ``pods_pending_at_end``, ``*_alloc_pct_final``,
``gpu_frag_pct_final``, ``sched_latency_p50_us``/``p99_us`` (wall time of
one scheduling attempt, over all attempts), ``throughput_pods_per_s``
(attempts per second of scheduler wall time), ``wall_seconds`` (the whole
replay). Time-based adds ``queue_delay_p50_s``/``p99_s`` (first placement
minus arrival, placed pods), ``jct_mean_s``/``jct_p50_s`` (finish minus
arrival, finished pods), ``makespan_s`` (last finish minus first
arrival), ``end_time_s`` and ``*_alloc_pct_mean``/``gpu_frag_pct_mean``
(time-weighted over the arrivals' span: the final values of a replay that
drains are zero). Text entries describe how the replay was run.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

__all__ = ["PODS_COLUMNS", "Protocol", "ReplayResult", "read_results"]

Protocol = Literal["time", "arrival"]
PODS_COLUMNS: Final = (
    "name",
    "arrival_time",
    "scheduled_time",
    "finish_time",
    "node",
    "attempts",
    "failed",
    "queue_delay_s",
    "sched_latency_us",
    "cpu_milli",
    "memory_bytes",
    "num_gpu",
    "gpu_milli",
)
SUMMARY_FILE: Final = "summary.json"
_FRAMES: Final = ("pods", "series", "node_util")


def _json_value(value: Any) -> Any:
    """NaN and infinities as null: JSON has no spelling for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _profile_dir(profile: str) -> str:
    """A directory name for a profile: path separators and odd characters become '-'."""
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", profile).strip("-.") or "profile"


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """A replay of one profile: summary numbers and the pods, series and node_util frames."""

    profile: str
    protocol: Protocol
    trace: str
    seed: int
    summary: Mapping[str, float | int | str]
    pods: pd.DataFrame
    series: pd.DataFrame
    node_util: pd.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dir(self, path: str | Path) -> Path:
        """Write ``summary.json`` and three Parquet files under ``path/<profile>/``."""
        out = Path(path) / _profile_dir(self.profile)
        out.mkdir(parents=True, exist_ok=True)
        head = {
            "profile": self.profile,
            "protocol": self.protocol,
            "trace": self.trace,
            "seed": self.seed,
            "summary": {k: _json_value(v) for k, v in self.summary.items()},
            "meta": {k: _json_value(v) for k, v in self.meta.items()},
        }
        (out / SUMMARY_FILE).write_text(json.dumps(head, indent=2, default=str) + "\n")
        for name in _FRAMES:
            frame: pd.DataFrame = getattr(self, name)
            frame.to_parquet(out / f"{name}.parquet", index=False)
        return out

    @classmethod
    def from_dir(cls, path: str | Path) -> ReplayResult:
        """Read what ``to_dir`` wrote: ``path`` is the profile's directory."""
        root = Path(path)
        head = json.loads((root / SUMMARY_FILE).read_text())
        summary = {k: float("nan") if v is None else v for k, v in head["summary"].items()}
        frames = {name: pd.read_parquet(root / f"{name}.parquet") for name in _FRAMES}
        return cls(
            profile=head["profile"],
            protocol=head["protocol"],
            trace=head["trace"],
            seed=int(head["seed"]),
            summary=summary,
            meta=head.get("meta", {}),
            **frames,
        )


def read_results(path: str | Path) -> list[ReplayResult]:
    """Every result written under ``path`` (one per profile directory), by directory name."""
    root = Path(path)
    return [
        ReplayResult.from_dir(d) for d in sorted(root.iterdir()) if (d / SUMMARY_FILE).is_file()
    ]
