"""Evaluation on held-out workloads: a learned policy against its teacher and the default profile.

Scorers: every profile replays the same held-out openb variants and seeds
under the FGD paper's protocol as ``ksched.experiments`` runs it (arrival
only, tune 1.3, smallest-name ties, ``Policy.bind``: a FGDScore
``targetPods: openb:*`` follows the replayed pod list, OpenGpuShare
profiles get annotation-only GPU pods); GPU allocation at 130% arrived is
compared per run and on average. The learned profile is OpenGpuShare plus
MLScore alone, its target workload the replayed list's, as FGD's.

Queue order: a time-based replay where the queue order is the only
difference: FIFO (PrioritySort), shortest-predicted-job-first and the
oracle that knows every duration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml

from ksched.config import KubeSchedulerConfiguration, load_config_text
from ksched.experiments.cells import DEFAULT_TUNE, Policy
from ksched.ml.duration import duration_features
from ksched.ml.features import target_to_dict
from ksched.ml.model import SavedModel
from ksched.sim import ArrivalReplay, Profile, ReplayResult, TargetWorkload, replay
from ksched.sim._common import Recorder
from ksched.sim.runner import PROFILES_DIR
from ksched.traces.workload import PodTable, Workload

__all__ = [
    "QUEUE_POLICIES",
    "default_policy",
    "duration_quality",
    "file_policy",
    "mlscore_policy",
    "offered_gpu_load",
    "queue_configs",
    "queue_table",
    "queue_workload",
    "replay_policy",
    "run_queue",
    "scorer_table",
    "split_by_time",
    "write_durations",
]

QUEUE_POLICIES: Final = ("fifo", "learned-sjf", "oracle-sjf")


def _config(data: dict[str, Any]) -> KubeSchedulerConfiguration:
    return load_config_text(yaml.safe_dump(data, sort_keys=False), source="<ksched.ml>")


def mlscore_policy(
    model: str | Path, target: TargetWorkload | None = None, *, name: str = "mlscore"
) -> Policy:
    """OpenGpuShare for per-GPU accounting, MLScore the only Score plugin."""
    args: dict[str, Any] = {"model": str(model)}
    if target is not None:
        args["target"] = target_to_dict(target)
    data = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "percentageOfNodesToScore": 100,
        "profiles": [
            {
                "schedulerName": name,
                "plugins": {
                    "multiPoint": {"enabled": [{"name": "OpenGpuShare"}]},
                    "preScore": {"disabled": [{"name": "*"}]},
                    "score": {
                        "disabled": [{"name": "*"}],
                        "enabled": [{"name": "MLScore", "weight": 1}],
                    },
                },
                "pluginConfig": [{"name": "MLScore", "args": args}],
            }
        ],
    }
    return Policy(name, yaml.safe_dump(data, sort_keys=False), "<ksched.ml>")


def file_policy(path: str | Path, name: str | None = None) -> Policy:
    """A profile file as a ``Policy`` (its ``targetPods: openb:*`` follows the replayed list)."""
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"{where}: cannot read the profile: {exc}") from None
    return Policy(name or where.stem, text, str(where))


def default_policy() -> Policy:
    return file_policy(PROFILES_DIR / "default.yaml", "default")


def replay_policy(
    workload: Workload,
    policy: Policy,
    *,
    seed: int,
    tune: float = DEFAULT_TUNE,
    recorder: Recorder | None = None,
) -> ReplayResult:
    """The FGD paper's protocol (arrival-only, smallest-name ties) for one policy and seed."""
    config, conversion, _ = policy.bind(workload)
    return ArrivalReplay(
        workload,
        config=config,
        conversion=conversion,
        label=policy.name,
        seed=seed,
        tie_break="smallest-name",
        tune=tune,
        recorder=recorder,
    ).run()


def scorer_table(results: Sequence[tuple[str, int, ReplayResult]]) -> pd.DataFrame:
    """One row per (workload, seed, profile) with the arrival protocol's headline metrics."""
    rows = [
        {
            "workload": workload,
            "seed": seed,
            "profile": r.profile,
            "gpu_alloc_pct": float(r.summary["gpu_alloc_pct_final"]),
            "gpu_frag_pct": float(r.summary["gpu_frag_pct_final"]),
            "pods_failed": int(r.summary["pods_failed"]),
            "sched_latency_p50_us": float(r.summary["sched_latency_p50_us"]),
        }
        for workload, seed, r in results
    ]
    return pd.DataFrame(rows)


# -- queue order ------------------------------------------------------------------------
def split_by_time(table: PodTable, fraction: float) -> tuple[PodTable, PodTable]:
    """The first ``fraction`` of the pods by creation time, and the rest (later pods)."""
    if not 0 < fraction < 1:
        raise ValueError(
            "The 'fraction' parameter of split_by_time must be in (0, 1). "
            f"Got {fraction!r} instead."
        )
    known = np.flatnonzero(np.isfinite(table.creation_time))
    if len(known) < 2:
        raise ValueError("fewer than two pods have creation times: nothing to split by time")
    order = known[np.argsort(table.creation_time[known], kind="stable")]
    cut = round(fraction * len(order))
    return table.subset(np.sort(order[:cut])), table.subset(np.sort(order[cut:]))


