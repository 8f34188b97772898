"""The FGD paper's grid through ``ksched experiment grid``'s code path, on local processes.

- Reduced (always): the six policies of ``paper/profiles`` on openb default,
  seed 42, two local processes: six cells. ``extra_info`` projects the full
  grid's time from it (x 1020 / 6; the other workloads have about as many
  pods after tuning).
- Full (KSCHED_BENCH_LARGE=1): 6 policies x 17 workloads x 10 seeds = 1,020
  runs; target under 20 minutes on 2 cores.

Skipped when the openb trace copy or the policy profiles are absent. Records
go to a temporary directory, so nothing is resumed from an earlier run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from ksched.experiments import (
    PAPER_POLICIES,
    PAPER_SEEDS,
    PAPER_WORKLOADS,
    GridReport,
    LocalProcesses,
    plan_grid,
    resolve_policy,
    run_grid,
)
from ksched.traces import traces_root

LARGE = os.environ.get("KSCHED_BENCH_LARGE") == "1"
PROFILES = Path(__file__).resolve().parents[1] / "paper" / "profiles"
WORKERS = 2


def _inputs() -> str:
    folder = traces_root() / "alibaba-gpu-2023"
    if not folder.is_dir():
        pytest.skip(f"trace folder {folder} not found (set KSCHED_TRACES_DIR to the traces)")
    missing = [p for p in PAPER_POLICIES if not (PROFILES / f"{p}.yaml").is_file()]
    if missing:
        pytest.skip(f"no profiles for {', '.join(missing)} in {PROFILES}")
    return str(folder)


def _sweep(
    benchmark: Any, tmp_path: Path, workloads: tuple[str, ...], seeds: tuple[int, ...]
) -> GridReport:
    trace_dir = _inputs()
    policies = [resolve_policy(p, [PROFILES]) for p in PAPER_POLICIES]
    cells = plan_grid(PAPER_POLICIES, workloads, seeds)
    start = time.perf_counter()
    report: GridReport = benchmark.pedantic(
        lambda: run_grid(cells, policies, tmp_path, LocalProcesses(WORKERS, trace_dir)),
        rounds=1,
        iterations=1,
    )
    wall = time.perf_counter() - start
    assert len(report.ran) == len(cells) and not report.failed
    per_policy = {
        p: round(sum(r.timing["wall_seconds"] for r in report.ran if r.cell.policy == p), 2)
        for p in PAPER_POLICIES
    }
    benchmark.extra_info.update(
        runs=len(cells),
        workers=WORKERS,
        cores=os.cpu_count(),
        wall_seconds=round(wall, 1),
        run_seconds_by_policy=per_policy,
        projected_full_grid_minutes=round(wall * 1020 / len(cells) / 60, 1),
        alloc_at_130={r.cell.label(): round(r.value_at("alloc"), 2) for r in report.ran[:12]},
    )
    return report


def test_reduced_grid_default_workload_one_seed(benchmark: Any, tmp_path: Path) -> None:
    _sweep(benchmark, tmp_path, ("default",), (42,))


@pytest.mark.skipif(not LARGE, reason="the full 1,020-run grid runs only with KSCHED_BENCH_LARGE=1")
def test_full_paper_grid(benchmark: Any, tmp_path: Path) -> None:
    _sweep(benchmark, tmp_path, PAPER_WORKLOADS, PAPER_SEEDS)
