"""The paper's grid (policies x workloads x seeds) and a resumable sweep over any backend.

``run_grid`` skips every cell whose record is already stored (same cell,
same policy text), hands the rest to a backend, and writes each record
atomically as it completes, so an interrupted sweep resumes where it
stopped. Backends: ``InProcess`` (one process, for debugging and tiny
sweeps), ``LocalProcesses`` (the default: a pool of local processes) and
``ksched.experiments.distributed.DaskCluster`` (an existing Dask cluster).
A failing cell does not stop the others; the sweep ends with a
``GridError`` naming each failed cell and why.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from ksched.config import ConfigError
from ksched.experiments.cells import DEFAULT_TUNE, Cell, CellRecord, Policy, run_cell
from ksched.experiments.store import find_record, write_record
from ksched.scheduler import Scheduler
from ksched.scheduler.scheduler import TieBreak
from ksched.traces import Workload

__all__ = [
    "PAPER_POLICIES",
    "PAPER_SEEDS",
    "PAPER_WORKLOADS",
    "POLICY_TITLES",
    "PUBLISHED_ALLOC_130",
    "Backend",
    "GridError",
    "GridReport",
    "InProcess",
    "LocalProcesses",
    "Outcome",
    "check_policies",
    "default_workers",
    "plan_grid",
    "run_grid",
]

# The six policies of NOTES-fgd-experiments.md, by profile name (paper/profiles/<name>.yaml).
PAPER_POLICIES: Final = ("random", "dotprod", "gpuclustering", "gpupacking", "bestfit", "fgd")
POLICY_TITLES: Final = {
    "random": "Random",
    "dotprod": "DotProd",
    "gpuclustering": "GpuClustering",
    "gpupacking": "GpuPacking",
    "bestfit": "BestFit",
    "fgd": "FGD",
    "cpsat-fgd": "CP-SAT + FGD",
}
# FILELIST of the simulator's generate_run_scripts.py: 17 workloads.
PAPER_WORKLOADS: Final = (
    "default",
    "cpu050",
    "cpu100",
    "cpu200",
    "cpu250",
    "gpushare40",
    "gpushare60",
    "gpushare80",
    "gpushare100",
    "gpuspec10",
    "gpuspec20",
    "gpuspec25",
    "gpuspec33",
    "multigpu20",
    "multigpu30",
    "multigpu40",
    "multigpu50",
)
PAPER_SEEDS: Final = tuple(range(42, 52))
# Mean GPU allocation rate (%) at 130% arrived workload, openb default, as published
# (Weng et al., "Beware of Fragmentation", USENIX ATC '23, Fig. 9a; the issue's figures).
PUBLISHED_ALLOC_130: Final = {
    "random": 87.47,
    "dotprod": 90.85,
    "gpuclustering": 91.88,
    "gpupacking": 92.00,
    "bestfit": 93.08,
    "fgd": 95.39,
}

Outcome = CellRecord | BaseException


class GridError(RuntimeError):
    """Some cells failed; the others' records are stored. The message lists each failure."""


class Backend(Protocol):
    """Runs cells and yields (cell, record or the exception it raised) as each completes."""

    def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]: ...


@dataclass(frozen=True)
class InProcess:
    """Every cell in this process, in order."""

    trace_dir: str | None = None

    def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]:
        for cell, policy in tasks:
            try:
                yield cell, run_cell(cell, policy, trace_dir=self.trace_dir)
            except Exception as exc:
                yield cell, exc


@dataclass(frozen=True)
class LocalProcesses:
    """A pool of ``workers`` spawned processes; each loads a workload once and keeps it.

    Spawned, not forked: the parent may hold threads (a progress bar) that a fork
    would copy in an undefined state.
    """

    workers: int
    trace_dir: str | None = None

    def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        try:
            futures: dict[Future[CellRecord], Cell] = {
                pool.submit(run_cell, cell, policy, None, self.trace_dir): cell
                for cell, policy in tasks
            }
            for future in as_completed(futures):
                exc = future.exception()
                yield futures[future], exc if exc is not None else future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def plan_grid(
    policies: Iterable[str],
    workloads: Iterable[str],
    seeds: Iterable[int],
    tie_breaks: Iterable[TieBreak] = ("smallest-name",),
    tune: float = DEFAULT_TUNE,
) -> list[Cell]:
    """Every cell, workload-major so that a worker's cached workload serves many cells."""
    return [
        Cell(workload, policy, seed, tie_break, tune)
        for workload in workloads
        for tie_break in tie_breaks
        for policy in policies
        for seed in seeds
    ]


def check_policies(
    policies: Iterable[Policy], tie_breaks: Iterable[TieBreak], workload: Workload | None = None
) -> None:
    """Build each profile's scheduler once (bound to ``workload`` when given, as a cell
    would): a bad profile fails before any cell runs."""
    for policy in policies:
        for tie_break in tie_breaks:
            try:
                config = policy.config() if workload is None else policy.bind(workload)[0]
                Scheduler(config, tie_break=tie_break)
                policy.batch()
            except ConfigError:
                raise  # it names the file, line and field already
            except ValueError as exc:
                raise ValueError(f"policy {policy.name} ({policy.source}): {exc}") from None


@dataclass
class GridReport:
    """Which cells ran, were already stored, or failed (with the error's text)."""

    ran: list[CellRecord] = field(default_factory=list)
    skipped: list[CellRecord] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)

    @property
    def records(self) -> list[CellRecord]:
        return [*self.skipped, *self.ran]


class _Progress(Protocol):
    def update(self, n: float = 1) -> object: ...

    def close(self) -> None: ...


def run_grid(
    cells: Sequence[Cell],
    policies: Sequence[Policy],
    out: Path,
    backend: Backend,
    *,
    progress: bool = False,
    raise_on_failure: bool = True,
) -> GridReport:
    """Run the cells not yet stored under ``out`` on ``backend``; store each record as it lands."""
    by_name = {p.name: p for p in policies}
    missing = sorted({c.policy for c in cells} - by_name.keys())
    if missing:
        raise ValueError(f"cells name policies that were not given: {', '.join(missing)}")
    if len({c.relpath() for c in cells}) != len(cells):
        raise ValueError("the grid lists a cell more than once")
    report = GridReport()
    todo: list[tuple[Cell, Policy]] = []
    for cell in cells:
        policy = by_name[cell.policy]
        stored = find_record(out, cell, policy.sha256)
        if stored is None:
            todo.append((cell, policy))
        else:
            report.skipped.append(stored)
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the environment

    bar: _Progress = tqdm(
        total=len(cells),
        initial=len(report.skipped),
        unit="run",
        desc="grid",
        disable=not progress,
    )
    try:
        if todo:
            for cell, outcome in backend.run(todo):
                if isinstance(outcome, BaseException):
                    report.failed.append((cell, f"{type(outcome).__name__}: {outcome}"))
                else:
                    write_record(out, outcome)
                    report.ran.append(outcome)
                bar.update()
    finally:
        bar.close()
    if report.failed and raise_on_failure:
        lines = "\n".join(f"  {cell.label()}: {why}" for cell, why in report.failed)
        raise GridError(
            f"{len(report.failed)} of {len(todo)} cells failed (the others are stored under "
            f"{out}):\n{lines}"
        )
    return report


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)
