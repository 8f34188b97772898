"""What the report reads from a replay: the attributes of ``ksched.sim.ReplayResult``.

A ``Protocol`` rather than the class itself so the report depends only on the
documented result format (``/work/notes/sim-results.md``), works on anything
shaped like it (test fixtures, results read back from disk) and never imports
the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

import pandas as pd

__all__ = [
    "NODE_UTIL_COLUMNS",
    "PODS_COLUMNS",
    "SERIES_COLUMNS",
    "ResultLike",
    "display_names",
    "require_columns",
]

PODS_COLUMNS: Final = ("arrival_time", "finish_time", "queue_delay_s", "sched_latency_us")
SERIES_COLUMNS: Final = (
    "time",
    "arrived_gpu_pct",
    "gpu_alloc_pct",
    "cpu_alloc_pct",
    "mem_alloc_pct",
    "gpu_frag_pct",
)
NODE_UTIL_COLUMNS: Final = ("time", "node", "cpu_pct", "mem_pct", "gpu_pct")


class ResultLike(Protocol):
    """One profile's replay. Read-only properties so frozen dataclasses match."""

    @property
    def profile(self) -> str: ...

    @property
    def protocol(self) -> str:
        """``"time"`` (sim seconds) or ``"arrival"`` (``time`` is the pod index)."""

    @property
    def trace(self) -> str: ...

    @property
    def seed(self) -> int: ...

    @property
    def summary(self) -> Mapping[str, float | int | str]: ...

    @property
    def pods(self) -> pd.DataFrame: ...

    @property
    def series(self) -> pd.DataFrame: ...

    @property
    def node_util(self) -> pd.DataFrame: ...


def require_columns(result: ResultLike, frame: str, columns: Iterable[str]) -> pd.DataFrame:
    """Return ``result.<frame>``, refusing it up front when a column the report reads is absent.

    A missing column would otherwise surface as a bare ``KeyError`` deep inside plotting.
    """
    df: pd.DataFrame = getattr(result, frame)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"result {result.profile!r}: {frame} is missing column(s) "
            f"{', '.join(repr(c) for c in missing)}"
        )
    return df


def display_names(results: Sequence[ResultLike]) -> list[str]:
    """Column and legend names: the profile, with the seed (then position) added when repeated.

    Comparing one profile over several seeds is legitimate, and identical
    legend entries would make such a report unreadable.
    """
    profiles = [r.profile for r in results]
    if len(set(profiles)) == len(profiles):
        return profiles
    seeded = [
        f"{r.profile} (seed {r.seed})" if profiles.count(r.profile) > 1 else r.profile
        for r in results
    ]
    if len(set(seeded)) == len(seeded):
        return seeded
    return [f"{name} #{i + 1}" if seeded.count(name) > 1 else name for i, name in enumerate(seeded)]
