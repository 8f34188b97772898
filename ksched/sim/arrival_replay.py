"""The FGD paper's arrival-only protocol: every pod gets one attempt, no pod ever leaves.

As NOTES-fgd-experiments.md describes the paper's runs: times are ignored;
the pods are tuned to ``tune`` x the cluster's GPU capacity in the seeded
order of ``ksched.sim.tuning``; the nodes go in first; then each pod is
added and scheduled once through the full framework (``Scheduler.add_pod``
+ ``schedule_one``). A pod that does not bind at once (unschedulable, an
error, or left waiting at Permit) is deleted and counted as failed, never
retried. As in the simulator, ``percentageOfNodesToScore`` is 100. A
record (arrived %, allocation per resource, fragmentation) is written after
every pod, failed ones included; ``discrete_by_arrived`` turns the records
into the paper's curves.

With the smallest-name tie-break (the paper's patched ``selectHost``), nodes
are ordered and renamed as the simulator does: sorted by name, the i-th
gets the prefix ``%04d-`` of the i-th entry of a permutation seeded with
``node_order_seed``, so ties go to one fixed random node order.
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ksched.config import KubeSchedulerConfiguration, default_config
from ksched.framework.pod_info import PodInfo
from ksched.scheduler.scheduler import TieBreak
from ksched.sim._common import (
    FAILED,
    PENDING,
    RUNNING,
    TIE_BREAKS,
    Observer,
    PodLog,
    Recorder,
    check,
    evicted_keys,
    profile_name,
    progress_bar,
    scheduler_for,
)
from ksched.sim.metrics import (
    DEFAULT_COVERAGE,
    ClusterMetrics,
    NodeUtilRecorder,
    SeriesRecorder,
    TargetWorkload,
)
from ksched.sim.objects import PodConversion, PodFactory, build_nodes
from ksched.sim.result import ReplayResult
from ksched.sim.tuning import TunedPods, gpu_request_milli, tune_pods
from ksched.traces.workload import Workload

__all__ = ["ArrivalReplay", "fgd_node_names"]

OWNER = "ArrivalReplay"


def fgd_node_names(names: NDArray[np.object_], seed: int) -> tuple[NDArray[np.intp], list[str]]:
    """(row order, new names): sorted by name, the i-th prefixed with the i-th of a permutation."""
    order = np.argsort(names, kind="stable").astype(np.intp)
    perm = np.random.default_rng(seed).permutation(len(order))
    width = max(4, len(str(len(order) - 1)))
    return order, [f"{p:0{width}d}-{names[i]}" for p, i in zip(perm, order, strict=True)]


class ArrivalReplay:
    """One profile, one seed, one pass of arrivals. Keyword parameters only.

    ``config``/``profile``: the scheduler configuration and which of its
    profiles places the pods (default: the first). ``tune``: target GPU
    request as a multiple of cluster GPU capacity (<= 0: no tuning).
    ``rename_nodes``: FGD's node prefixes (default: when ``tie_break`` is
    ``"smallest-name"``), from ``node_order_seed`` (default: ``seed``).
    ``coverage``: the share of pods the fragmentation's target workload
    covers. ``percentage_of_nodes_to_score`` replaces the configuration's
    global value, as the paper's simulator sets 100 for every run (None
    keeps the configuration's). ``equivalence_cache``: the scheduler's cache
    of per-node results by pod shape (decisions are the same either way);
    by default on when pod rows repeat, as in openb, and off when nearly
    every pod is distinct, where it only costs. ``observer(replay)`` is
    called after every pod (for tests); ``recorder.attach(scheduler)`` once
    the scheduler exists (``ksched.ml.DecisionRecorder``: decision logs).
    """

    def __init__(
        self,
        workload: Workload,
        *,
        config: KubeSchedulerConfiguration | None = None,
        profile: str | None = None,
        label: str | None = None,
        seed: int = 0,
        tie_break: TieBreak = "random",
        tune: float = 1.3,
        shuffle: bool = True,
        rename_nodes: bool | None = None,
        node_order_seed: int | None = None,
        conversion: PodConversion | None = None,
        coverage: float = DEFAULT_COVERAGE,
        node_samples: int = 100,
        percentage_of_nodes_to_score: int | None = 100,
        equivalence_cache: bool | None = None,
        progress: bool = False,
        observer: Observer | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        check(OWNER, "tune", tune, bool(np.isfinite(tune)), "a finite number")
        check(OWNER, "tie_break", tie_break, tie_break in TIE_BREAKS, f"one of {TIE_BREAKS}")
        check(OWNER, "coverage", coverage, 0 < coverage <= 1, "in (0, 1]")
        check(OWNER, "node_samples", node_samples, node_samples >= 1, ">= 1")
        pct = percentage_of_nodes_to_score
        check(OWNER, "percentage_of_nodes_to_score", pct, pct is None or 0 <= pct <= 100,
              "in [0, 100] or None")  # fmt: skip
        self.workload = workload
        self.config = config
        self.profile = profile
        self.label = label
        self.seed = seed
        self.tie_break: TieBreak = tie_break
        self.tune = tune
        self.shuffle = shuffle
        self.rename_nodes = tie_break == "smallest-name" if rename_nodes is None else rename_nodes
        self.node_order_seed = seed if node_order_seed is None else node_order_seed
        self.conversion = conversion or PodConversion()
        self.coverage = coverage
        self.node_samples = node_samples
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.equivalence_cache = equivalence_cache
        self.progress = progress
        self.observer = observer
        self.recorder = recorder
        self.arrived = self.placed = self.failed = 0

    def counts(self) -> dict[str, int]:
        """Pods by fate so far: every arrived pod is placed or failed at once."""
        pending = self.arrived - self.placed - self.failed
        return {
            "arrived": self.arrived,
            "running": self.placed,
            "failed": self.failed,
            "pending": pending,
        }

    def run(self) -> ReplayResult:
        start = time.perf_counter()
        wl = self.workload
        capacity = 1000 * int(wl.nodes.gpu_count.sum())
        rng = np.random.default_rng(self.seed)
        tuned = tune_pods(wl.pods, self.tune, capacity, rng, shuffle=self.shuffle)
        if self.rename_nodes:
            order, node_names = fgd_node_names(wl.nodes.name, self.node_order_seed)
        else:
            order, node_names = np.arange(len(wl.nodes)), [str(n) for n in wl.nodes.name]
        nodes = wl.nodes.subset(order)
        self.scheduler_name = profile_name(self.config, self.profile)
        factory = PodFactory(wl.pods, replace(self.conversion, scheduler_name=self.scheduler_name))
        cache = factory.repeats if self.equivalence_cache is None else self.equivalence_cache
        config = self.config or default_config()
        if self.percentage_of_nodes_to_score is not None:
            config = config.model_copy(
                update={"percentage_of_nodes_to_score": self.percentage_of_nodes_to_score}
            )
        self.scheduler = scheduler_for(config, self.seed, self.tie_break, equivalence_cache=cache)
        if self.recorder is not None:
            self.recorder.attach(self.scheduler)
        self.scheduler.add_nodes(build_nodes(nodes, node_names))
        infos = [factory.info(int(r), str(n)) for r, n in zip(tuned.rows, tuned.names, strict=True)]
        self.target = TargetWorkload.from_pods(wl.pods, self.coverage)
        self.metrics = ClusterMetrics(nodes, node_names, self.target)
        self.log = PodLog(len(tuned))
        gc.collect()
        gc.freeze()  # the pods and nodes live to the end: spare the collector scanning them
        try:
            sched_seconds = self._replay(tuned.rows, infos)
        finally:
            gc.unfreeze()
        return self._result(tuned, node_names, sched_seconds, time.perf_counter() - start)

    def _replay(self, rows: NDArray[np.intp], infos: list[PodInfo]) -> float:
        sched, metrics, log = self.scheduler, self.metrics, self.log
        pods = self.workload.pods
        cpu, mem, gpu = pods.cpu_milli, pods.memory_bytes, gpu_request_milli(pods)
        series = SeriesRecorder(len(rows))
        self.node_util = NodeUtilRecorder()
        every = max(1, -(-len(rows) // self.node_samples))
        index = {info.key: i for i, info in enumerate(infos)}
        evicted = 0
        arrived_gpu = 0
        sched_seconds = 0.0
        clock = time.perf_counter
        bar = progress_bar(len(rows), self.progress, "arrival replay")
        for i, info in enumerate(infos):
            row = int(rows[i])
            arrived_gpu += int(gpu[row])
            log.arrival[i] = i
            log.state[i] = PENDING
            self.arrived += 1
            sched.add_pod(info)
            t0 = clock()
            result = sched.schedule_one()
            dt = clock() - t0
            sched_seconds += dt
            log.attempt(i, dt)
            if result is not None and result.scheduled:
                node = metrics.row[result.node]
                metrics.place(node, int(cpu[row]), int(mem[row]), int(gpu[row]))
                log.state[i], log.node[i], log.scheduled[i] = RUNNING, node, i
                self.placed += 1
            else:
                sched.delete_pod(info.key)  # dropped, never retried
                log.state[i] = FAILED
                self.failed += 1
            for key in evicted_keys(sched, evicted):
                self._evict(index[key], int(rows[index[key]]), cpu, mem, gpu)
                evicted += 1
            series.record(i, metrics, arrived_gpu, self.placed, 0)
            if i % every == 0:
                self.node_util.sample(i, metrics)
            if self.observer is not None:
                self.observer(self)
            bar.update()
        bar.close()
        if len(rows) and (len(rows) - 1) % every:
            self.node_util.sample(len(rows) - 1, metrics)
        self.series = series
        return sched_seconds

    def _evict(
        self,
        i: int,
        row: int,
        cpu: NDArray[np.int64],
        mem: NDArray[np.int64],
        gpu: NDArray[np.int64],
    ) -> None:
        """A preemption victim: it leaves its node and counts as failed, as it cannot return."""
        log = self.log
        if log.state[i] != RUNNING:
            return
        self.metrics.release(int(log.node[i]), int(cpu[row]), int(mem[row]), int(gpu[row]))
        log.state[i] = FAILED
        log.evictions[i] += 1
        self.placed -= 1
        self.failed += 1

    def _result(
        self, tuned: TunedPods, node_names: list[str], sched_seconds: float, wall: float
    ) -> ReplayResult:
        summary = self.log.summary(self.metrics, sched_seconds, wall)
        series = self.series.frame()
        summary["arrived_gpu_pct_final"] = (
            float(series["arrived_gpu_pct"].iloc[-1]) if len(series) else 0.0
        )
        summary["tune"] = f"{self.tune:g}"
        summary["tie_break"] = self.tie_break
        meta = {
            "tune_direction": tuned.direction,
            "tune_target_milli": tuned.target_milli,
            "tune_total_before_milli": tuned.total_before_milli,
            "tune_total_after_milli": tuned.total_after_milli,
            "shuffle": self.shuffle,
            "renamed_nodes": self.rename_nodes,
            "node_order_seed": self.node_order_seed,
            "coverage": self.coverage,
            "target_shapes": len(self.target),
            "gpu_as_extended_resource": self.conversion.gpu_as_extended_resource,
            "percentage_of_nodes_to_score": self.scheduler.config.percentage_of_nodes_to_score,
        }
        return ReplayResult(
            profile=self.label or self.scheduler_name,
            protocol="arrival",
            trace=self.workload.name,
            seed=self.seed,
            summary=summary,
            pods=self.log.frame(tuned.names, self.workload.pods, tuned.rows, node_names),
            series=series,
            node_util=self.node_util.frame(),
            meta=meta,
        )
