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
from typing import ClassVar, Unpack

import numpy as np
from numpy.typing import NDArray

from ksched.config import default_config
from ksched.framework.pod_info import PodInfo
from ksched.scheduler.scheduler import ScheduleResult
from ksched.sim._common import (
    FAILED,
    PENDING,
    RUNNING,
    PodLog,
    check,
    evicted_keys,
    frozen_heap,
    progress_bar,
    rare_collections,
)
from ksched.sim._setup import InProcessReplay, ReplayOptions
from ksched.sim.leftovers import gpu_leftovers
from ksched.sim.metrics import (
    MILLI,
    ClusterMetrics,
    NodeUtilRecorder,
    SeriesRecorder,
    TargetWorkload,
)
from ksched.sim.objects import build_nodes
from ksched.sim.result import ReplayResult
from ksched.sim.tuning import TunedPods, gpu_request_milli, tune_pods
from ksched.traces.workload import PodTable, Workload

__all__ = ["ArrivalReplay", "fgd_node_names"]


def fgd_node_names(names: NDArray[np.object_], seed: int) -> tuple[NDArray[np.intp], list[str]]:
    """(row order, new names): sorted by name, the i-th prefixed with the i-th of a permutation."""
    order = np.argsort(names, kind="stable").astype(np.intp)
    perm = np.random.default_rng(seed).permutation(len(order))
    width = max(4, len(str(len(order) - 1)))
    return order, [f"{p:0{width}d}-{names[i]}" for p, i in zip(perm, order, strict=True)]


def _largest_first(pods: PodTable, tuned: TunedPods) -> TunedPods:
    """``tuned`` reordered by decreasing GPU milli, then CPU milli (stable: ties keep the
    arrival order)."""
    rows = tuned.rows
    gpu = gpu_request_milli(pods)[rows]
    order = np.lexsort((-pods.cpu_milli[rows].astype(np.int64), -gpu))
    return replace(tuned, rows=rows[order], names=np.asarray(tuned.names)[order])


