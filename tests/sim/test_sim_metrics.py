"""Allocation, FGD fragmentation against a target workload, and the arrived-% curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _simdata import nodes, pods
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.sim import (
    ClusterMetrics,
    Fragmentation,
    TargetWorkload,
    discrete_by_arrived,
    packed_layout,
)
from ksched.sim.metrics import SERIES_COLUMNS, SeriesRecorder, _numpy_sum, time_weighted_mean
from ksched.traces.workload import GIB


def target(*shapes: tuple[int, int, int, tuple[str, ...], float]) -> TargetWorkload:
    """Shapes (cpu, per-GPU milli, GPUs, models, weight)."""
    return TargetWorkload(
        cpu_milli=np.asarray([s[0] for s in shapes], np.int64),
        gpu_milli=np.asarray([s[1] for s in shapes], np.int64),
        num_gpu=np.asarray([s[2] for s in shapes], np.int64),
        gpu_models=tuple(s[3] for s in shapes),
        weight=np.asarray([s[4] for s in shapes], np.float64),
    )


# A CPU-only pod (20%), a half-GPU sharing pod (50%), a 2-GPU pod (30%).
MIXED = target((1000, 0, 0, (), 0.2), (2000, 500, 1, (), 0.5), (4000, 1000, 2, (), 0.3))


@pytest.mark.parametrize(
    ("left", "cpu_free", "expected"),
    [
        # Idle 2300. CPU-only: all 2300. Sharing and 2-GPU pods fit: only the 300 left
        # on the partly used GPU is lost to them.
        ([1000, 1000, 300, 0], 8000, 0.2 * 2300 + 0.5 * 300 + 0.3 * 300),
        # The 2-GPU pod no longer fits the free CPU: all idle GPU is fragment for it.
        ([1000, 1000, 300, 0], 3000, 0.2 * 2300 + 0.5 * 300 + 0.3 * 2300),
        # No GPU has 500 free and none is whole: nothing fits, everything is fragment.
        ([400, 400, 400, 400], 8000, 1600.0),
        # A full node has nothing idle to lose.
        ([0, 0, 0, 0], 8000, 0.0),
        # Exactly 500 free fits the sharing pod: 500 is not lost to it.
        ([500, 0, 0, 0], 8000, 0.2 * 500 + 0.5 * 0 + 0.3 * 500),
    ],
    ids=["partly-used", "cpu-short", "all-shreds", "full", "exact-fit"],
)
def test_fragment_amount_follows_fgd(left: list[int], cpu_free: int, expected: float) -> None:
    frag = Fragmentation(MIXED, ["T4"])
    got = frag.amount(np.asarray([left], np.int64), np.asarray([cpu_free]), np.asarray([0]))
    assert got[0] == pytest.approx(expected)


def test_a_gpu_model_the_node_lacks_makes_all_idle_gpu_fragment() -> None:
    pinned = target((2000, 500, 1, ("V100M32",), 1.0))
    frag = Fragmentation(pinned, ["T4", "V100M32"])
    left = np.asarray([[1000, 300], [1000, 300]], np.int64)
    got = frag.amount(left, np.asarray([8000, 8000]), np.asarray([0, 1]))
    assert list(got) == [1300.0, 300.0]


def test_packed_layout_fills_whole_gpus_first() -> None:
    left = packed_layout(np.asarray([4, 2, 0]), np.asarray([1700, 0, 0]), 4)
    assert left.tolist() == [[1000, 1000, 300, 0], [1000, 1000, 0, 0], [0, 0, 0, 0]]


@settings(max_examples=200, deadline=None)
@given(
    gpus=st.sampled_from([1, 2, 4, 8]),
    used_share=st.floats(0, 1),
    cpu_free=st.integers(0, 10_000),
    model=st.integers(0, 1),
)
def test_packed_amount_equals_the_vectorised_amount(
    gpus: int, used_share: float, cpu_free: int, model: int
) -> None:
    tw = target(
        (1000, 0, 0, (), 0.1),
        (500, 250, 1, (), 0.2),
        (3000, 250, 1, (), 0.1),
        (2000, 810, 1, ("A",), 0.2),
        (6000, 1000, 1, (), 0.15),
        (9000, 1000, 4, (), 0.1),
        (8000, 1000, 8, ("B",), 0.15),
    )
    frag = Fragmentation(tw, ["A", "B"])
    used = int(used_share * gpus * 1000)
    left = packed_layout(np.asarray([gpus]), np.asarray([used]), 8)
    vector = frag.amount(left, np.asarray([cpu_free]), np.asarray([model]))[0]
    scalar = frag.packed_amount(gpus * 1000 - used, gpus, cpu_free, model)
    assert scalar == pytest.approx(vector)


# Fourteen GPU groups: more than 8, so numpy sums them pairwise.
MANY = target(
    *[(500 * (1 + i % 4), m, 1, (), 1.0 + i) for i, m in enumerate(range(60, 1000, 70))],
    (4000, 1000, 2, ("A",), 2.0),
    (1000, 0, 0, (), 3.0),
)


@pytest.mark.parametrize("width", [1, 2, 8])
def test_scalar_amounts_equal_the_vectorised_ones_bit_for_bit(width: int) -> None:
    rng = np.random.default_rng(5)
    frag = Fragmentation(MANY, ["A", "B"])
    left = rng.choice([0, 60, 130, 250, 400, 500, 770, 1000], size=(200, width)).astype(np.int64)
    cpu = rng.integers(-500, 10_000, size=200)
    model = rng.integers(0, 2, size=200).astype(np.intp)
    vector = frag.amount(left, cpu, model).tolist()
    rows_in = zip(left.tolist(), cpu.tolist(), model.tolist(), strict=True)
    assert [frag.amount_row(r, c, m) for r, c, m in rows_in] == vector
    rows, shares, after = frag.amount_after_share(left, cpu, model, 130)
    for r, v, a in zip(rows.tolist(), shares.tolist(), after.tolist(), strict=True):
        per_gpu = frag.amount_after_share_row(left[r].tolist(), int(cpu[r]), int(model[r]), 130)
        assert per_gpu[left[r].tolist().index(v)] == a


@pytest.mark.parametrize("n", [1, 7, 8, 9, 17, 128, 129, 300])
def test_numpy_order_sum_equals_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    terms = (rng.random(n) * rng.integers(1, 10**6, n)).tolist()  # rounding at every add
    assert _numpy_sum(terms) == np.add.reduce(np.asarray(terms))


def test_target_workload_keeps_the_popular_shapes_covering_the_share() -> None:
    # Shapes by count: a x5, b x3, c x1, d x1.
    table = pods(
        [1000] * 5 + [2000] * 3 + [3000, 4000],
        num_gpu=[1] * 5 + [0] * 3 + [1, 2],
        gpu_milli=[500] * 5 + [0] * 3 + [1000, 1000],
    )
    everything = TargetWorkload.from_pods(table, 0.95)
    assert len(everything) == 4
    assert everything.weight.tolist() == [0.5, 0.3, 0.1, 0.1]
    top = TargetWorkload.from_pods(table, 0.8)  # a and b reach exactly 8 of 10
    assert top.cpu_milli.tolist() == [1000, 2000]
    assert top.weight.tolist() == [5 / 8, 3 / 8]
    assert TargetWorkload.from_pods(table, 0.5).cpu_milli.tolist() == [1000]


def test_cluster_metrics_track_allocation_and_fragmentation_incrementally() -> None:
    table = nodes([8000, 8000, 4000], gpus=[4, 2, 0], models=["T4", "T4", ""], memory_gib=16)
    m = ClusterMetrics(table, ["a", "b", "c"], MIXED)
    empty = m.frag_total
    assert empty == pytest.approx(m.fragment_now())
    assert empty == pytest.approx(0.2 * 6000)  # only the CPU-only pods lose the idle GPUs
    m.place(0, 4000, 8 * GIB, 1700)
    m.place(1, 2000, 2 * GIB, 500)
    m.place(2, 1000, 1 * GIB, 0)
    assert m.frag_total == pytest.approx(m.fragment_now())
    assert m.gpu_alloc_pct == pytest.approx(100 * 2200 / 6000)
    assert m.cpu_alloc_pct == pytest.approx(100 * 7000 / 20_000)
    assert m.mem_alloc_pct == pytest.approx(100 * 11 / 48)
    assert m.gpu_frag_pct == pytest.approx(100 * m.frag_total / 6000)
    with pytest.raises(RuntimeError, match="still holds pods"):
        m.remove_node(1)
    m.release(1, 2000, 2 * GIB, 500)
    m.remove_node(1)
    assert m.cap_total == [12_000, 32 * GIB, 4000]
    assert m.frag_total == pytest.approx(m.fragment_now())
    m.add_node(1)
    assert m.cap_total == [20_000, 48 * GIB, 6000]
    assert m.frag_total == pytest.approx(m.fragment_now())


@pytest.mark.parametrize("capacity", [1, 3, 1024])
@pytest.mark.parametrize("rows", [0, 1, 4, 5, 11])
def test_series_recorder_frames_every_row_across_blocks(
    monkeypatch: pytest.MonkeyPatch, capacity: int, rows: int
) -> None:
    monkeypatch.setattr(SeriesRecorder, "BLOCK_ROWS", 4)
    table = nodes([8000, 4000], gpus=[2, 0], models=["T4", ""], memory_gib=16)
    m = ClusterMetrics(table, ["a", "b"], MIXED)
    rec = SeriesRecorder(capacity)
    expected = []
    for i in range(rows):
        m.place(i % 2, 100, GIB // 8, 0)
        rec.record(float(i), m, 10 * i, i, rows - i)
        expected.append((float(i), m.cpu_alloc_pct, i, rows - i))
    df = rec.frame()
    assert list(df.columns) == list(SERIES_COLUMNS) and len(df) == rows
    got = df[["time", "cpu_alloc_pct", "pods_running", "pods_pending"]].itertuples(index=False)
    assert [tuple(r) for r in got] == expected
    assert df["pods_running"].dtype == np.int64 and df["time"].dtype == np.float64
    assert len(rec.frame()) == 0  # framing empties the recorder
    rec.record(99.0, m, 0, 1, 2)
    assert rec.frame()["time"].tolist() == [99.0]


def test_discrete_curve_is_the_mean_of_records_rounding_to_each_percent() -> None:
    # NOTES item 6: the value at X% is the mean of every record whose arrived % rounds to X.
    series = pd.DataFrame(
        {
            "arrived_gpu_pct": [0.4, 0.6, 1.4, 1.5, 2.5, 2.6],
            "gpu_alloc_pct": [0.0, 1.0, 2.0, 4.0, 6.0, 9.0],
        }
    )
    curve = discrete_by_arrived(series, ["gpu_alloc_pct"])
    # Half to even: 1.5 -> 2 and 2.5 -> 2.
    assert curve["gpu_alloc_pct"].to_dict() == {0: 0.0, 1: 1.5, 2: 5.0, 3: 9.0}


def test_time_weighted_mean_holds_each_record_until_the_next() -> None:
    series = pd.DataFrame({"time": [0.0, 2.0, 2.0, 5.0], "gpu_alloc_pct": [10.0, 20.0, 30.0, 40.0]})
    # [1, 2) at 10, [2, 5) at 30 (the later of two records at t=2), [5, 6] at 40.
    assert time_weighted_mean(series, "gpu_alloc_pct", 1.0, 6.0) == pytest.approx(28.0)
    assert np.isnan(time_weighted_mean(series, "gpu_alloc_pct", 3.0, 3.0))
