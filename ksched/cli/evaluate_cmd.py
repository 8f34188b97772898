"""``ksched evaluate``: a learned policy against its teacher and the default profile, held out.

``ksched evaluate scorer --model DIR --teacher FILE --variants a,b --seeds 42,43``
replays each held-out openb pod list under the learned profile (OpenGpuShare
+ MLScore), the teacher and the default profile with the FGD paper's
protocol, prints GPU allocation at 130% arrived per run and on average, and
writes every replay's results and the HTML report as ``ksched replay`` does.

``ksched evaluate queue --model DIR --nodes 30,40`` replays the later part
of an openb pod list (the part the duration model did not see) in simulated
time on each cluster size, with FIFO, shortest-predicted-job-first and the
oracle that knows durations, and reports mean job completion time, its
reduction, the offered GPU load and how well the model ranks the held-out
durations.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ksched.cli.errors import UsageError
from ksched.cli.train_cmd import _csv, _ints, _openb

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a learned policy on held-out workloads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    s = what.add_parser("scorer", help="MLScore vs teacher vs default (arrival protocol)")
    s.add_argument("--model", type=Path, required=True, help="a scorer saved by ksched train")
    s.add_argument("--teacher", type=Path, required=True, help="the teacher's profile file")
    s.add_argument("--variants", type=_csv, required=True, help="held-out openb pod lists")
    s.add_argument("--seeds", type=_ints, default=[42])
    s.add_argument("--tune", type=float, default=1.3)
    s.add_argument(
        "--node-stride", type=int, default=1, help="replay on every N-th openb node (smaller runs)"
    )
    s.add_argument("--no-default", action="store_true", help="skip the default profile")
    s.add_argument("--out", type=Path, help="output directory (default ./ksched-out/<time>)")
    s.set_defaults(run=run)
    q = what.add_parser("queue", help="learned SJF vs FIFO vs oracle (time protocol)")
    q.add_argument("--model", type=Path, required=True, help="a duration model")
    q.add_argument("--variant", default="default", help="openb pod list")
    q.add_argument("--train-fraction", type=float, default=0.5, help="as at training")
    q.add_argument(
        "--nodes",
        type=_ints,
        default=[100],
        help="first N nodes of the cluster; a comma list runs one setting per N",
    )
    q.add_argument(
        "--arrival-speedup", type=float, default=20.0, help="arrivals this many times faster"
    )
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", type=Path, help="output directory (default ./ksched-out/<time>)")
    q.set_defaults(run=run)


def _check_model(path: Path, kind: str) -> dict[str, Any]:
    """Refuse an unusable model before any replay starts, with the loader's message."""
    from ksched.ml.duration import DURATION_FEATURES, duration_schema_hash
    from ksched.ml.features import FEATURE_NAMES, feature_schema_hash
    from ksched.ml.model import ModelMismatchError, load_model

    try:
        if kind == "scorer":
            model = load_model(
                path, kind="scorer", features=FEATURE_NAMES, schema=feature_schema_hash()
            )
        else:
            model = load_model(
                path, kind="duration", features=DURATION_FEATURES, schema=duration_schema_hash()
            )
    except ModelMismatchError as exc:
        raise UsageError(str(exc)) from None
    return model.extra


def _report(results: list[Any], out: Path) -> None:
    from ksched.sim.runner import write_results

    write_results(results, out)
    try:
        from ksched.report import write_report
    except ImportError:
        return
    print(f"report: {write_report(results, out)}")


