"""ReplayResult on disk: summary.json and three Parquet files per profile, read back equal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from _simdata import nodes, pods, workload

from ksched.sim import ArrivalReplay, ReplayResult, TimeReplay, read_results


def test_results_round_trip_through_a_directory(tmp_path: Path) -> None:
    wl = workload(nodes([4000]), pods([4000, 4000], created=[0, 1], duration=[10, 5]))
    results = [
        TimeReplay(wl, label="time/a").run(),
        ArrivalReplay(wl, tune=0, label="arrival").run(),
    ]
    for r in results:
        out = r.to_dir(tmp_path)
        assert sorted(p.name for p in out.iterdir()) == [
            "node_util.parquet",
            "pods.parquet",
            "series.parquet",
            "summary.json",
        ]
    assert (tmp_path / "time-a").is_dir()  # a path separator in a profile name is replaced
    head = json.loads((tmp_path / "arrival" / "summary.json").read_text())
    assert (head["profile"], head["protocol"], head["summary"]["pods_total"]) == (
        "arrival",
        "arrival",
        2,
    )
    back = {r.profile: r for r in read_results(tmp_path)}
    for r in results:
        got = back[r.profile]
        assert (got.protocol, got.trace, got.seed) == (r.protocol, r.trace, r.seed)
        for key, value in r.summary.items():
            assert got.summary[key] == value or (math.isnan(value) and math.isnan(got.summary[key]))  # type: ignore[arg-type]
        for frame in ("pods", "series", "node_util"):
            pd.testing.assert_frame_equal(getattr(got, frame), getattr(r, frame), check_dtype=False)


def test_nan_is_written_as_null_and_read_back_as_nan(tmp_path: Path) -> None:
    empty = pd.DataFrame()
    result = ReplayResult("p", "time", "t", 0, {"jct_mean_s": math.nan}, empty, empty, empty)
    out = result.to_dir(tmp_path)
    assert json.loads((out / "summary.json").read_text())["summary"] == {"jct_mean_s": None}
    assert math.isnan(ReplayResult.from_dir(out).summary["jct_mean_s"])  # type: ignore[arg-type]
