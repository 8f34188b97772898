"""The sweep: planning, resumability, atomic records, failures, local processes equal in-process."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ksched.experiments import (
    PAPER_POLICIES,
    PAPER_SEEDS,
    PAPER_WORKLOADS,
    Cell,
    GridError,
    InProcess,
    LocalProcesses,
    Policy,
    atomic_write_text,
    iter_records,
    plan_grid,
    resolve_policy,
    run_grid,
)
from ksched.experiments.grid import Outcome

POLICIES = [resolve_policy("default"), resolve_policy("most-allocated")]


@dataclass
class Counting:
    """A real in-process backend that remembers which cells it was asked to run."""

    trace_dir: str
    seen: list[Cell] = field(default_factory=list)

    def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]:
        self.seen.extend(cell for cell, _ in tasks)
        yield from InProcess(self.trace_dir).run(tasks)


def test_the_paper_grid_has_1020_cells() -> None:
    cells = plan_grid(PAPER_POLICIES, PAPER_WORKLOADS, PAPER_SEEDS)
    assert len(cells) == 6 * 17 * 10 == 1020
    assert len({c.relpath() for c in cells}) == 1020
    # Workload-major: a worker's cached workload serves consecutive cells.
    assert [c.workload for c in cells[:60]] == ["default"] * 60


def test_grid_resumes_and_reruns_only_what_is_missing_or_stale(
    tiny_trace: Path, tmp_path: Path
) -> None:
    cells = plan_grid(["default", "most-allocated"], ["default"], [42, 43])
    first = Counting(str(tiny_trace))
    report = run_grid(cells, POLICIES, tmp_path, first)
    assert len(first.seen) == 4 and len(report.ran) == 4 and not report.skipped

    again = Counting(str(tiny_trace))
    report = run_grid(cells, POLICIES, tmp_path, again)
    assert again.seen == [] and len(report.skipped) == 4

    (tmp_path / cells[1].relpath()).unlink()
    changed = Policy("most-allocated", POLICIES[1].text + "# edited\n", "edited.yaml")
    third = Counting(str(tiny_trace))
    report = run_grid(cells, [POLICIES[0], changed], tmp_path, third)
    # The deleted record, and both records of the policy whose text changed.
    assert sorted(c.label() for c in third.seen) == sorted(
        c.label() for c in [cells[1], cells[2], cells[3]]
    )
    assert {
        r.policy_sha256 for r in iter_records(tmp_path) if r.cell.policy == "most-allocated"
    } == {changed.sha256}


def test_an_unreadable_record_is_run_again(tiny_trace: Path, tmp_path: Path) -> None:
    cells = plan_grid(["default"], ["default"], [42])
    path = tmp_path / cells[0].relpath()
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "something else"}')
    backend = Counting(str(tiny_trace))
    run_grid(cells, POLICIES, tmp_path, backend)
    assert backend.seen == cells
    assert json.loads(path.read_text())["cell"]["seed"] == 42


def test_atomic_write_leaves_the_old_file_when_the_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a" / "record.json"
    atomic_write_text(path, "old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]  # no temp file left


def test_an_interrupted_sweep_keeps_only_whole_records(tiny_trace: Path, tmp_path: Path) -> None:
    cells = plan_grid(["default"], ["default"], [42, 43, 44])

    @dataclass
    class Interrupted:
        def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]:
            for i, item in enumerate(InProcess(str(tiny_trace)).run(tasks)):
                if i == 2:
                    raise KeyboardInterrupt
                yield item

    with pytest.raises(KeyboardInterrupt):
        run_grid(cells, POLICIES, tmp_path, Interrupted())
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["seed-42.json", "seed-43.json"]
    backend = Counting(str(tiny_trace))
    report = run_grid(cells, POLICIES, tmp_path, backend)
    assert backend.seen == [cells[2]] and len(report.records) == 3


def test_failed_cells_are_named_and_the_rest_are_stored(tiny_trace: Path, tmp_path: Path) -> None:
    bad = Policy("broken", "apiVersion: kubescheduler.config.k8s.io/v1\nkind: Nope\n", "b.yaml")
    cells = plan_grid(["default", "broken"], ["default"], [42])
    with pytest.raises(GridError, match=r"1 of 2 cells failed(.|\n)*default/broken/seed 42") as err:
        run_grid(cells, [POLICIES[0], bad], tmp_path, InProcess(str(tiny_trace)))
    assert "b.yaml" in str(err.value)
    assert [r.cell.policy for r in iter_records(tmp_path)] == ["default"]


def test_grid_refuses_cells_without_their_policy(tmp_path: Path) -> None:
    cells = plan_grid(["fgd"], ["default"], [42])
    with pytest.raises(ValueError, match="policies that were not given: fgd"):
        run_grid(cells, POLICIES, tmp_path, InProcess())


def test_local_processes_give_the_in_process_results(tiny_trace: Path, tmp_path: Path) -> None:
    cells = plan_grid(["default", "most-allocated"], ["cpu050"], [42])
    local = run_grid(cells, POLICIES, tmp_path / "pool", LocalProcesses(2, str(tiny_trace)))
    inproc = run_grid(cells, POLICIES, tmp_path / "one", InProcess(str(tiny_trace)))
    by_cell = {r.cell: r.outcome() for r in inproc.ran}
    assert {r.cell: r.outcome() for r in local.ran} == by_cell
