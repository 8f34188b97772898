"""Trace loading: openb default (the paper's workload) and a 1M-pod synthetic trace."""

from __future__ import annotations

import os
from typing import Any

import pytest

from ksched.traces import load_openb, synthetic, traces_root


def test_load_openb_default(benchmark: Any) -> None:
    folder = traces_root() / "alibaba-gpu-2023"
    if not folder.is_dir():
        pytest.skip(f"trace folder {folder} not found (set KSCHED_TRACES_DIR to the traces)")
    workload = benchmark(lambda: load_openb(folder))
    benchmark.extra_info.update(pods=len(workload.pods), cores=os.cpu_count())


def test_synthetic_one_million_pods(benchmark: Any) -> None:
    workload = benchmark.pedantic(
        lambda: synthetic(n_nodes=10_000, n_pods=1_000_000, seed=0), rounds=1, iterations=1
    )
    benchmark.extra_info.update(pods=len(workload.pods), cores=os.cpu_count())
