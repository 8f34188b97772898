"""``ksched schedule``: place pods on a cluster and print where they went.

With no cluster file it builds kube-scheduler's scheduler_perf SchedulingBasic
shape (nodes of 4 CPU / 32 GiB / 110 pods, pods of 100m / 500 MiB), so the
command shows the scheduler working on a fresh machine with nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from ksched.api import Node, Pod, load_yaml
from ksched.cli.errors import UsageError
from ksched.config import load_config
from ksched.scheduler import Scheduler
from ksched.testing.scenarios import node_json, pod_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schedule", help="schedule pods on a cluster (default: a generated one)")
    p.add_argument("--config", type=Path, help="KubeSchedulerConfiguration YAML")
    p.add_argument("--cluster", type=Path, help="YAML/JSON file of Node and Pod objects")
    p.add_argument("--nodes", type=int, default=500, help="generated nodes (default 500)")
    p.add_argument("--pods", type=int, default=2000, help="generated pods (default 2000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tie-break", choices=["random", "smallest-name"], default="random")
    p.add_argument("--output", choices=["table", "json"], default="table")
    p.set_defaults(run=run)


def generated_cluster(n_nodes: int, n_pods: int) -> tuple[list[Node], list[Pod]]:
    """scheduler_perf SchedulingBasic: 4 CPU, 32 GiB, 110 pods per node; 100m, 500 MiB per pod."""
    nodes = [
        Node.model_validate(
            node_json(f"node-{i}", cpu="4", memory="32Gi", pods=110, zone=f"zone-{i % 3}")
        )
        for i in range(n_nodes)
    ]
    pods = [
        Pod.model_validate(pod_json(f"pod-{i}", cpu="100m", memory="500Mi")) for i in range(n_pods)
    ]
    return nodes, pods


def load_cluster(path: Path) -> tuple[list[Node], list[Pod]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    nodes: list[Node] = []
    pods: list[Pod] = []
    for obj in load_yaml(text, source=str(path)):
        if isinstance(obj, Node):
            nodes.append(obj)
        elif isinstance(obj, Pod):
            pods.append(obj)
    return nodes, pods


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else None
    if args.cluster:
        nodes, pods = load_cluster(args.cluster)
    else:
        if args.nodes < 0 or args.pods < 0:
            raise UsageError("--nodes and --pods must be >= 0")
        nodes, pods = generated_cluster(args.nodes, args.pods)
    sched = Scheduler(config, seed=args.seed, tie_break=args.tie_break)
    sched.add_nodes(nodes)
    start = time.perf_counter()
    for pod in pods:
        sched.add_pod(pod)
    results = sched.run()
    elapsed = time.perf_counter() - start
    placed = Counter(r.node for r in results if r.scheduled)
    summary = {
        "nodes": len(nodes),
        "pods": len(pods),
        "scheduled": sched.metrics.attempts["scheduled"],
        "unschedulable": len(sched.failures),
        "attempts": dict(sched.metrics.attempts),
        "nodesUsed": len(placed),
        "seconds": round(elapsed, 3),
        "podsPerSecond": round(len(results) / elapsed, 1) if elapsed > 0 else None,
    }
    if args.output == "json":
        print(
            json.dumps(
                {"summary": summary, "bindings": sched.bound, "failures": sched.failures}, indent=2
            )
        )
        return 0
    print(
        f"scheduled {summary['scheduled']}/{len(pods)} pods on {len(placed)}/{len(nodes)} nodes "
        f"in {elapsed:.3f} s ({summary['podsPerSecond']} pods/s)"
    )
    busiest = placed.most_common(5)
    if busiest:
        print("busiest nodes: " + ", ".join(f"{n} ({c})" for n, c in busiest))
    for key, msg in list(sched.failures.items())[:10]:
        print(f"unschedulable {key}: {msg}")
    return 0
