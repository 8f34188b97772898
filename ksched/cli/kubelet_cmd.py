"""``ksched kubelet``: many simulated nodes in one process (in the spirit of KWOK).

Nodes come from ``--nodes N`` (identical nodes) or from a trace's node
table (``--trace``). Pods bound to them go Pending -> Running ->
Succeeded/Failed: a pod's ``ksched.io/duration-seconds`` annotation sets
its running time, else ``--running-seconds`` (default: until deleted).
``--fail NODE=AT[+FOR]`` fails a node AT seconds after start (for FOR
seconds); annotating a Node ``ksched.io/simulate=NotReady`` does the same
at any time.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from ksched.cli.daemon_gc import tune_gc
from ksched.cli.errors import UsageError

__all__ = ["add_parser", "parse_failure", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "kubelet",
        help="run simulated nodes that move bound pods through their phases",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig of the API server")
    nodes = p.add_mutually_exclusive_group(required=True)
    nodes.add_argument("--nodes", type=int, metavar="N", help="run N identical nodes")
    nodes.add_argument("--trace", metavar="NAME|PATH", help="run the nodes of a trace")
    p.add_argument("--trace-arg", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--node-prefix", default="node-", help="--nodes: names are <prefix><i>")
    p.add_argument("--cpu", default="32", help="--nodes: CPU capacity per node")
    p.add_argument("--memory", default="256Gi", help="--nodes: memory capacity per node")
    p.add_argument("--max-pods", type=int, default=110, help="--nodes: pod capacity per node")
    p.add_argument("--pending-seconds", type=float, default=0.0, help="delay before Running")
    p.add_argument(
        "--running-seconds", type=float, help="running time of pods without a duration annotation"
    )
    p.add_argument("--result", choices=["Succeeded", "Failed"], default="Succeeded")
    p.add_argument(
        "--time-compression", type=float, default=1.0, help="divide every duration by this"
    )
    p.add_argument("--renew-interval", type=float, default=10.0, help="Lease renewal period (s)")
    p.add_argument("--workers", type=int, default=8, help="threads writing pod status")
    p.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="NODE=AT[+FOR]",
        help="fail NODE AT seconds after start, recover it FOR seconds later (repeatable)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run)


def parse_failure(text: str) -> tuple[str, float, float | None]:
    """``NODE=AT[+FOR]`` as (node, at, for)."""
    node, sep, when = text.partition("=")
    at, plus, length = when.partition("+")
    try:
        start = float(at)
        duration = float(length) if plus else None
    except ValueError:
        start = duration = -1.0
    if not sep or not node or start < 0 or (duration is not None and duration < 0):
        raise UsageError(f"--fail must be NODE=AT[+FOR] with seconds >= 0, got {text!r}")
    return node, start, duration


def run(args: argparse.Namespace) -> int:
    from ksched.cluster.signals import wait_for_stop
    from ksched.controllers import ClientConfigError, KubeClient
    from ksched.kubelet import FakeKubelet, StageError, Stages, nodes_from_flags, nodes_from_table

    tune_gc()

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    if not args.kubeconfig.is_file():
        raise UsageError(f"--kubeconfig {args.kubeconfig}: no such file")
    if args.trace is not None:
        from ksched.cli.replay_cmd import load_trace

        nodes = nodes_from_table(load_trace(args.trace, args.trace_arg).nodes)
    else:
        if args.nodes < 0:
            raise UsageError(f"--nodes must be >= 0, got {args.nodes}")
        nodes = nodes_from_flags(
            args.nodes,
            prefix=args.node_prefix,
            cpu=args.cpu,
            memory=args.memory,
            pods=args.max_pods,
        )
    failures = [parse_failure(f) for f in args.fail]
    names = {n["metadata"]["name"] for n in nodes}
    for node, _, _ in failures:
        if node not in names:
            raise UsageError(f"--fail {node}: not one of the simulated nodes")
    try:
        stages = Stages(
            pending_seconds=args.pending_seconds,
            running_seconds=args.running_seconds,
            result=args.result,
            time_compression=args.time_compression,
        )
    except StageError as exc:
        raise UsageError(str(exc)) from None
    if args.workers < 1 or args.renew_interval <= 0:
        raise UsageError("--workers must be >= 1 and --renew-interval > 0")
    try:
        client = KubeClient(str(args.kubeconfig))
    except ClientConfigError as exc:
        raise UsageError(f"--kubeconfig {exc}") from None
    kubelet = FakeKubelet(
        client,
        nodes,
        stages=stages,
        renew_interval=args.renew_interval,
        workers=args.workers,
    )
    try:
        kubelet.start()
    except TimeoutError as exc:
        raise UsageError(str(exc)) from None
    timers: list[threading.Timer] = []
    for node, at, length in failures:
        timers.append(_timer(at, kubelet.fail_node, node))
        if length is not None:
            timers.append(_timer(at + length, kubelet.recover_node, node))
    print(f"kubelet: running {len(nodes)} nodes", file=sys.stderr, flush=True)
    wait_for_stop()
    for t in timers:
        t.cancel()
    kubelet.stop()
    kubelet.client.close()
    return 0


def _timer(delay: float, action: Any, node: str) -> threading.Timer:
    t = threading.Timer(delay, action, args=(node,))
    t.daemon = True
    t.start()
    return t
