"""``ksched config``: validate a KubeSchedulerConfiguration, or print the resolved profiles."""

from __future__ import annotations

import argparse
from pathlib import Path

from ksched.config import default_config, load_config, resolve_config
from ksched.framework.plugins.registry import default_registry


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="validate a configuration and show its resolved profiles")
    p.add_argument(
        "file", type=Path, nargs="?", help="KubeSchedulerConfiguration YAML (default: built-in)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.file) if args.file else default_config()
    for profile in resolve_config(config, default_registry()):
        print(f"profile {profile.scheduler_name}")
        for point, plugins in profile.points.items():
            shown = ", ".join(f"{n} ({w})" if w else n for n, w in plugins)
            print(f"  {point.value:<11} {shown}")
    return 0
