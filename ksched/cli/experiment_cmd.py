"""``ksched experiment``: one cell of the FGD paper's grid, the whole grid, its table.

``cell`` replays one (workload, policy, seed) and prints the GPU allocation,
fragmentation amount and fragmentation rate against arrived workload;
``grid`` runs policies x workloads x seeds on local processes or on a Dask
cluster (``--scheduler``), resumably, and prints mean ± std of GPU allocation
at 130%; ``table`` prints that table from a results directory. Policies are
profile names (looked up in ``--profiles-dir``, default ``paper/profiles``,
then the built-in ``default`` and ``most-allocated``) or YAML paths.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ksched.cli.errors import UsageError

__all__ = ["add_parser", "parse_seeds"]

_PAPER_PROFILES = Path("paper") / "profiles"


def parse_seeds(text: str) -> list[int]:
    """``42``, ``42-51`` or ``42,44,50`` (ranges inclusive)."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first = int(lo)
            last = int(hi) if dash else first
        except ValueError:
            raise UsageError(
                f"--seeds must be N, N-M or a comma-separated list of those; got {text!r}"
            ) from None
        if last < first:
            raise UsageError(f"--seeds range {part.strip()!r} ends before it starts")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds lists a seed twice: {text!r}")
    return seeds


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("an empty list was given")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"a list names {', '.join(repeated)} more than once: {text!r}")
    return names


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tune",
        type=float,
        default=1.3,
        help="submit pods up to this multiple of cluster GPU capacity (default 1.3)",
    )
    p.add_argument(
        "--trace-dir",
        type=Path,
        help="folder of the openb CSVs (default: the local alibaba-gpu-2023 copy)",
    )
    p.add_argument(
        "--profiles-dir",
        type=Path,
        action="append",
        default=[],
        help="where policy names are looked up as NAME.yaml (repeatable; default "
        "paper/profiles, then the built-in profiles)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "experiment",
        help="run the FGD paper's experiment grid (one cell, the grid, its table)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    esub = p.add_subparsers(dest="experiment_command", metavar="SUBCOMMAND", required=True)

    cell = esub.add_parser("cell", help="one (workload, policy, seed) run and its curves")
    cell.add_argument("--workload", default="default", help="openb pod list (default, cpu050, ...)")
    cell.add_argument("--policy", required=True, help="profile name or YAML path")
    cell.add_argument("--seed", type=int, default=42)
    cell.add_argument(
        "--tie-break", choices=["smallest-name", "random"], default="smallest-name",
        help="among top-scoring nodes (default smallest-name, the paper simulator's rule)",
    )  # fmt: skip
    cell.add_argument("--out", type=Path, help="results directory to store the record in")
    cell.add_argument("--json", action="store_true", help="print the record as JSON")
    _common(cell)
    cell.set_defaults(run=run_cell_cmd)

    grid = esub.add_parser("grid", help="policies x workloads x seeds, resumable")
    grid.add_argument(
        "--policies",
        default="random,dotprod,gpuclustering,gpupacking,bestfit,fgd",
        help="comma-separated profile names or YAML paths (default: the paper's six)",
    )
    grid.add_argument(
        "--workloads", help="comma-separated openb pod lists (default: the paper's 17)"
    )
    grid.add_argument("--seeds", default="42-51", help="N, N-M or a list (default 42-51)")
    grid.add_argument(
        "--tie-breaks",
        default="smallest-name",
        help="comma-separated: smallest-name, random (default smallest-name)",
    )
    grid.add_argument("--workers", type=int, help="local processes (default: the CPU count)")
    grid.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on this Dask scheduler (tcp://host:8786)"
    )
    grid.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="--scheduler: how long to try reaching it (default 30)",
    )
    grid.add_argument("--out", type=Path, required=True, help="results directory")
    _common(grid)
    grid.set_defaults(run=run_grid_cmd)

    table = esub.add_parser("table", help="mean ± std of GPU allocation at 130% from results")
    table.add_argument("results", type=Path, help="results directory of a grid")
    table.set_defaults(run=run_table_cmd)


def _trace_dir(path: Path | None) -> str:
    if path is None:
        from ksched.traces import local_trace_dir

        try:
            return str(local_trace_dir("alibaba-gpu-2023"))
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
    if not path.is_dir():
        raise UsageError(f"--trace-dir {path}: no such directory")
    return str(path)


def _search_dirs(args: argparse.Namespace) -> list[Path]:
    dirs: list[Path] = list(args.profiles_dir)
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"--profiles-dir {d}: no such directory")
    return dirs or [_PAPER_PROFILES]


def _policies(specs: list[str], args: argparse.Namespace) -> list[Any]:
    from ksched.experiments import resolve_policy

    search = _search_dirs(args)
    try:
        policies = [resolve_policy(s, search) for s in specs]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise UsageError(f"two policies share a name: {', '.join(names)}")
    return policies


def _workloads(specs: list[str], trace_dir: str) -> list[str]:
    """Names checked and every pod list read once, so a bad file fails before any run."""
    from ksched.experiments import load_workload, workload_name

    try:
        names = [workload_name(s) for s in specs]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for name in names:
        try:
            load_workload(name, trace_dir)
        except FileNotFoundError as exc:
            raise UsageError(f"workload {name}: {exc.filename or exc} not found") from None
    return names


def _check_tune(tune: float) -> None:
    if not tune > 0 or tune != tune or tune == float("inf"):
        raise UsageError(f"--tune must be a positive finite number, got {tune}")


