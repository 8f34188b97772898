"""Results read back from disk give the report exactly what the originals did.

``ReplayResult.to_dir(path)`` writes ``path/<profile>/``; ``from_dir`` reads
one such directory and ``read_results`` all of them. Skipped while
``ksched.sim.result`` is absent.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _reportdata import FakeResult, make_result

from ksched.report import format_table, render_html, report_plots
from ksched.report.result import NODE_UTIL_COLUMNS, PODS_COLUMNS, SERIES_COLUMNS

sim = pytest.importorskip("ksched.sim.result")


def _replay_result(fake: FakeResult) -> Any:
    fields = {f.name: getattr(fake, f.name) for f in dataclasses.fields(fake)}
    return sim.ReplayResult(**fields, meta={"shuffle": True, "coverage": 0.95})


@pytest.mark.parametrize("protocol", ["arrival", "time"])
def test_read_back_results_give_the_same_report(protocol: str, tmp_path: Path) -> None:
    originals = [
        _replay_result(make_result(name, protocol, seed=i, quality=i / 10))
        for i, name in enumerate(["default-scheduler", "fgd"])
    ]
    read = [sim.ReplayResult.from_dir(r.to_dir(tmp_path)) for r in originals]
    assert [r.profile for r in sim.read_results(tmp_path)] == [r.profile for r in originals]

    for before, after in zip(originals, read, strict=True):
        assert (after.profile, after.protocol, after.trace, after.seed) == (
            before.profile,
            before.protocol,
            before.trace,
            before.seed,
        )
        assert dict(after.summary) == dict(before.summary)
        for frame, columns in [
            ("pods", PODS_COLUMNS),
            ("series", SERIES_COLUMNS),
            ("node_util", NODE_UTIL_COLUMNS),
        ]:
            pd.testing.assert_frame_equal(
                getattr(after, frame)[list(columns)].reset_index(drop=True),
                getattr(before, frame)[list(columns)].reset_index(drop=True),
                check_dtype=False,
                obj=f"{before.profile}.{frame}",
            )
    assert format_table(read) == format_table(originals)
    assert render_html(read, []) == render_html(originals, [])
    assert report_plots(read) == report_plots(originals)
