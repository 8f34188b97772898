"""``ksched train``: fit a node scorer or a job-duration predictor with scikit-learn.

``ksched train scorer`` replays openb pod lists under a teacher profile
(the FGD paper's protocol), logs every decision (``ksched.ml``), and fits a
model that imitates the teacher (``--objective imitate``: its chosen node;
``imitate-top``: every node it scored highest, ties included; ``distill``:
its score of every candidate, on its 0-100 scale) or predicts an
outcome of a placement (``--objective outcome:frag_delta`` ...). Existing
logs can be given with ``--logs`` instead. Validation is by replay: the
last variant/seed group, or ``--val-group``.

``ksched train duration`` fits log(1 + duration) from pod requests on the
first ``--train-fraction`` of an openb pod list by creation time.

Both write ``<out>/model`` (``model.joblib`` + ``model.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ksched.cli.errors import UsageError

__all__ = ["add_parser", "run"]


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in _csv(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers, got {text!r}") from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train a learned scorer or duration predictor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    s = what.add_parser("scorer", help="a node scorer from a teacher's decisions")
    s.add_argument(
        "--teacher", type=Path, help="teacher profile file (e.g. paper/profiles/fgd.yaml)"
    )
    s.add_argument("--variants", type=_csv, default=["default"], help="openb pod lists, a,b,c")
    s.add_argument("--seeds", type=_ints, default=[0], help="replay seeds, 1,2")
    s.add_argument("--tune", type=float, default=1.3)
    s.add_argument(
        "--node-stride", type=int, default=1, help="replay on every N-th openb node (smaller runs)"
    )
    s.add_argument("--every", type=int, default=4, help="log every N-th decision")
    s.add_argument("--max-candidates", type=int, default=32)
    s.add_argument("--logs", type=Path, nargs="+", help="train on these decision logs instead")
    s.add_argument(
        "--objective", default="imitate", help="imitate | imitate-top | distill | outcome:<column>"
    )
    s.add_argument("--estimator", choices=["hgb", "linear", "mlp"], default="hgb")
    s.add_argument("--val-group", action="append", help="validation group (repeatable)")
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(run=run)
    d = what.add_parser("duration", help="a job-duration predictor from trace pods")
    d.add_argument("--variant", default="default", help="openb pod list")
    d.add_argument("--train-fraction", type=float, default=0.5)
    d.add_argument("--estimator", choices=["hgb", "linear", "mlp"], default="hgb")
    d.add_argument("--out", type=Path, required=True)
    d.set_defaults(run=run)


def _openb(variant: str, node_stride: int = 1) -> Any:
    """An openb pod list on the GPU cluster, or on every ``node_stride``-th of its nodes."""
    import dataclasses

    import numpy as np

    from ksched.traces import load_openb

    if node_stride < 1:
        raise UsageError(f"--node-stride must be >= 1, got {node_stride}")
    try:
        workload = load_openb(variant=variant)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(f"openb variant {variant!r}: {exc}") from None
    if node_stride == 1:
        return workload
    nodes = workload.nodes.subset(np.arange(0, len(workload.nodes), node_stride))
    return dataclasses.replace(workload, nodes=nodes)


def _record(args: argparse.Namespace) -> list[Path]:
    from ksched.ml.decisions import DecisionRecorder
    from ksched.ml.evaluate import file_policy, replay_policy
    from ksched.sim import TargetWorkload

    if args.teacher is None:
        raise UsageError("train scorer: give --teacher PROFILE.yaml (or --logs DIR ...)")
    try:
        teacher = file_policy(args.teacher)
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    paths = []
    for variant in args.variants:
        workload = _openb(variant, args.node_stride)
        for seed in args.seeds:
            group = f"{variant}-s{seed}"
            recorder = DecisionRecorder(
                TargetWorkload.from_pods(workload.pods),
                max_candidates=args.max_candidates,
                every=args.every,
                seed=seed,
                group=group,
            )
            result = replay_policy(workload, teacher, seed=seed, tune=args.tune, recorder=recorder)
            path = recorder.finish(result).to_dir(args.out / "logs" / group)
            print(
                f"{group}: {teacher.name} placed {result.summary['gpu_alloc_pct_final']:.2f}% "
                f"of GPUs, {len(recorder)} decisions -> {path}",
                file=sys.stderr,
            )
            paths.append(path)
    return paths


def run(args: argparse.Namespace) -> int:
    from ksched.ml.train import train_duration, train_scorer

    if args.what == "duration":
        from ksched.ml.evaluate import split_by_time

        workload = _openb(args.variant)
        try:
            early, _ = split_by_time(workload.pods, args.train_fraction)
            model = train_duration(
                [early],
                estimator=args.estimator,
                describe={"trace": workload.name, "train_fraction": args.train_fraction},
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        from ksched.ml.decisions import read_logs

        paths = args.logs or _record(args)
        try:
            log = read_logs(paths)
            model = train_scorer(
                log,
                objective=args.objective,
                estimator=args.estimator,
                val_groups=args.val_group,
            )
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    out = model.save(args.out / "model")
    print(json.dumps({k: v for k, v in model.meta().items() if k != "target"}, indent=2))
    print(f"model: {out}")
    return 0