class ArrivalReplay(InProcessReplay):
    """One profile, one seed, one pass of arrivals. Keyword parameters only.

    The parameters ``InProcessReplay`` takes, and: ``tune``: target GPU
    request as a multiple of cluster GPU capacity (<= 0: no tuning).
    ``rename_nodes``: FGD's node prefixes (default: when ``tie_break`` is
    ``"smallest-name"``), from ``node_order_seed`` (default: ``seed``).
    ``percentage_of_nodes_to_score`` replaces the configuration's global
    value, as the paper's simulator sets 100 for every run (None keeps the
    configuration's). ``largest_first``: after tuning, place the pods by
    decreasing GPU request, then CPU request: an offline first-fit-decreasing
    order, not the protocol's (it sees every pod in advance), whose result is
    a feasible offline placement, a lower end for the offline optimum.
    ``observer(replay)`` is called after every pod.

    Subclasses change how arrived pods are placed by overriding ``_schedule``.
    """

    owner: ClassVar[str] = "ArrivalReplay"
    progress_label: ClassVar[str] = "arrival replay"

    def __init__(
        self,
        workload: Workload,
        *,
        tune: float = 1.3,
        shuffle: bool = True,
        rename_nodes: bool | None = None,
        node_order_seed: int | None = None,
        percentage_of_nodes_to_score: int | None = 100,
        largest_first: bool = False,
        **options: Unpack[ReplayOptions],
    ) -> None:
        check(self.owner, "tune", tune, bool(np.isfinite(tune)), "a finite number")
        super().__init__(workload, **options)
        pct = percentage_of_nodes_to_score
        check(self.owner, "percentage_of_nodes_to_score", pct, pct is None or 0 <= pct <= 100,
              "in [0, 100] or None")  # fmt: skip
        self.tune = tune
        self.shuffle = shuffle
        smallest_name = self.tie_break == "smallest-name"
        self.rename_nodes = smallest_name if rename_nodes is None else rename_nodes
        self.node_order_seed = self.seed if node_order_seed is None else node_order_seed
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.largest_first = largest_first
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
        # What exists now (the workload, the modules) lives to the end, and the pods built
        # next are kept in ``infos``: full collections scanning them all cost as much as a
        # tenth of the replay.
        with frozen_heap(), rare_collections():
            return self._run()

    def _run(self) -> ReplayResult:
        start = time.perf_counter()
        wl = self.workload
        capacity = 1000 * int(wl.nodes.gpu_count.sum())
        rng = np.random.default_rng(self.seed)
        tuned = tune_pods(wl.pods, self.tune, capacity, rng, shuffle=self.shuffle)
        if self.largest_first:
            tuned = _largest_first(wl.pods, tuned)
        if self.rename_nodes:
            order, node_names = fgd_node_names(wl.nodes.name, self.node_order_seed)
        else:
            order, node_names = np.arange(len(wl.nodes)), [str(n) for n in wl.nodes.name]
        nodes = wl.nodes.subset(order)
        config = self.config or default_config()
        if self.percentage_of_nodes_to_score is not None:
            config = config.model_copy(
                update={"percentage_of_nodes_to_score": self.percentage_of_nodes_to_score}
            )
        factory = self._start_scheduler(config)
        self.scheduler.add_nodes(build_nodes(nodes, node_names))
        infos = [factory.info(int(r), str(n)) for r, n in zip(tuned.rows, tuned.names, strict=True)]
        self.target = TargetWorkload.from_pods(wl.pods, self.coverage)
        self.metrics = ClusterMetrics(nodes, node_names, self.target)
        self.log = PodLog(len(tuned))
        gc.freeze()  # the pods and nodes live to the end: spare the collector scanning them
        sched_seconds = self._replay(tuned.rows, infos)
        return self._result(tuned, node_names, sched_seconds, time.perf_counter() - start)

    def _replay(self, rows: NDArray[np.intp], infos: list[PodInfo]) -> float:
        """Add the pods one by one, ``_schedule`` after each; the scheduling seconds."""
        sched, metrics, log = self.scheduler, self.metrics, self.log
        pods = self.workload.pods
        self._cpu, self._mem = pods.cpu_milli, pods.memory_bytes
        self._gpu = gpu_request_milli(pods)
        self._rows, self._infos = rows, infos
        series = SeriesRecorder(len(rows))
        self.node_util = NodeUtilRecorder()
        every = max(1, -(-len(rows) // self.node_samples))
        index = {info.key: i for i, info in enumerate(infos)}
        evicted = 0
        arrived_gpu = 0
        sched_seconds = 0.0
        bar = progress_bar(len(rows), self.progress, self.progress_label)
        for i, info in enumerate(infos):
            arrived_gpu += int(self._gpu[int(rows[i])])
            log.arrival[i] = i
            log.state[i] = PENDING
            self.arrived += 1
            sched.add_pod(info)
            sched_seconds += self._schedule(i)
            for key in evicted_keys(sched, evicted):
                self._evict(index[key])
                evicted += 1
            waiting = self.arrived - self.placed - self.failed
            series.record(i, metrics, arrived_gpu, self.placed, waiting)
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

    def _schedule(self, i: int) -> float:
        """Give the ``i``-th pod, just added, its one attempt; the seconds it took."""
        clock = time.perf_counter
        t0 = clock()
        result = self.scheduler.schedule_one()
        dt = clock() - t0
        self._settle(i, result, dt, i)
        return dt

    def _settle(self, i: int, result: ScheduleResult | None, seconds: float, at: int) -> None:
        """Log the ``i``-th pod's attempt: bound at record ``at``, or dropped, never retried."""
        log = self.log
        log.attempt(i, seconds)
        if result is not None and result.scheduled:
            row = int(self._rows[i])
            node = self.metrics.row[result.node]
            self.metrics.place(node, int(self._cpu[row]), int(self._mem[row]), int(self._gpu[row]))
            log.state[i], log.node[i], log.scheduled[i] = RUNNING, node, at
            self.placed += 1
        else:
            self.scheduler.delete_pod(self._infos[i].key)
            log.state[i] = FAILED
            self.failed += 1

    def _evict(self, i: int) -> None:
        """A preemption victim: it leaves its node and counts as failed, as it cannot return."""
        log = self.log
        if log.state[i] != RUNNING:
            return
        row = int(self._rows[i])
        self.metrics.release(
            int(log.node[i]), int(self._cpu[row]), int(self._mem[row]), int(self._gpu[row])
        )
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
        failed = self._rows[self.log.state == FAILED]
        summary |= gpu_leftovers(
            self.scheduler.snapshot,
            self.metrics,
            self.target,
            self._gpu[failed].astype(np.int64),
            np.asarray(self.workload.pods.gpu_milli[failed] < MILLI, dtype=bool),
        )
        meta = {
            "tune_direction": tuned.direction,
            "tune_target_milli": tuned.target_milli,
            "tune_total_before_milli": tuned.total_before_milli,
            "tune_total_after_milli": tuned.total_after_milli,
            "shuffle": self.shuffle,
            "largest_first": self.largest_first,
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
