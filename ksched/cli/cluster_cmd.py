"""``ksched cluster up|down``: API server, controllers, simulated kubelets and ksched as processes.

``up`` starts them in order, prints the kubeconfig path and waits; Ctrl-C
or SIGTERM stops them all. With ``--detach`` it returns at once and
``ksched cluster down --dir DIR`` stops them later. ``replay_through_api``
serves ``ksched replay --through-api``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ksched.cli.errors import UsageError

__all__ = ["add_parser", "add_through_api_arguments", "replay_through_api", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cluster",
        help="start or stop a local control plane with simulated nodes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = p.add_subparsers(dest="verb", metavar="up|down", required=True)
    up = verbs.add_parser("up", help="start a cluster (foreground unless --detach)")
    up.add_argument(
        "--dir", type=Path, default=Path("ksched-cluster"), help="state, logs, kubeconfig"
    )
    nodes = up.add_mutually_exclusive_group()
    nodes.add_argument(
        "--nodes", type=int, default=3, metavar="N", help="simulated nodes (default 3)"
    )
    nodes.add_argument("--trace", metavar="NAME|PATH", help="simulate a trace's nodes")
    up.add_argument("--trace-arg", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument(
        "--kubelet-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for ksched kubelet, e.g. --kubelet-arg=--running-seconds=5",
    )
    up.add_argument(
        "--scheduler-config", type=Path, help="KubeSchedulerConfiguration for ksched run"
    )
    up.add_argument(
        "--scheduler-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for ksched run, e.g. "
        "--scheduler-arg=--feature-gates=SchedulerPopFromBackoffQ=false",
    )
    up.add_argument("--no-scheduler", action="store_true", help="do not start ksched run")
    up.add_argument("--storage", choices=["memory", "sqlite"], default="memory")
    up.add_argument("--port", type=int, default=0, help="API server port (0: any free one)")
    up.add_argument("--detach", action="store_true", help="leave it running and return")
    up.set_defaults(run=run)
    down = verbs.add_parser("down", help="stop a cluster started with --detach")
    down.add_argument("--dir", type=Path, default=Path("ksched-cluster"))
    down.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ksched.cluster.signals import stop_on_signals
    from ksched.cluster.up import Cluster, ClusterError, ClusterOptions, cluster_down

    if args.verb == "down":
        try:
            components, killed = cluster_down(args.dir)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(
            f"stopped {len(components)} processes"
            + (f" (killed: {', '.join(killed)})" if killed else "")
        )
        return 0
    if args.scheduler_config is not None and not args.scheduler_config.is_file():
        raise UsageError(f"--scheduler-config {args.scheduler_config}: no such file")
    options = ClusterOptions(
        directory=args.dir,
        nodes=args.nodes,
        trace=args.trace,
        trace_args=args.trace_arg,
        kubelet_args=args.kubelet_arg,
        scheduler=not args.no_scheduler,
        scheduler_config=args.scheduler_config,
        scheduler_args=args.scheduler_arg,
        storage=args.storage,
        port=args.port,
    )
    cluster = Cluster(options)
    # Handlers first: whoever reads the kubeconfig line may send SIGTERM at once.
    with stop_on_signals() as stop:
        try:
            kubeconfig = cluster.up(detach=args.detach)
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
        print(kubeconfig, flush=True)
        if args.detach:
            print(f"detached; stop with: ksched cluster down --dir {args.dir}", file=sys.stderr)
            return 0
        print("cluster up; Ctrl-C stops it", file=sys.stderr, flush=True)
        try:
            while not stop.wait(0.5):
                pass
        finally:
            killed = cluster.down()
            if killed:
                print(f"killed after the grace period: {', '.join(killed)}", file=sys.stderr)
    return 0


def add_through_api_arguments(p: argparse.ArgumentParser) -> None:
    """The options ``ksched replay`` takes for ``--through-api``."""
    p.add_argument(
        "--through-api",
        action="store_true",
        help="replay through a local control plane (API server, scheduler, kubelets) in "
        "wall-clock time (the time protocol; use --time-compression)",
    )
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="--through-api: use this running cluster (it must simulate the trace's nodes) "
        "instead of starting one",
    )


def replay_through_api(args: argparse.Namespace, workload: Any, out: Path) -> int:
    """``ksched replay --through-api``: a cluster run per profile, results as ``ksched replay``."""
    from ksched.cluster.replay import ApiReplay
    from ksched.cluster.up import Cluster, ClusterError, ClusterOptions
    from ksched.config import load_config
    from ksched.controllers import ClientConfigError
    from ksched.sim.runner import BUILTIN_PROFILES, PROFILES_DIR, format_summary, write_results

    paths = list(args.config) or [PROFILES_DIR / f"{n}.yaml" for n in BUILTIN_PROFILES]
    runs: list[tuple[str, Path, str]] = []
    for path in paths:
        names = [p.scheduler_name for p in load_config(path).profiles]
        for name in names:
            runs.append((path.stem if len(names) == 1 else name, path, name))
    if args.kubeconfig is not None and len(runs) > 1:
        raise UsageError("--kubeconfig replays one profile: give exactly one --config")
    results = []
    for label, path, scheduler_name in runs:
        print(f"through the API: {label} (schedulerName {scheduler_name})", file=sys.stderr)
        replay_args: dict[str, Any] = {
            "scheduler_name": scheduler_name,
            "label": label,
            "time_compression": args.time_compression,
            "horizon": args.horizon,
        }
        if args.kubeconfig is not None:
            try:
                results.append(ApiReplay(workload, str(args.kubeconfig), **replay_args).run())
            except ClientConfigError as exc:
                raise UsageError(f"--kubeconfig {exc}") from None
            continue
        options = ClusterOptions(
            directory=out / "cluster" / label,
            trace=args.trace or "synthetic",
            trace_args=args.trace_arg,
            scheduler_config=path,
            scheduler_args=[f"--feature-gates={args.feature_gates}"] if args.feature_gates else [],
        )
        try:
            with Cluster(options) as cluster:
                results.append(ApiReplay(workload, str(cluster.kubeconfig), **replay_args).run())
        except ClusterError as exc:
            raise UsageError(str(exc)) from None
    write_results(results, out)
    print(format_summary(results))
    print(f"results: {out}")
    return 0
