"""``ksched replay``: replay a trace on scheduler profiles and compare them.

With no arguments it replays the embedded synthetic workload (openb-like,
no data files needed) on the built-in ``default`` and ``most-allocated``
profiles with the FGD arrival-only protocol, prints the comparison table,
and writes the results (and, when ``ksched.report`` is installed, an HTML
report) to ``./ksched-out/<timestamp>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ksched.cli import cluster_cmd
from ksched.cli.errors import UsageError
from ksched.config.feature_gates import FeatureGateError, parse_feature_gates
from ksched.traces.workload import Workload

__all__ = ["add_parser", "load_trace", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a trace on scheduler profiles and compare them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--trace",
        metavar="NAME|PATH",
        help="a trace loader name (openb, synthetic, ...) or a directory written by "
        "Workload.to_parquet (default: the embedded synthetic workload)",
    )
    p.add_argument(
        "--trace-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the trace loader, e.g. variant=cpu050 (repeatable)",
    )
    p.add_argument(
        "--config",
        action="append",
        type=Path,
        default=[],
        metavar="CONFIG.yaml",
        help="KubeSchedulerConfiguration; each profile in it is compared (repeatable; "
        "default: the built-in default and most-allocated profiles)",
    )
    p.add_argument("--protocol", choices=["time", "arrival"], default="arrival")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--tune",
        type=float,
        default=1.3,
        help="arrival: submit pods up to this multiple of cluster GPU capacity (0: no tuning)",
    )
    p.add_argument(
        "--tie-break",
        choices=["random", "smallest-name"],
        default="random",
        help="among top-scoring nodes (smallest-name: the FGD paper's simulator)",
    )
    p.add_argument("--horizon", type=float, help="time: stop after this many trace seconds")
    p.add_argument(
        "--time-compression", type=float, default=1.0, help="time: divide every time by this"
    )
    p.add_argument(
        "--feature-gates",
        default="",
        metavar="NAME=BOOL,...",
        help="kube-scheduler feature gates; in-process replays run with "
        "SchedulerPopFromBackoffQ=false unless set here (a simulated cycle takes no time: "
        "with it on, every pod an event requeues is retried after every event); "
        "--through-api passes them to ksched run",
    )
    p.add_argument("--out", type=Path, help="output directory (default ./ksched-out/<timestamp>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    cluster_cmd.add_through_api_arguments(p)
    p.set_defaults(run=run)


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def load_trace(trace: str | None, args: list[str]) -> Workload:
    """The workload ``--trace`` names: a loader, or a Parquet workload directory."""
    from ksched.traces import TraceRegistryError, load, synthetic

    options = {}
    for item in args:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--trace-arg must be KEY=VALUE, got {item!r}")
        options[key] = _value(value)
    if trace is None:
        return synthetic(**options)
    path = Path(trace)
    if path.exists():
        if not (path / "workload.json").is_file():
            raise UsageError(f"{path}: not a workload directory (no workload.json)")
        return Workload.from_parquet(path)
    try:
        return load(trace, **options)
    except (TraceRegistryError, TypeError, ValueError, FileNotFoundError) as exc:
        raise UsageError(f"--trace {trace}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from ksched.sim.runner import (
        builtin_profiles,
        compare,
        format_summary,
        load_profiles,
        write_results,
    )

    try:
        gates = parse_feature_gates(args.feature_gates)
    except FeatureGateError as exc:
        raise UsageError(f"--feature-gates: {exc}") from None
    workload = load_trace(args.trace, args.trace_arg)
    if args.through_api or args.kubeconfig:
        if not args.through_api:
            raise UsageError("--kubeconfig goes with --through-api")
        if args.kubeconfig and gates:
            raise UsageError("--feature-gates: the scheduler of --kubeconfig's cluster is not ours")
        out = args.out or Path("ksched-out") / time.strftime("%Y%m%d-%H%M%S")
        return cluster_cmd.replay_through_api(args, workload, out)
    profiles = [p for path in args.config for p in load_profiles(path, args.tie_break)]
    profiles = profiles or builtin_profiles(args.tie_break)
    progress = not args.no_progress and sys.stderr.isatty()
    options: dict[str, Any] = {"progress": progress, "feature_gates": gates}
    if args.protocol == "arrival":
        options["tune"] = args.tune
    else:
        options.update(horizon=args.horizon, time_compression=args.time_compression)
    out = args.out or Path("ksched-out") / time.strftime("%Y%m%d-%H%M%S")
    print(
        f"replaying {workload.name} ({len(workload.nodes)} nodes, {len(workload.pods)} pods, "
        f"{args.protocol} protocol, seed {args.seed}) on {', '.join(p.name for p in profiles)}",
        file=sys.stderr,
    )
    try:
        results = compare(workload, profiles, protocol=args.protocol, seed=args.seed, **options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    write_results(results, out)
    print(format_summary(results))
    try:
        from ksched.report import write_report
    except ImportError:
        print("(ksched.report is not installed: no HTML report)", file=sys.stderr)
    else:
        print(f"report: {write_report(results, out)}")
    print(f"results: {out}")
    return 0
