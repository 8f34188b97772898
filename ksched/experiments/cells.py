"""One cell of the FGD paper's grid: (workload, policy, seed) replayed, reduced to its curves.

A cell replays an openb pod list on the GPU-node cluster with the arrival-only
protocol (``ksched.sim.ArrivalReplay``) and keeps what the paper plots: per
integer arrived-workload percentage from 0 to 130, the GPU allocation rate,
the fragmentation amount and the fragmentation rate (NOTES-fgd-experiments.md,
"Metrics" and item 6). The full per-pod frames are dropped: a 1,020-run grid
keeps about 10 KiB per run instead of megabytes.

A ``Policy`` carries its profile's YAML text, not a path, so a cell runs on a
machine that has ksched but not the caller's files (a distributed worker).
Before a run the profile is bound to the cell's workload, as the paper's
runner does per trace file:

- a plugin argument ``targetPods: openb:<variant>`` (FGDScore's target
  workload) becomes ``targetShapes`` computed from the replayed pod list, so
  FGD's target is the workload being replayed, whatever trace folder it came
  from, and a worker needs no trace files;
- a profile that enables ``OpenGpuShare`` gets pods without the scalar
  ``gpu-milli`` request and the GPU-model node affinity: Open-Gpu-Share
  accounts GPUs and models itself from the pods' annotations, as in the
  paper's simulator.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import yaml

from ksched.config import KubeSchedulerConfiguration, load_config_text
from ksched.config.batch_placement import BatchPlacement, PolicyDocuments, split_policy
from ksched.framework.plugins.names import OPEN_GPU_SHARE
from ksched.scheduler.scheduler import TieBreak
from ksched.sim import ArrivalReplay, PodConversion, TargetWorkload, discrete_by_arrived
from ksched.sim.leftovers import LEFTOVER_KEYS
from ksched.sim.metrics import DEFAULT_COVERAGE
from ksched.sim.runner import PROFILES_DIR
from ksched.traces import OPENB_VARIANTS, Workload, load_openb

__all__ = [
    "ARRIVED_MAX",
    "CURVES",
    "DEFAULT_TUNE",
    "RECORD_FORMAT",
    "TIE_BREAKS",
    "Cell",
    "CellRecord",
    "Policy",
    "load_workload",
    "resolve_policy",
    "run_cell",
    "workload_name",
]

RECORD_FORMAT: Final = "ksched-experiment-cell/1"
ARRIVED_MAX: Final = 130
DEFAULT_TUNE: Final = 1.3
TIE_BREAKS: Final[tuple[TieBreak, ...]] = ("smallest-name", "random")
# Series column -> the curve's name in a record (the paper's three plots).
CURVES: Final = {
    "gpu_alloc_pct": "alloc",
    "gpu_frag_pct": "frag",
    "gpu_frag_ratio_pct": "frag_ratio",
}
# Summary entries that measure the machine, not the schedule: kept apart so that two
# runs of one cell compare equal on everything else.
_TIMING: Final = frozenset(
    {"wall_seconds", "sched_latency_p50_us", "sched_latency_p99_us", "throughput_pods_per_s"}
)
_POD_LIST_PREFIX: Final = "openb_pod_list_"
_OPENB_TARGET: Final = "openb:"
# Open-Gpu-Share reads the GPU request and models from annotations (NOTES "CSV to pod").
_GPU_SHARE_PODS: Final = PodConversion(gpu_as_extended_resource=False, gpu_model_affinity=False)


def workload_name(text: str) -> str:
    """An openb variant from ``default`` or ``openb_pod_list_default``; refuses unknown ones."""
    name = text.removeprefix(_POD_LIST_PREFIX).removesuffix(".csv")
    if name not in OPENB_VARIANTS:
        raise ValueError(
            f"unknown workload {text!r}: expected an openb pod list, one of "
            f"{', '.join(OPENB_VARIANTS)}"
        )
    return name


@dataclass(frozen=True)
class Policy:
    """A scheduler profile by name: the YAML text and its digest (a result records which ran).

    The text may add a ``BatchPlacement`` document after the configuration
    (``ksched.config.batch_placement``): the cell then places windows of
    pods with a solver.
    """

    name: str
    text: str
    source: str = "<string>"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def documents(self) -> PolicyDocuments:
        return split_policy(self.text)

    def config(self) -> KubeSchedulerConfiguration:
        return load_config_text(self.documents.config, self.source)

    def batch(self) -> BatchPlacement | None:
        """The ``BatchPlacement`` document: a batch (solver) policy; None: one pod at a time."""
        return self.documents.batch_placement(self.source)

    def bind(self, workload: Workload) -> tuple[KubeSchedulerConfiguration, PodConversion, bool]:
        """The configuration for replaying ``workload``, the pod conversion, and whether a
        target workload was inlined (see the module docstring)."""
        data: Any = yaml.safe_load(self.documents.config)
        profiles = (data.get("profiles") or []) if isinstance(data, dict) else []
        gpu_share = inlined = False
        for profile in profiles:
            for point in (profile.get("plugins") or {}).values():
                enabled = (point or {}).get("enabled") or []
                gpu_share |= any(p.get("name") == OPEN_GPU_SHARE for p in enabled)
            for entry in profile.get("pluginConfig") or []:
                args = entry.get("args")
                target = args.get("targetPods") if isinstance(args, dict) else None
                if isinstance(target, str) and target.startswith(_OPENB_TARGET):
                    coverage = float(args.get("coverage", DEFAULT_COVERAGE))
                    del args["targetPods"]
                    args["targetShapes"] = _shapes(
                        TargetWorkload.from_pods(workload.pods, coverage)
                    )
                    inlined = True
        config = load_config_text(yaml.safe_dump(data), self.source) if inlined else self.config()
        return config, _GPU_SHARE_PODS if gpu_share else PodConversion(), inlined


def _shapes(target: TargetWorkload) -> list[dict[str, Any]]:
    """A target workload as FGDScore's inline ``targetShapes``."""
    return [
        {
            "cpuMilli": int(target.cpu_milli[i]),
            "gpuMilli": int(target.gpu_milli[i]),
            "gpuCount": int(target.num_gpu[i]),
            "gpuModels": list(target.gpu_models[i]),
            "weight": float(target.weight[i]),
        }
        for i in range(len(target))
    ]


