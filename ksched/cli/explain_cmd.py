"""``ksched explain``: every plugin's verdict and score for one pod."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ksched.cli.errors import UsageError
from ksched.cli.schedule_cmd import load_cluster
from ksched.config import load_config
from ksched.scheduler import Scheduler


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("explain", help="show per-plugin filter verdicts and scores for a pod")
    p.add_argument("--cluster", type=Path, required=True, help="YAML/JSON of Node and Pod objects")
    p.add_argument("--pod", required=True, help="pod name or namespace/name among the file's pods")
    p.add_argument("--config", type=Path, help="KubeSchedulerConfiguration YAML")
    p.add_argument("--output", choices=["table", "json"], default="table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else None
    nodes, pods = load_cluster(args.cluster)
    sched = Scheduler(config)
    sched.add_nodes(nodes)
    key = args.pod if "/" in args.pod else f"default/{args.pod}"
    target = None
    for pod in pods:
        info = sched.add_pod(pod)
        if info.key == key:
            target = info
    if target is None:
        raise UsageError(f"{args.cluster}: no pod {key!r} in the file")
    explanation = sched.explain(target)
    if args.output == "json":
        print(json.dumps(explanation.to_dict(), indent=2))
    else:
        print(explanation.format())
    return 0
