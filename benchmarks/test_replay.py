"""Replay throughput through the full framework, default profile.

- openb, FGD arrival-only protocol, tune 1.3, one seed (42): the paper's
  main workload, 10,825 pods after tuning on 1,213 GPU nodes; target 1 s.
  Skipped when the trace copy is absent (``KSCHED_TRACES_DIR``).
- A time-based replay of a synthetic 50,000-pod workload on 1,000 nodes
  (no target): its eight-GPU pods wait, and every pod departure retries
  them all, as in the million-pod run, in under a minute.
- A time-based replay of a synthetic 1,000,000-pod workload on 10,000
  nodes; target 10 min and 4 GiB peak. Runs only with KSCHED_BENCH_LARGE=1.
  Its pods repeat a few hundred request templates, as a trace's pods do
  (``ksched.traces.synthetic``); with ``templates=False`` every pod has
  requests of its own, and the equivalence cache never sees a class twice.

pods/s, the scheduler's share of the time and the peak resident memory go
in ``extra_info``; the replay's own wall time includes building the pods,
the metrics and the result frames, not loading the trace.
"""

from __future__ import annotations

import os
import resource
from typing import Any

import pytest

from ksched.sim import ArrivalReplay, ReplayResult, TimeReplay
from ksched.traces import load_openb, synthetic, traces_root

LARGE = os.environ.get("KSCHED_BENCH_LARGE") == "1"


def _peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _report(benchmark: Any, result: ReplayResult) -> None:
    seconds = benchmark.stats.stats.min
    s = result.summary
    benchmark.extra_info.update(
        pods=s["pods_total"],
        pods_per_second=round(float(s["pods_total"]) / seconds, 1),
        scheduler_attempts_per_second=round(float(s["throughput_pods_per_s"]), 1),
        gpu_alloc_pct_final=round(float(s["gpu_alloc_pct_final"]), 2),
        scheduling_attempts=int(result.pods["attempts"].sum()),
        peak_rss_gib=round(_peak_rss_gib(), 2),
        cores=os.cpu_count(),
    )


def test_openb_arrival_default_profile(benchmark: Any) -> None:
    folder = traces_root() / "alibaba-gpu-2023"
    if not folder.is_dir():
        pytest.skip(f"trace folder {folder} not found (set KSCHED_TRACES_DIR to the traces)")
    workload = load_openb(folder)
    result = benchmark.pedantic(
        lambda: ArrivalReplay(workload, seed=42, tune=1.3).run(), rounds=1, iterations=1
    )
    assert result.summary["pods_total"] == 10_825
    _report(benchmark, result)


def test_time_based_fifty_thousand_pods(benchmark: Any) -> None:
    workload = synthetic(n_nodes=1_000, n_pods=50_000, seed=0)
    result = benchmark.pedantic(lambda: TimeReplay(workload, seed=0).run(), rounds=1, iterations=1)
    assert result.summary["pods_placed"] == 50_000
    _report(benchmark, result)


@pytest.mark.skipif(not LARGE, reason="set KSCHED_BENCH_LARGE=1 to run the 1M-pod replay")
def test_time_based_one_million_pods(benchmark: Any) -> None:
    workload = synthetic(n_nodes=10_000, n_pods=1_000_000, seed=0)
    result = benchmark.pedantic(lambda: TimeReplay(workload, seed=0).run(), rounds=1, iterations=1)
    assert result.summary["pods_arrived"] == 1_000_000
    _report(benchmark, result)
