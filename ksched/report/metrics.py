"""The summary comparison shared by the HTML and terminal tables: rows, formatting, best cell.

One definition of each metric's label, unit and direction keeps the two
tables in agreement about which profile "won" a row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from ksched.report.result import ResultLike

__all__ = ["METRICS", "Better", "Metric", "Row", "meta_rows", "metric_rows", "parameter_rows"]

MISSING: Final = "-"


class Better(Enum):
    HIGHER = "higher"
    LOWER = "lower"
    NEITHER = "neither"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    better: Better
    decimals: int


METRICS: Final[tuple[Metric, ...]] = (
    Metric("pods_total", "pods total", Better.NEITHER, 0),
    Metric("pods_arrived", "pods arrived", Better.NEITHER, 0),
    Metric("pods_placed", "pods placed", Better.HIGHER, 0),
    Metric("pods_failed", "pods failed", Better.LOWER, 0),
    Metric("pods_pending_at_end", "pods pending at end", Better.LOWER, 0),
    Metric("pods_evicted", "pods evicted", Better.LOWER, 0),
    Metric("arrived_gpu_pct_final", "GPU arrived, final (% of GPU)", Better.NEITHER, 2),
    Metric("gpu_alloc_pct_final", "GPU allocated, final (%)", Better.HIGHER, 2),
    Metric("cpu_alloc_pct_final", "CPU allocated, final (%)", Better.HIGHER, 2),
    Metric("mem_alloc_pct_final", "memory allocated, final (%)", Better.HIGHER, 2),
    Metric("gpu_frag_pct_final", "GPU fragmentation, final (% of GPU)", Better.LOWER, 2),
    Metric("gpu_left_idle_pct", "GPU left: idle cards (% of GPU)", Better.NEITHER, 2),
    Metric("gpu_left_idle_stranded_pct", "GPU left: idle, CPU used up (% of GPU)", Better.LOWER, 2),
    Metric("gpu_left_share_pct", "GPU left: rest of shared cards (% of GPU)", Better.LOWER, 2),
    Metric("gpu_failed_whole_pct", "GPU of failed whole-GPU pods (% of GPU)", Better.NEITHER, 2),
    Metric("gpu_failed_share_pct", "GPU of failed share pods (% of GPU)", Better.NEITHER, 2),
    Metric("sched_latency_p50_us", "scheduling latency p50 (µs)", Better.LOWER, 1),
    Metric("sched_latency_p99_us", "scheduling latency p99 (µs)", Better.LOWER, 1),
    Metric("throughput_pods_per_s", "throughput (pods/s wall)", Better.HIGHER, 1),
    Metric("wall_seconds", "wall time (s)", Better.LOWER, 2),
    Metric("queue_delay_p50_s", "queueing delay p50 (s)", Better.LOWER, 2),
    Metric("queue_delay_p99_s", "queueing delay p99 (s)", Better.LOWER, 2),
    Metric("jct_mean_s", "JCT mean (s)", Better.LOWER, 2),
    Metric("jct_p50_s", "JCT p50 (s)", Better.LOWER, 2),
    Metric("makespan_s", "makespan (s)", Better.LOWER, 2),
    Metric("end_time_s", "simulated end time (s)", Better.NEITHER, 2),
)
_KNOWN: Final = {m.key for m in METRICS}


@dataclass(frozen=True)
class Row:
    """One table row; ``best`` holds the column indices to highlight (empty on a tie of all)."""

    key: str
    label: str
    cells: tuple[str, ...]
    best: frozenset[int] = frozenset()
    better: Better = Better.NEITHER


def parameter_rows(results: Sequence[ResultLike]) -> list[Row]:
    """How each replay was run: protocol, trace, seed and every text-valued summary entry."""
    rows = [
        Row("protocol", "protocol", tuple(r.protocol for r in results)),
        Row("trace", "trace", tuple(r.trace for r in results)),
        Row("seed", "seed", tuple(str(r.seed) for r in results)),
    ]
    text_keys = sorted({k for r in results for k, v in r.summary.items() if not _is_number(v)})
    rows += [Row(k, k, tuple(_text(r.summary.get(k)) for r in results)) for k in text_keys]
    return rows


def meta_rows(results: Sequence[ResultLike]) -> list[Row]:
    """Entries of a result's optional ``meta`` mapping (replay settings), by name.

    Read with ``getattr``: ``meta`` is not part of the documented result format,
    so results without it (fixtures, older directories) are still accepted.
    """
    metas: list[Mapping[str, object]] = []
    for r in results:
        meta = getattr(r, "meta", None)
        metas.append(meta if isinstance(meta, Mapping) else {})
    keys = sorted({str(k) for m in metas for k in m})
    return [Row(k, k, tuple(_text(m.get(k, None)) for m in metas)) for k in keys]


def metric_rows(results: Sequence[ResultLike]) -> list[Row]:
    """Known metrics in a fixed order, then any other numeric summary entries by name.

    Rows no result reports are left out, so an arrival-only comparison shows no
    empty queueing-delay rows.
    """
    extra = sorted(
        {k for r in results for k, v in r.summary.items() if _is_number(v) and k not in _KNOWN}
    )
    metrics = [*METRICS, *(_unknown(k, results) for k in extra)]
    return [_metric_row(m, results) for m in metrics if any(m.key in r.summary for r in results)]


def _unknown(key: str, results: Sequence[ResultLike]) -> Metric:
    """A metric this module does not know: shown as reported, never highlighted."""
    counts = all(isinstance(r.summary.get(key, 0), int) for r in results)
    return Metric(key, key, Better.NEITHER, 0 if counts else 2)


def _metric_row(metric: Metric, results: Sequence[ResultLike]) -> Row:
    values = [_number(r.summary.get(metric.key)) for r in results]
    cells = tuple(_format(v, metric.decimals) for v in values)
    # Compared as shown: two cells reading "11.03" must not have one marked best.
    shown = [None if v is None else round(v, metric.decimals) for v in values]
    return Row(metric.key, metric.label, cells, _best(shown, metric.better), metric.better)


def _best(values: Sequence[float | None], better: Better) -> frozenset[int]:
    present = {i: v for i, v in enumerate(values) if v is not None}
    if better is Better.NEITHER or len(present) < 2 or len(set(present.values())) == 1:
        return frozenset()
    target = max(present.values()) if better is Better.HIGHER else min(present.values())
    return frozenset(i for i, v in present.items() if v == target)


def _text(value: object) -> str:
    return MISSING if value is None else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    """The value as a float, or None when absent or NaN (NaN never wins a row)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _format(value: float | None, decimals: int) -> str:
    if value is None:
        return MISSING
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:,.{decimals}f}"