def resolve_policy(spec: str, search: Sequence[Path] = ()) -> Policy:
    """A policy from a YAML path, or a name looked up as ``<dir>/<name>.yaml`` in ``search``
    and then among the built-in profiles (``ksched/sim/profiles``)."""
    path = Path(spec)
    if spec.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ValueError(f"policy file {spec} not found")
        return Policy(path.stem, path.read_text(), str(path))
    dirs = [*search, PROFILES_DIR]
    for folder in dirs:
        candidate = folder / f"{spec}.yaml"
        if candidate.is_file():
            return Policy(spec, candidate.read_text(), str(candidate))
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")})
    raise ValueError(
        f"unknown policy {spec!r}: no {spec}.yaml in {', '.join(map(str, dirs))} "
        f"(known: {', '.join(known) or 'none'}); give a name or a profile YAML path"
    )


@dataclass(frozen=True)
class Cell:
    """One run of the grid; ``relpath`` is where its record lives in a results directory."""

    workload: str
    policy: str
    seed: int
    tie_break: TieBreak = "smallest-name"
    tune: float = DEFAULT_TUNE

    def relpath(self) -> Path:
        return (
            Path("cells")
            / f"tune-{self.tune:g}"
            / self.tie_break
            / self.workload
            / self.policy
            / f"seed-{self.seed}.json"
        )

    def label(self) -> str:
        return f"{self.workload}/{self.policy}/seed {self.seed}/{self.tie_break}"


@dataclass(frozen=True)
class CellRecord:
    """What a cell keeps: its curves (index = arrived %, 0..130, None where no pod
    arrived at that rounded percentage), the summary, the machine timings apart."""

    cell: Cell
    policy_sha256: str
    trace: str
    curves: Mapping[str, Sequence[float | None]]
    summary: Mapping[str, float | int | str | None]
    meta: Mapping[str, Any] = field(default_factory=dict)
    timing: Mapping[str, float] = field(default_factory=dict)

    def value_at(self, curve: str, arrived: int = ARRIVED_MAX) -> float:
        """The curve at ``arrived`` %, NaN when no record rounds to it."""
        v = self.curves[curve][arrived]
        return math.nan if v is None else float(v)

    def outcome(self) -> dict[str, Any]:
        """Everything but the timings: equal for two runs of one cell on any machine."""
        d = self.to_json()
        d.pop("timing")
        return d

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "cell": asdict(self.cell),
            "policy_sha256": self.policy_sha256,
            "trace": self.trace,
            "curves": {k: list(v) for k, v in self.curves.items()},
            "summary": dict(self.summary),
            "meta": dict(self.meta),
            "timing": dict(self.timing),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellRecord:
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a {RECORD_FORMAT} record (format {data.get('format')!r})")
        curves = data["curves"]
        missing = [c for c in ("arrived", *CURVES.values()) if c not in curves]
        if missing:
            raise ValueError(f"record lacks the curves {', '.join(missing)}")
        return cls(
            cell=Cell(**data["cell"]),
            policy_sha256=str(data["policy_sha256"]),
            trace=str(data["trace"]),
            curves=curves,
            summary=data["summary"],
            meta=data.get("meta", {}),
            timing=data.get("timing", {}),
        )