def _check(
    check: Any, policies: list[Any], tie_breaks: list[Any], workload: str, trace_dir: str
) -> None:
    """Profiles refused before any run; a ConfigError already reads as a user error."""
    from ksched.config import ConfigError
    from ksched.experiments import load_workload

    try:
        check(policies, tie_breaks, load_workload(workload, trace_dir))
    except ConfigError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_cell_cmd(args: argparse.Namespace) -> int:
    from ksched.experiments import Cell, check_policies, run_cell, write_record

    _check_tune(args.tune)
    trace_dir = _trace_dir(args.trace_dir)
    (policy,) = _policies([args.policy], args)
    (workload,) = _workloads([args.workload], trace_dir)
    _check(check_policies, [policy], [args.tie_break], workload, trace_dir)
    cell = Cell(workload, policy.name, args.seed, args.tie_break, args.tune)
    print(f"running {cell.label()} (tune {args.tune:g})", file=sys.stderr)
    record = run_cell(cell, policy, trace_dir=trace_dir)
    if args.json:
        print(json.dumps(record.to_json(), indent=1))
    else:
        print(_curve_table(record.curves))
        print(
            f"GPU allocation at 130% arrived: {_fmt(record.value_at('alloc'))}%  "
            f"(pods placed {record.summary['pods_placed']}, failed {record.summary['pods_failed']},"
            f" {record.timing.get('wall_seconds', float('nan')):.1f} s)"
        )
    if args.out is not None:
        path = write_record(args.out, record)
        _write_curves_csv(path.with_suffix(".csv"), record.curves)
        print(f"record: {path}", file=sys.stderr)
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.2f}"


def _curve_table(curves: Any, step: int = 10) -> str:
    lines = [f"{'arrived %':>9}  {'alloc %':>8}  {'frag %':>8}  {'frag rate %':>11}"]
    for i in range(0, len(curves["arrived"]), step):
        a, f, r = curves["alloc"][i], curves["frag"][i], curves["frag_ratio"][i]
        lines.append(f"{i:>9}  {_fmt(a):>8}  {_fmt(f):>8}  {_fmt(r):>11}")
    return "\n".join(lines)


def _write_curves_csv(path: Path, curves: Any) -> None:
    from ksched.experiments.store import atomic_write_text

    names = ["arrived", "alloc", "frag", "frag_ratio"]
    rows = [",".join(names)]
    for i in range(len(curves["arrived"])):
        rows.append(",".join("" if curves[n][i] is None else repr(curves[n][i]) for n in names))
    atomic_write_text(path, "\n".join(rows) + "\n")


def run_grid_cmd(args: argparse.Namespace) -> int:
    from ksched.experiments import (
        PAPER_WORKLOADS,
        TIE_BREAKS,
        GridError,
        InProcess,
        LocalProcesses,
        check_policies,
        plan_grid,
        run_grid,
    )
    from ksched.experiments.grid import Backend, default_workers

    _check_tune(args.tune)
    if args.workers is not None and args.scheduler:
        raise UsageError("--workers and --scheduler exclude each other (workers are the cluster's)")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    tie_breaks = [t for t in TIE_BREAKS if t in _names(args.tie_breaks)]
    bad = sorted(set(_names(args.tie_breaks)) - set(TIE_BREAKS))
    if bad:
        raise UsageError(f"--tie-breaks: unknown {', '.join(bad)} (known: {', '.join(TIE_BREAKS)})")
    seeds = parse_seeds(args.seeds)
    trace_dir = _trace_dir(args.trace_dir)
    policies = _policies(_names(args.policies), args)
    workloads = _workloads(
        _names(args.workloads) if args.workloads else list(PAPER_WORKLOADS), trace_dir
    )
    _check(check_policies, policies, tie_breaks, workloads[0], trace_dir)
    cells = plan_grid([p.name for p in policies], workloads, seeds, tie_breaks, args.tune)
    backend: Backend
    if args.scheduler:
        from ksched.experiments.distributed import DaskCluster

        backend = DaskCluster(args.scheduler, trace_dir, args.connect_timeout)
        where = f"the Dask cluster at {args.scheduler}"
    else:
        workers = args.workers or default_workers()
        backend = InProcess(trace_dir) if workers == 1 else LocalProcesses(workers, trace_dir)
        where = f"{workers} local process{'es' if workers > 1 else ''}"
    print(
        f"grid: {len(policies)} policies x {len(workloads)} workloads x {len(seeds)} seeds x "
        f"{len(tie_breaks)} tie-breaks = {len(cells)} runs on {where}; results in {args.out}",
        file=sys.stderr,
    )
    progress = not args.no_progress and sys.stderr.isatty()
    failed = 0
    try:
        report = run_grid(cells, policies, args.out, backend, progress=progress)
    except ConnectionError as exc:
        raise UsageError(str(exc)) from None
    except GridError as exc:
        print(f"ksched: error: {exc}", file=sys.stderr)
        failed = 1
    else:
        print(f"ran {len(report.ran)}, already stored {len(report.skipped)}", file=sys.stderr)
    if report_exists(args.out):
        _print_table(args.out, save=True)
    return failed


def report_exists(results: Path) -> bool:
    return (results / "cells").is_dir()


def _print_table(results: Path, save: bool = False) -> None:
    """The mean ± std table; ``save`` also writes it to ``results/summary.csv``."""
    from ksched.experiments import (
        atomic_write_text,
        format_grid_table,
        iter_records,
        runs_frame,
        summary_table,
    )

    table = summary_table(runs_frame(iter_records(results)))
    print(format_grid_table(table))
    if save:
        atomic_write_text(results / "summary.csv", table.to_csv(index=False))


def run_table_cmd(args: argparse.Namespace) -> int:
    from ksched.experiments import RecordError

    try:
        _print_table(args.results)
    except RecordError as exc:
        raise UsageError(str(exc)) from None
    return 0
