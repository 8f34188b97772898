"""Batch (solver) policies in the grid: the ``BatchPlacement`` document, a cell, the paper."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched.config import ConfigError
from ksched.config.batch_placement import split_policy
from ksched.experiments import Cell, CellRecord, Policy, resolve_policy, run_cell
from ksched.experiments.paper import build_paper
from ksched.sim.leftovers import LEFTOVER_KEYS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "paper" / "paper.md"
PNG = b"\x89PNG\r\n\x1a\n"
FGD_PROFILE = (ROOT / "paper" / "profiles" / "fgd.yaml").read_text()
BATCH = """---
apiVersion: ksched.io/v1alpha1
kind: BatchPlacement
window: 20
solver: cpsat
timeLimitSeconds: 0.05
topK: 4
"""


def _policy(name: str, batch: str = BATCH) -> Policy:
    return Policy(name, FGD_PROFILE.replace("schedulerName: fgd", f"schedulerName: {name}") + batch)


def test_the_paper_batch_policy_parses() -> None:
    policy = resolve_policy(str(ROOT / "paper" / "profiles" / "cpsat-fgd.yaml"))
    batch = policy.batch()
    assert batch is not None and batch.solver == "cpsat" and batch.window == 200
    assert policy.config().profiles[0].scheduler_name == "cpsat-fgd"


def test_a_profile_without_the_document_is_one_pod_at_a_time() -> None:
    assert _policy("fgd", "").batch() is None


def test_the_configuration_keeps_its_line_numbers() -> None:
    docs = split_policy("a: 1\n---\n# note\nb: 2\n")
    assert docs.config == "a: 1\n"
    assert docs.batch is not None and docs.batch.splitlines()[3] == "b: 2"  # line 4 of the file


@pytest.mark.parametrize(
    ("good", "bad", "line", "message"),
    [
        ("topK: 4", "topK: 0", 7, "topK: Input should be greater than or equal to 1"),
        ("solver: cpsat", "solver: gurobi", 5, "solver: Input should be 'cpsat' or 'greedy'"),
        ("window: 20", "windows: 20", 4, "windows: Extra inputs are not permitted"),
    ],
)
def test_a_bad_document_names_the_line_and_field(
    good: str, bad: str, line: int, message: str
) -> None:
    """``line`` counts from the document's ``---``, which follows the configuration's lines."""
    policy = _policy("p", BATCH.replace(good, bad))
    with pytest.raises(ConfigError) as err:
        policy.batch()
    assert f"<string>:{FGD_PROFILE.count(chr(10)) + line}: {message}" in str(err.value)


def test_bad_objective_weights_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"objective\.frag: Input should be greater than"):
        _policy("p", BATCH + "objective:\n  frag: -1\n").batch()


def test_a_third_document_is_refused() -> None:
    with pytest.raises(ValueError, match="at most two YAML documents"):
        _policy("p", BATCH + "---\nkind: Other\n").batch()


@pytest.fixture(scope="module")
def batch_record(tiny_trace: Path) -> CellRecord:
    return run_cell(Cell("default", "batch", 42), _policy("batch"), trace_dir=str(tiny_trace))


def test_a_batch_cell_places_windows_and_records_the_bound(batch_record: CellRecord) -> None:
    meta = batch_record.meta
    assert meta["batch_solver"] == "cpsat" and meta["batch_window"] == 20
    assert sum(meta["batch_windows_by_status"].values()) > 0
    # Every placement is within the offline bound, which is at most full allocation.
    assert batch_record.value_at("alloc") <= meta["bound_ilp_pct"] + 1e-6
    assert meta["bound_ilp_pct"] <= meta["bound_lp_pct"] + 1e-6 <= 100.0 + 1e-6
    # A feasible offline placement lies below the bound.
    assert 0 < meta["offline_largest_first_pct"] <= meta["bound_ilp_pct"] + 1e-6
    # Its unallocated GPU is split into parts that add up to the rest of the cluster.
    left = [meta[f"offline_largest_first_{k}"] for k in LEFTOVER_KEYS if k.startswith("gpu_left_")]
    assert sum(left) + meta["offline_largest_first_pct"] == pytest.approx(100.0)


def test_the_paper_keeps_batch_policies_in_their_own_section(
    batch_record: CellRecord, tiny_results: Path, tmp_path: Path
) -> None:
    from ksched.experiments import write_record

    results = tmp_path / "results"
    results.mkdir()
    (results / "cells").symlink_to(tiny_results / "cells")
    extra = tmp_path / "extra"
    write_record(extra, batch_record)
    built = build_paper(_merged(results, extra), tmp_path / "out", TEMPLATE)
    assert (tmp_path / "out" / "figures" / "solvers.png").read_bytes()[:8] == PNG
    text = built.markdown.read_text()
    assert "| batch | 20 | 0.05 |" in text
    # Where the GPU went: the batch runs and their offline placements, one seed each.
    assert "| batch | 1 | " in text
    assert "| offline, largest first (FGD's ranking) | 1 | " in text
    published = (tmp_path / "out" / "tables" / "published.csv").read_text()
    assert "batch" not in published  # the reproduction's tables compare one-pod policies
    assert "solvers.csv" in {p.name for p in built.tables}


def _merged(results: Path, extra: Path) -> Path:
    """``results`` (a symlinked grid) plus the records under ``extra``, in one folder."""
    merged = results.parent / "merged"
    (merged / "cells").mkdir(parents=True)
    for source in ((results / "cells").resolve(), extra / "cells"):
        for path in source.rglob("*.json"):
            target = merged / "cells" / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return merged
