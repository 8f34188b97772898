"""``ksched controller-manager``: ReplicaSet, Deployment, Job and garbage-collection controllers.

They act through the API server named by the kubeconfig (``ksched
apiserver`` or a real kube-apiserver) and stop cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ksched.cli.daemon_gc import tune_gc
from ksched.cli.errors import UsageError

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ksched.controllers.manager import CONTROLLERS

    p = sub.add_parser(
        "controller-manager",
        help="run the ReplicaSet, Deployment and Job controllers against an API server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig of the API server")
    p.add_argument(
        "--controllers",
        default=",".join(CONTROLLERS),
        help=f"comma-separated controllers to run (default: {','.join(CONTROLLERS)})",
    )
    p.add_argument("--workers", type=int, default=2, help="worker threads per controller")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ksched.cluster.signals import wait_for_stop
    from ksched.controllers import ClientConfigError, ControllerManager, KubeClient

    tune_gc()

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    if not args.kubeconfig.is_file():
        raise UsageError(f"--kubeconfig {args.kubeconfig}: no such file")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    names = [n.strip() for n in args.controllers.split(",") if n.strip()]
    try:
        client = KubeClient(str(args.kubeconfig))
    except ClientConfigError as exc:
        raise UsageError(f"--kubeconfig {exc}") from None
    try:
        manager = ControllerManager(client, names, workers=args.workers)
    except ValueError as exc:
        raise UsageError(f"--controllers: {exc}") from None
    try:
        manager.start()
    except TimeoutError as exc:
        raise UsageError(str(exc)) from None
    print("controller-manager: running", file=sys.stderr, flush=True)
    wait_for_stop()
    manager.stop()
    manager.client.close()
    return 0
