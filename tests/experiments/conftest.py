"""A tiny openb-layout trace and one small grid over it, shared by the experiment tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from _exptrace import VARIANTS, write_tiny_trace

from ksched.experiments import InProcess, plan_grid, resolve_policy, run_grid

POLICIES = ("default", "most-allocated")


@pytest.fixture(scope="session")
def tiny_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_trace(tmp_path_factory.mktemp("trace"))


@pytest.fixture(scope="session")
def tiny_results(tiny_trace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both built-in profiles on every tiny variant (seed 42), and the default workload with
    both tie-break rules (seeds 42, 43)."""
    out = tmp_path_factory.mktemp("results")
    policies = [resolve_policy(p) for p in POLICIES]
    backend = InProcess(str(tiny_trace))
    cells = plan_grid(POLICIES, list(VARIANTS), [42])
    cells += plan_grid(POLICIES, ["default"], [43], ["smallest-name", "random"])
    cells += plan_grid(POLICIES, ["default"], [42], ["random"])
    run_grid(cells, policies, out, backend)
    return out