@lru_cache(maxsize=4)
def _cached_workload(variant: str, trace_dir: str | None) -> Workload:
    return load_openb(trace_dir, variant=variant, cluster="gpu")


def load_workload(variant: str, trace_dir: str | Path | None = None) -> Workload:
    """The openb GPU-node cluster with pod list ``variant``, cached per process (a worker
    runs many cells of one workload)."""
    return _cached_workload(workload_name(variant), None if trace_dir is None else str(trace_dir))


def _offline(wl: Workload, cell: Cell, common: dict[str, Any]) -> dict[str, Any]:
    """Where the offline optimum for the cell's tuned pods lies (a batch cell reports its
    result against it), by the same tuning as the replay's: at most the ILP/LP bound, at
    least what the profile reaches placing the same pods largest first."""
    from ksched.sim.tuning import tune_pods
    from ksched.solvers import allocation_bound

    capacity = 1000 * int(wl.nodes.gpu_count.sum())
    tuned = tune_pods(wl.pods, cell.tune, capacity, np.random.default_rng(cell.seed))
    b = allocation_bound(wl.nodes, wl.pods, tuned.rows)
    largest_first = ArrivalReplay(wl, **common, largest_first=True).run()
    return {
        "bound_ilp_pct": b.ilp_pct,
        "bound_lp_pct": b.lp_pct,
        "bound_ilp_optimal": b.ilp_optimal,
        "bound_requested_pct": b.requested_pct,
        "offline_largest_first_pct": float(largest_first.summary["gpu_alloc_pct_final"]),
        **{f"offline_largest_first_{k}": float(largest_first.summary[k]) for k in LEFTOVER_KEYS},
    }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def run_cell(
    cell: Cell,
    policy: Policy,
    workload: Workload | None = None,
    trace_dir: str | None = None,
) -> CellRecord:
    """Replay one cell; ``workload`` defaults to the openb list named by the cell.

    Deterministic per cell: the seed drives tuning, shuffling and node order
    (and CP-SAT's search, single-threaded, for a batch policy; its time budget
    can still cut a search short at different points on a loaded machine).
    """
    if policy.name != cell.policy:
        raise ValueError(f"policy {policy.name!r} does not match cell {cell.label()}")
    wl = workload if workload is not None else load_workload(cell.workload, trace_dir)
    config, conversion, inlined = policy.bind(wl)
    batch = policy.batch()
    common: dict[str, Any] = {
        "config": config,
        "conversion": conversion,
        "label": cell.policy,
        "seed": cell.seed,
        "tie_break": cell.tie_break,
        "tune": cell.tune,
    }
    offline: dict[str, Any] = {}
    if batch is None:
        result = ArrivalReplay(wl, **common).run()
    else:
        from ksched.solvers import BatchArrivalReplay

        result = BatchArrivalReplay(wl, **common, **batch.replay_arguments()).run()
        offline = _offline(wl, cell, common)
    curves = discrete_by_arrived(result.series, tuple(CURVES))
    grid = curves.reindex(np.arange(ARRIVED_MAX + 1))
    out: dict[str, list[float | None]] = {"arrived": [float(i) for i in grid.index]}
    for column, name in CURVES.items():
        out[name] = [_finite(v) for v in grid[column].to_numpy(np.float64)]
    summary = {k: v for k, v in result.summary.items() if k not in _TIMING}
    timing = {k: float(v) for k, v in result.summary.items() if k in _TIMING}
    return CellRecord(
        cell=cell,
        policy_sha256=policy.sha256,
        trace=result.trace,
        curves=out,
        summary={k: _finite(v) if isinstance(v, float) else v for k, v in summary.items()},
        meta={
            **result.meta,
            "cluster_nodes": len(wl.nodes),
            "cluster_gpus": int(wl.nodes.gpu_count.sum()),
            "workload_pods": len(wl.pods),
            "target_inlined": inlined,
            **offline,
        },
        timing=timing,
    )