def _scorer(args: argparse.Namespace, out: Path) -> None:
    import pandas as pd

    from ksched.ml.evaluate import (
        default_policy,
        file_policy,
        mlscore_policy,
        replay_policy,
        scorer_table,
    )
    from ksched.sim import TargetWorkload
    from ksched.sim.runner import format_summary

    extra = _check_model(args.model, "scorer")
    overlap = sorted(set(args.variants) & {g.rsplit("-s", 1)[0] for g in extra["train_groups"]})
    if overlap:
        print(f"warning: {', '.join(overlap)} were also training variants", file=sys.stderr)
    try:
        teacher = file_policy(args.teacher)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    rows: list[tuple[str, int, Any]] = []
    for variant in args.variants:
        workload = _openb(variant, args.node_stride)
        target = TargetWorkload.from_pods(workload.pods)
        policies = [mlscore_policy(args.model.resolve(), target), teacher]
        if not args.no_default:
            policies.append(default_policy())
        for seed in args.seeds:
            results = [replay_policy(workload, p, seed=seed, tune=args.tune) for p in policies]
            print(f"== {variant}, seed {seed}")
            print(format_summary(results))
            _report(results, out / f"{variant}-s{seed}")
            rows.extend((variant, seed, r) for r in results)
    table = scorer_table(rows)
    table.to_csv(out / "scorer.csv", index=False)
    wide = table.pivot_table(index=["workload", "seed"], columns="profile", values="gpu_alloc_pct")
    wide["learned_minus_teacher_pp"] = wide["mlscore"] - wide[teacher.name]
    print("\nGPU allocation (%) at 130% arrived, held-out workloads")
    print(wide.round(3).to_string())
    mean = pd.DataFrame(wide.mean()).T
    print("\nmean over held-out runs")
    print(mean.round(3).to_string(index=False))


def _queue(args: argparse.Namespace, out: Path) -> None:
    import json

    import pandas as pd

    from ksched.ml.duration import DURATION_FEATURES, duration_schema_hash
    from ksched.ml.evaluate import (
        duration_quality,
        offered_gpu_load,
        queue_configs,
        queue_table,
        queue_workload,
        run_queue,
        split_by_time,
        write_durations,
    )
    from ksched.ml.model import load_model

    _check_model(args.model, "duration")
    workload = _openb(args.variant)
    try:
        _, late = split_by_time(workload.pods, args.train_fraction)
        bad = [n for n in args.nodes if not 0 < n <= len(workload.nodes)]
        if bad:
            raise ValueError(f"--nodes must be in [1, {len(workload.nodes)}], got {bad[0]}")
        held_out = {
            n: queue_workload(workload, late, nodes=n, arrival_speedup=args.arrival_speedup)
            for n in args.nodes
        }
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    model = load_model(
        args.model, kind="duration", features=DURATION_FEATURES, schema=duration_schema_hash()
    )
    quality = duration_quality(model, late)
    out.mkdir(parents=True, exist_ok=True)
    (out / "duration_model.json").write_text(json.dumps(quality, indent=2) + "\n")
    print(
        f"{workload.name}: {len(late)} held-out pods; duration model on them: Spearman "
        f"{quality['spearman']:.3f}, MAE {quality['mae_log']:.3f} in log(1+s) "
        f"(the held-out median: {quality['mae_log_median']:.3f})"
    )
    durations = write_durations(late, out / "oracle-durations.parquet")
    configs = queue_configs(args.model.resolve(), durations)
    tables = []
    for n, setting in held_out.items():
        results = run_queue(setting, configs, seed=args.seed)
        _report(results, out / f"nodes{n}")
        table = queue_table(results)
        load = offered_gpu_load(setting)
        table.insert(0, "offered_gpu_load", load)
        table.insert(0, "arrival_speedup", args.arrival_speedup)
        table.insert(0, "nodes", n)
        tables.append(table)
        print(f"\n== {n} nodes, arrivals x{args.arrival_speedup:g}, offered GPU load {load:.2f}")
        print(table.drop(columns=["nodes", "arrival_speedup"]).round(2).to_string(index=False))
    pd.concat(tables, ignore_index=True).to_csv(out / "queue.csv", index=False)


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("ksched-out") / time.strftime("%Y%m%d-%H%M%S")
    if args.what == "scorer":
        _scorer(args, out)
    else:
        _queue(args, out)
    print(f"results: {out}")
    return 0
