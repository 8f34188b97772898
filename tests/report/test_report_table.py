"""The terminal table: aligned columns, every profile, best value starred, gaps shown as '-'."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from _reportdata import FakeResult, MakeResult, make_result

from ksched.report import format_table
from ksched.report.metrics import metric_rows


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("* ")]


@pytest.mark.parametrize(
    "profiles",
    [
        ["default-scheduler"],
        ["a", "fgd"],
        ["default-scheduler", "x", "a-really-long-profile-name-that-is-wider-than-any-number"],
        ["ünïcødé", "<script>"],
    ],
    ids=["one", "short-names", "long-name", "unicode"],
)
def test_columns_align_and_show_every_profile(profiles: list[str]) -> None:
    results = [make_result(p, "time", seed=i, quality=i / 10) for i, p in enumerate(profiles)]
    text = format_table(results)
    lines = _table_lines(text)
    assert len({len(line) for line in lines}) == 1, text
    header = lines[0]
    for name in profiles:
        assert name in header
    # Right-aligned columns: each value ends where its header (and rule) ends.
    rule = lines[1]
    ends = [
        i + 1 for i, c in enumerate(rule) if c == "-" and (i + 1 == len(rule) or rule[i + 1] == " ")
    ]
    for line in lines:
        for end in ends[1:]:
            assert line[end - 2] != " ", (line, end)


def test_best_value_is_starred_and_noted(result: MakeResult) -> None:
    a, b = result("a"), result("b")
    a = replace(a, summary=a.summary | {"pods_failed": 4, "sched_latency_p99_us": 900.0})
    b = replace(b, summary=b.summary | {"pods_failed": 7, "sched_latency_p99_us": 1200.5})
    lines = format_table([a, b]).splitlines()
    failed = next(line for line in lines if line.startswith("pods failed"))
    latency = next(line for line in lines if line.startswith("scheduling latency p99"))
    assert failed.split()[-2:] == ["4*", "7"]
    assert latency.split()[-2:] == ["900.0*", "1,200.5"]
    assert lines[-1] == "* best value in the row"


def test_missing_and_nan_metrics_show_a_dash_and_never_win(result: MakeResult) -> None:
    timed, arrival = result("timed", "time"), result("arrival-only", "arrival")
    timed = replace(timed, summary=timed.summary | {"sched_latency_p50_us": math.nan})
    lines = format_table([timed, arrival]).splitlines()
    queue = next(line for line in lines if line.startswith("queueing delay p50"))
    latency = next(line for line in lines if line.startswith("scheduling latency p50"))
    assert queue.split()[-1] == "-"
    assert latency.split()[-2] == "-" and not latency.rstrip().endswith("*")


@pytest.mark.parametrize(
    ("key", "values", "best"),
    [
        ("pods_placed", [10, 12, 12], {1, 2}),
        ("pods_failed", [3, 1, 2], {1}),
        ("gpu_frag_pct_final", [5.0, 5.0, 5.0], set()),
        ("pods_total", [10, 20, 30], set()),
        ("throughput_pods_per_s", [math.nan, 100.0, 50.0], {1}),
        ("makespan_s", [math.nan, math.nan, 50.0], set()),
        ("gpu_frag_pct_final", [11.031, 11.029, 12.0], {0, 1}),
    ],
    ids=[
        "higher-tie",
        "lower",
        "all-equal",
        "neutral",
        "nan-skipped",
        "single-value",
        "tie-as-shown",
    ],
)
def test_best_cell(key: str, values: list[float], best: set[int]) -> None:
    results: list[FakeResult] = []
    for i, value in enumerate(values):
        base = make_result(f"p{i}", "time")
        results.append(replace(base, summary=base.summary | {key: value}))
    (row,) = [r for r in metric_rows(results) if r.key == key]
    assert row.best == best


def test_text_summary_entries_are_parameters_and_unknown_numbers_are_metrics(
    result: MakeResult,
) -> None:
    a = result("a")
    a = replace(a, summary=a.summary | {"config": "fgd.yaml", "preemptions": 3, "bind_ms": 1.5})
    text = format_table([a, result("b")])
    assert "fgd.yaml" in text
    preemptions = next(line for line in text.splitlines() if line.startswith("preemptions"))
    bind = next(line for line in text.splitlines() if line.startswith("bind_ms"))
    assert preemptions.split()[1:] == ["3", "-"]
    assert bind.split()[1:] == ["1.50", "-"]


def test_refuses_no_results() -> None:
    with pytest.raises(ValueError, match="format_table needs at least one result"):
        format_table([])