def queue_workload(
    workload: Workload, pods: PodTable, *, nodes: int | None, arrival_speedup: float
) -> Workload:
    """``pods`` on the first ``nodes`` nodes, arriving ``arrival_speedup`` x faster.

    Only arrivals are compressed, durations stay: the offered load grows, so
    pods queue and the queue order matters.
    """
    if arrival_speedup <= 0:
        raise ValueError(f"arrival_speedup must be > 0, got {arrival_speedup!r}")
    created = pods.creation_time
    origin = float(np.nanmin(created)) if len(created) else 0.0
    squeezed = dataclasses.replace(
        pods, creation_time=origin + (created - origin) / arrival_speedup
    )
    table = workload.nodes if nodes is None else workload.nodes.subset(np.arange(nodes))
    return dataclasses.replace(workload, nodes=table, pods=squeezed)


def offered_gpu_load(workload: Workload) -> float:
    """GPU-seconds asked for over GPU-seconds the cluster offers while pods arrive.

    Above 1 the queue must grow while pods arrive, whatever the order; the
    long tail of durations runs past the arrival window, so the load pods
    actually meet is lower.
    """
    pods = workload.pods
    gpus = pods.num_gpu * np.where(pods.num_gpu > 0, pods.gpu_milli, 0) / 1000
    demand = float(np.nansum(gpus * pods.duration))
    created = pods.creation_time[np.isfinite(pods.creation_time)]
    window = float(created.max() - created.min()) if len(created) else 0.0
    capacity = float(np.sum(workload.nodes.gpu_count)) * window
    return demand / capacity if capacity > 0 else float("nan")


def duration_quality(model: SavedModel, pods: PodTable) -> dict[str, float]:
    """How well ``model`` orders and predicts ``pods``' durations (held-out pods, in practice).

    SJF needs the order right more than the values: the rank correlation
    (Spearman) is the figure that matters; the mean absolute error in
    log(1 + seconds) is beside that of always predicting the median.
    """
    truth = np.log1p(pods.duration)
    known = np.isfinite(truth)
    if not known.any():
        raise ValueError("no held-out pod has a known duration")
    predicted = model.value(duration_features(pods.subset(np.flatnonzero(known))))
    truth = truth[known]
    rank = pd.Series(predicted).corr(pd.Series(truth), method="spearman")
    return {
        "pods": float(len(truth)),
        "spearman": float(rank),
        "mae_log": float(np.mean(np.abs(predicted - truth))),
        "mae_log_median": float(np.mean(np.abs(np.median(truth) - truth))),
    }


def queue_configs(
    model: str | Path, durations: str | Path
) -> dict[str, KubeSchedulerConfiguration]:
    """The default profile with each queue order (the policies of ``QUEUE_POLICIES``)."""

    def with_sort(args: dict[str, Any] | None) -> KubeSchedulerConfiguration:
        profile: dict[str, Any] = {"schedulerName": "default-scheduler"}
        if args is not None:
            profile["plugins"] = {
                "queueSort": {
                    "disabled": [{"name": "*"}],
                    "enabled": [{"name": "ShortestPredictedJobFirst"}],
                }
            }
            profile["pluginConfig"] = [{"name": "ShortestPredictedJobFirst", "args": args}]
        return _config(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "profiles": [profile],
            }
        )

    return {
        "fifo": with_sort(None),
        "learned-sjf": with_sort({"model": str(model)}),
        "oracle-sjf": with_sort({"durations": str(durations)}),
    }


def write_durations(pods: PodTable, path: str | Path) -> Path:
    """The oracle's knowledge: every pod's true duration, as ``name, duration`` Parquet."""
    out = Path(path)
    pd.DataFrame({"name": pods.name.astype(str), "duration": pods.duration}).to_parquet(
        out, index=False
    )
    return out


def run_queue(
    workload: Workload, configs: dict[str, KubeSchedulerConfiguration], *, seed: int = 0
) -> list[ReplayResult]:
    """One time-based replay per queue policy, pods living for their trace duration."""
    return [
        replay(
            workload,
            Profile(name, config),
            protocol="time",
            seed=seed,
            lifetime="duration",
        )
        for name, config in configs.items()
    ]


def queue_table(results: Sequence[ReplayResult]) -> pd.DataFrame:
    """JCT and queueing per policy, and the JCT reduction against FIFO and the oracle."""
    rows: list[dict[str, Any]] = []
    for r in results:
        pods = r.pods
        jct = (pods["finish_time"] - pods["arrival_time"]).to_numpy(np.float64)
        jct = jct[np.isfinite(jct)]
        delay = pods["queue_delay_s"].to_numpy(np.float64)
        delay = delay[np.isfinite(delay)]
        rows.append(
            {
                "policy": r.profile,
                "finished": len(jct),
                "jct_mean_s": float(jct.mean()) if len(jct) else float("nan"),
                "jct_p50_s": float(np.median(jct)) if len(jct) else float("nan"),
                "queue_delay_mean_s": float(delay.mean()) if len(delay) else float("nan"),
                "queue_delay_p99_s": float(np.percentile(delay, 99)) if len(delay) else np.nan,
            }
        )
    by = {row["policy"]: float(row["jct_mean_s"]) for row in rows}
    fifo, oracle = by.get("fifo"), by.get("oracle-sjf")
    for row in rows:
        jct_mean = float(row["jct_mean_s"])
        if fifo is not None:
            row["jct_reduction_vs_fifo_pct"] = 100 * (fifo - jct_mean) / fifo
        if oracle is not None:
            row["jct_above_oracle_pct"] = 100 * (jct_mean - oracle) / oracle
    return pd.DataFrame(rows)
