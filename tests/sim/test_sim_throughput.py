"""scheduler_perf's SchedulingThroughput, worked by hand on small binding timelines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ksched.sim.throughput import scheduling_throughput


def bound_at(*groups: tuple[float, int]) -> np.ndarray:
    """``count`` pods bound at time ``t`` for each (t, count)."""
    return np.asarray([t for t, n in groups for _ in range(n)], dtype=np.float64)


def test_the_first_sample_after_a_binding_is_only_the_baseline() -> None:
    # Ticks at 1, 2, 3 and 4 s: 100 bound by the first tick (baseline), then 300, 200, 50.
    times = bound_at((0.5, 100), (1.5, 300), (2.5, 200), (3.5, 50), (4.0, 1))
    out = scheduling_throughput(times, start=0.0)
    assert out["Average"] == pytest.approx((300 + 200 + 51) / 3)
    assert (out["Perc50"], out["Perc90"], out["Perc99"]) == (200, 300, 300)


def test_intervals_without_progress_share_the_next_rate() -> None:
    # Nothing new at the 3, 4 and 5 s ticks: the 6 s tick records 8 pods over 4 s, four times.
    times = bound_at((0.2, 10), (1.5, 100), (5.5, 8), (6.0, 1))
    out = scheduling_throughput(times, start=0.0)
    samples = [100.0] + [(8 + 1) / 4] * 4
    assert out["Average"] == pytest.approx(sum(samples) / len(samples))
    assert out["Perc50"] == pytest.approx(9 / 4)
    assert out["Perc95"] == 100.0


def test_the_partial_interval_before_the_last_binding_is_not_sampled() -> None:
    # The collector stops at the last binding (9.6 s): the pods bound after the 4 s
    # tick, and the empty ticks before them, are never recorded, as upstream.
    times = bound_at((0.9, 300), (1.9, 900), (2.9, 900), (3.9, 885), (9.6, 15))
    out = scheduling_throughput(times, start=0.0)
    assert out["Average"] == pytest.approx((900 + 900 + 885) / 3)


def test_no_figure_without_two_samples_or_bindings() -> None:
    assert scheduling_throughput(bound_at((0.5, 10), (1.2, 5)), start=0.0) == {}
    assert scheduling_throughput(np.asarray([math.nan]), start=0.0) == {}
    assert scheduling_throughput(np.zeros(0), start=0.0) == {}
