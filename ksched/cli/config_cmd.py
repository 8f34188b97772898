"""``ksched config``: validate a KubeSchedulerConfiguration, or print the resolved profiles.

A policy file's ``BatchPlacement`` document (after the configuration) is
validated and printed too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ksched.config import default_config, resolve_config
from ksched.config.batch_placement import BatchPlacement, load_policy
from ksched.framework.plugins.registry import default_registry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="validate a configuration and show its resolved profiles")
    p.add_argument(
        "file", type=Path, nargs="?", help="KubeSchedulerConfiguration YAML (default: built-in)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    batch: BatchPlacement | None = None
    if args.file:
        config, batch = load_policy(args.file)
    else:
        config = default_config()
    for profile in resolve_config(config, default_registry()):
        print(f"profile {profile.scheduler_name}")
        for point, plugins in profile.points.items():
            shown = ", ".join(f"{n} ({w})" if w else n for n, w in plugins)
            print(f"  {point.value:<11} {shown}")
    if batch is not None:
        fields = batch.model_dump(by_alias=True, exclude={"api_version", "kind"})
        print("batch placement " + ", ".join(f"{k}={v}" for k, v in fields.items()))
    return 0
