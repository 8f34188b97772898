"""Pieces both replay protocols share: the scheduler, the per-pod log, the summary."""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ksched.config import KubeSchedulerConfiguration, default_config
from ksched.config.feature_gates import POP_FROM_BACKOFF_Q
from ksched.framework.clock import SimClock
from ksched.scheduler import Scheduler
from ksched.scheduler.scheduler import TieBreak
from ksched.sim.metrics import ClusterMetrics, percentiles
from ksched.traces.workload import PodTable

NOT_ARRIVED: Final = 0
PENDING: Final = 1
RUNNING: Final = 2
FINISHED: Final = 3
FAILED: Final = 4

TIE_BREAKS: Final = ("random", "smallest-name")
# A replay makes next to no cyclic garbage, yet with the default thresholds
# the collector took an eighth of its CPU time rescanning live nodes and pods;
# rarer collections still bound what a plugin's reference cycles can hold.
GC_THRESHOLD: Final = (10_000, 100, 100)

SIM_FEATURE_GATES: Final[Mapping[str, bool]] = MappingProxyType({POP_FROM_BACKOFF_Q: False})
"""Where a replay's scheduler departs from kube-scheduler's default gates, and why.

A simulated cycle takes no time, so the scheduler is idle after every event;
with SchedulerPopFromBackoffQ on, each pod an event sends to backoffQ would be
retried at once, after every event, where a real scheduler retries as its
busy time allows.  Off, a retry waits out the pod's backoff (before v1.33).
"""


def check(owner: str, name: str, value: object, ok: bool, rule: str) -> None:
    """Refuse a bad parameter with the same sentence everywhere."""
    if not ok:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead."
        )


def profile_name(config: KubeSchedulerConfiguration | None, profile: str | None) -> str:
    """The schedulerName the replayed pods use: ``profile``, else the first profile's."""
    names = [p.scheduler_name for p in (config or default_config()).profiles]
    name = profile or names[0]
    if name not in names:
        raise ValueError(
            f"profile {name!r} is not in the configuration (it has {', '.join(names)})"
        )
    return name


def scheduler_for(
    config: KubeSchedulerConfiguration | None,
    seed: int,
    tie_break: TieBreak,
    *,
    clock: SimClock | None = None,
    equivalence_cache: bool = True,
    feature_gates: Mapping[str, bool] | None = None,
) -> Scheduler:
    """A scheduler on a simulated clock that does not build failure messages nobody reads."""
    return Scheduler(
        config or default_config(),
        clock=clock or SimClock(),
        seed=seed,
        tie_break=tie_break,
        explain_messages=False,
        equivalence_cache=equivalence_cache,
        feature_gates=SIM_FEATURE_GATES if feature_gates is None else feature_gates,
    )


class Progress(Protocol):
    def update(self, n: float = 1) -> object: ...

    def close(self) -> None: ...


def progress_bar(total: int, enabled: bool, desc: str) -> Progress:
    """A tqdm bar over pods; a no-op one when disabled (not a TTY, or --no-progress)."""
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the environment

    bar: Progress = tqdm(total=total, unit="pod", desc=desc, disable=not enabled)
    return bar


def evicted_keys(sched: Scheduler, seen: int) -> list[str]:
    """Pods the scheduler's client evicted (preemption victims) since ``seen`` evictions."""
    evicted: list[str] | None = getattr(sched.client, "evicted", None)
    return [] if evicted is None else evicted[seen:]


class PodLog:
    """Per-pod outcome columns, preallocated: no per-pod pandas work during a replay."""

    def __init__(self, n: int) -> None:
        nan = np.full(n, np.nan)
        self.state = np.zeros(n, dtype=np.int8)
        self.arrival = nan.copy()
        self.scheduled = nan.copy()
        self.finish = nan.copy()
        self.node = np.full(n, -1, dtype=np.int32)
        self.attempts = np.zeros(n, dtype=np.int32)
        self.evictions = np.zeros(n, dtype=np.int32)
        self.latency_us = np.zeros(n)
        # Every attempt's time: doubles in place (8 bytes each), not float objects in a list
        # (32 bytes each; a million-pod time replay makes about ten million attempts).
        self.attempt_us = array("d")

    def attempt(self, i: int, seconds: float) -> None:
        us = seconds * 1e6
        self.attempts[i] += 1
        self.latency_us[i] += us
        self.attempt_us.append(us)

    def frame(
        self,
        names: NDArray[np.object_],
        table: PodTable,
        rows: NDArray[np.intp],
        node_names: list[str],
    ) -> pd.DataFrame:
        """The ``pods`` frame of a result; ``rows`` maps each logged pod to its table row."""
        placed_names = np.asarray([*node_names, ""], dtype=object)
        return pd.DataFrame(
            {
                "name": names.astype(object),
                "arrival_time": self.arrival,
                "scheduled_time": self.scheduled,
                "finish_time": self.finish,
                "node": placed_names[self.node],  # -1 picks the trailing ""
                "attempts": self.attempts.astype(np.int64),
                "failed": self.state == FAILED,
                "queue_delay_s": self.scheduled - self.arrival,
                "sched_latency_us": np.where(self.attempts > 0, self.latency_us, np.nan),
                "cpu_milli": table.cpu_milli[rows],
                "memory_bytes": table.memory_bytes[rows],
                "num_gpu": table.num_gpu[rows].astype(np.int64),
                "gpu_milli": table.gpu_milli[rows].astype(np.int64),
                "evictions": self.evictions.astype(np.int64),
            }
        )

    def summary(
        self, metrics: ClusterMetrics, sched_seconds: float, wall_seconds: float
    ) -> dict[str, float | int | str]:
        state = self.state
        attempts = np.array(self.attempt_us, dtype=np.float64)  # a copy: appends may follow
        p50, p99 = percentiles(attempts, (50, 99))
        placed = int(((state == RUNNING) | (state == FINISHED)).sum())
        return {
            "pods_total": len(state),
            "pods_arrived": int((state != NOT_ARRIVED).sum()),
            "pods_placed": placed,
            "pods_failed": int((state == FAILED).sum()),
            "pods_pending_at_end": int((state == PENDING).sum()),
            "pods_evicted": int(self.evictions.sum()),
            "gpu_alloc_pct_final": metrics.gpu_alloc_pct,
            "cpu_alloc_pct_final": metrics.cpu_alloc_pct,
            "mem_alloc_pct_final": metrics.mem_alloc_pct,
            "gpu_frag_pct_final": metrics.gpu_frag_pct,
            "sched_latency_p50_us": p50,
            "sched_latency_p99_us": p99,
            "throughput_pods_per_s": len(attempts) / sched_seconds
            if sched_seconds > 0
            else math.nan,
            "wall_seconds": wall_seconds,
        }


Observer = Callable[[Any], None]


class Recorder(Protocol):
    """Watches a replay's scheduler (``ksched.ml.DecisionRecorder`` logs its decisions)."""

    def attach(self, scheduler: Scheduler) -> None: ...


@contextmanager
def frozen_heap() -> Iterator[None]:
    """What is alive now is frozen for the block: the collector does not scan it again.

    Garbage is collected first: frozen, an earlier replay's cluster would be unfrozen
    into the oldest generation after the block and frozen again by the next replay,
    never scanned (a grid worker grew by 75 MB a cell, to 12 GB).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def rare_collections() -> Iterator[None]:
    """The collector at ``GC_THRESHOLD`` for the block, its thresholds restored after."""
    threshold = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
