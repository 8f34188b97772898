"""Entry point of the ``ksched`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ksched import __version__
from ksched.cli import (
    apiserver_cmd,
    cluster_cmd,
    config_cmd,
    controller_manager_cmd,
    evaluate_cmd,
    experiment_cmd,
    explain_cmd,
    kubelet_cmd,
    replay_cmd,
    run_cmd,
    schedule_cmd,
    train_cmd,
)
from ksched.cli.errors import user_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ksched", description="Kubernetes-style scheduling framework and research toolkit"
    )
    parser.add_argument("--version", action="version", version=f"ksched {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (
        apiserver_cmd,
        replay_cmd,
        schedule_cmd,
        explain_cmd,
        config_cmd,
        experiment_cmd,
        run_cmd,
        controller_manager_cmd,
        kubelet_cmd,
        cluster_cmd,
        train_cmd,
        evaluate_cmd,
    ):
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        args = parser.parse_args(["replay", *(argv or [])])
    try:
        return int(args.run(args))
    except user_errors() as exc:
        print(f"ksched: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
