"""Time-based replay: pods arrive at their creation time, run, and leave; nodes come and go.

Every change is an event on ``ksched.sim.engine.Engine``, whose clock is the
scheduler's clock, so queue backoff and the unschedulable pool's timeout run
in simulated time. At equal times departures go first (they free room),
then node events, then arrivals, then one scheduling step that drains the
active queue with kube-scheduler's retry semantics (unschedulable pods wait
for a cluster event or their backoff; ``Scheduler.next_wakeup`` schedules
the next step), then node samples. The scheduler runs with
SchedulerPopFromBackoffQ off unless ``feature_gates`` turns it on
(``ksched.sim._common.SIM_FEATURE_GATES`` says why).

Times are trace seconds from the first arrival, divided by
``time_compression``; ``horizon`` (trace seconds, compressed likewise) ends
the replay. ``lifetime="duration"``: a pod runs for its ``duration`` from
the moment it is bound (NaN: forever), so queueing delays its end;
``"deletion"``: it is deleted at its trace ``deletion_time``, pending or not
(a pending pod deleted so counts as failed).

A node removed by a ``NodeEvent`` (a failure or a drain) takes its pods
with it: each is evicted and, with ``resubmit_evicted``, submitted again at
once (it restarts), otherwise counted as failed. Preemption victims are
handled the same way. Without a horizon the replay ends when no arrival,
departure or node event is left and no pod waits in the active or backoff
queue: the pods still in the unschedulable pool can then never fit.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, Unpack

import numpy as np
from numpy.typing import NDArray

from ksched.framework.clock import SimClock
from ksched.framework.pod_info import PodInfo
from ksched.framework.queue import ACTIVE, BACKOFF
from ksched.scheduler.scheduler import ScheduleResult
from ksched.sim._common import (
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    check,
    evicted_keys,
    frozen_heap,
    progress_bar,
    rare_collections,
)
from ksched.sim._setup import InProcessReplay, ReplayOptions, arrival_order, records_in_time
from ksched.sim.engine import Engine
from ksched.sim.metrics import arrival_window_means, percentiles
from ksched.sim.objects import build_nodes
from ksched.sim.result import ReplayResult
from ksched.sim.tuning import gpu_request_milli
from ksched.traces.workload import Workload

__all__ = ["Lifetime", "NodeEvent", "TimeReplay"]

Lifetime = Literal["duration", "deletion"]
# Event priorities at equal times: lower runs first.
DEPART, NODE, ARRIVE, STEP, SAMPLE = range(5)
# Arriving pods are built this many at a time (see TimeReplay._arrival_info).
_BUILD_BATCH: Final = 256


@dataclass(frozen=True)
class NodeEvent:
    """Node ``node`` (a name in the workload's node table) is added or removed at ``time``.

    ``time`` is in trace seconds from the first arrival. A node whose first
    event is an ``add`` is absent until then.
    """

    time: float
    action: Literal["add", "remove"]
    node: str


class TimeReplay(InProcessReplay):
    """One profile, one seed, the workload in simulated time. Keyword parameters only.

    The parameters ``InProcessReplay`` takes, and those the module describes.
    ``observer(replay)`` is called after every event (for invariant tests);
    ``counts()`` and ``scheduler`` are what it may read.
    """

    owner: ClassVar[str] = "TimeReplay"
    retries_repeat: ClassVar[bool] = True

    def __init__(
        self,
        workload: Workload,
        *,
        horizon: float | None = None,
        time_compression: float = 1.0,
        lifetime: Lifetime = "duration",
        resubmit_evicted: bool = True,
        node_events: Sequence[NodeEvent] = (),
        **options: Unpack[ReplayOptions],
    ) -> None:
        super().__init__(workload, **options)
        owner = self.owner
        check(owner, "horizon", horizon, horizon is None or horizon >= 0, ">= 0 or None")
        check(
            owner,
            "time_compression",
            time_compression,
            math.isfinite(time_compression) and time_compression > 0,
            "a finite number > 0",
        )
        check(
            owner,
            "lifetime",
            lifetime,
            lifetime in ("duration", "deletion"),
            "'duration' or 'deletion'",
        )
        known = set(map(str, workload.nodes.name))
        for ev in node_events:
            check(owner, "node_events", ev, ev.node in known and ev.action in ("add", "remove"),
                  "events on nodes of the workload, 'add' or 'remove'")  # fmt: skip
            check(
                owner, "node_events", ev, math.isfinite(ev.time) and ev.time >= 0, "at times >= 0"
            )
        self.horizon = horizon
        self.time_compression = time_compression
        self.lifetime: Lifetime = lifetime
        self.resubmit_evicted = resubmit_evicted
        self.node_events = tuple(sorted(node_events, key=lambda e: e.time))
        self.arrived = self.running = self.finished = self.failed = 0

    def counts(self) -> dict[str, int]:
        """Pods by fate so far; arrived == running + finished + failed + pending always."""
        pending = self.arrived - self.running - self.finished - self.failed
        return {
            "arrived": self.arrived,
            "running": self.running,
            "finished": self.finished,
            "failed": self.failed,
            "pending": pending,
        }

    # -- set-up ----------------------------------------------------------------------
    def run(self) -> ReplayResult:
        with rare_collections():
            return self._run()

    def _run(self) -> ReplayResult:
        start = time.perf_counter()
        wl, pods = self.workload, self.workload.pods
        rows, origin = arrival_order(wl, "replay it with the arrival protocol")
        self.rows = rows
        created = pods.creation_time
        scale = 1.0 / self.time_compression
        self.arrive_at = (created[rows] - origin) * scale
        if self.lifetime == "duration":
            self.life = pods.duration[rows] * scale
        else:
            self.life = (pods.deletion_time[rows] - origin) * scale  # absolute deletion times
        self.limit = math.inf if self.horizon is None else self.horizon * scale

        clock = SimClock()
        self.engine = Engine(clock)
        self.factory = self._start_scheduler(self.config, clock)
        names = [str(n) for n in wl.nodes.name]
        first: dict[str, str] = {}
        for ev in self.node_events:
            first.setdefault(ev.node, ev.action)
        present = np.asarray([first.get(n) != "add" for n in names], dtype=np.bool_)
        self.node_objects = build_nodes(wl.nodes)
        self.scheduler.add_nodes(n for n, p in zip(self.node_objects, present, strict=True) if p)
        self.metrics, self.log, self.series, self.node_util = records_in_time(
            wl, names, self.coverage, len(rows), present
        )
        self._cpu, self._mem = pods.cpu_milli, pods.memory_bytes
        self._gpu = gpu_request_milli(pods)
        self._live: dict[int, PodInfo] = {}
        self._built: dict[int, PodInfo] = {}
        self._index: dict[str, int] = {}
        self._departure: dict[int, int] = {}
        self._steps: set[float] = set()
        self._external = 0
        self._next = 0
        self._arrived_gpu = 0
        self._evicted_seen = 0
        self._sched_seconds = 0.0
        # Has a recorded quantity (counts, allocation, capacity) changed since the last row?
        # A step whose cycles all failed changes none: it adds no row.
        self._changed = True
        self._post_initial_events()
        with frozen_heap():  # nodes, tables and the scheduler live to the end
            end = self._loop()
        # Events past the end hold this replay's bound methods: a cycle through the
        # engine would leave the whole replay to a full collection.
        self.engine.clear()
        return self._result(end, time.perf_counter() - start)

    def _post_initial_events(self) -> None:
        engine, scale = self.engine, 1.0 / self.time_compression
        for ev in self.node_events:
            if ev.time * scale < self.limit:
                engine.schedule(ev.time * scale, NODE, self._node_event, ev)
                self._external += 1
        self._post_arrival()
        end = self._expected_end()
        for t in np.linspace(0.0, end, self.node_samples):
            engine.schedule(float(t), SAMPLE, self._sample)

    def _expected_end(self) -> float:
        """When the replay would end without queueing: where node samples are spread."""
        if len(self.rows) == 0:
            return 0.0
        ends = self.arrive_at + self.life if self.lifetime == "duration" else self.life
        finite = ends[np.isfinite(ends)]
        end = max(float(self.arrive_at[-1]), float(finite.max()) if len(finite) else 0.0)
        return min(end, self.limit) if math.isfinite(self.limit) else end

    # -- the loop ------------------------------------------------------------------------
    def _loop(self) -> float:
        engine, observer = self.engine, self.observer
        self._bar = progress_bar(len(self.rows), self.progress, "time replay")
        end = self.limit
        try:
            while engine.peek() < self.limit:
                engine.step()
                if observer is not None:
                    observer(self)
                if self._external == 0 and self._drained():
                    end = engine.now
                    break
        finally:
            self._bar.close()
        if not math.isfinite(end):
            end = engine.now
        self._record(end)
        self.node_util.sample(end, self.metrics)
        return end

    def _drained(self) -> bool:
        queue = self.scheduler.queue
        waiting = queue.pending_pods()
        return (
            waiting[ACTIVE] == 0
            and waiting[BACKOFF] == 0
            and not queue.in_flight()
            and len(self.scheduler.waiting_pods) == 0
        )

    def _post_step(self, at: float) -> None:
        if at not in self._steps:
            self._steps.add(at)
            self.engine.schedule(at, STEP, self._step, at)

    def _post_arrival(self) -> None:
        i = self._next
        if i < len(self.rows) and self.arrive_at[i] < self.limit:
            self.engine.schedule(float(self.arrive_at[i]), ARRIVE, self._arrive, i)
            self._external += 1

    def _record(self, now: float) -> None:
        pending = self.arrived - self.running - self.finished - self.failed
        self.series.record(now, self.metrics, self._arrived_gpu, self.running, pending)

    # -- events --------------------------------------------------------------------------
    def _arrive(self, i: int) -> None:
        self._external -= 1
        now = self.engine.now
        row = int(self.rows[i])
        info = self._arrival_info(i)
        log = self.log
        log.arrival[i], log.state[i] = now, PENDING
        self.arrived += 1
        self._changed = True
        self._arrived_gpu += int(self._gpu[row])
        self._live[i] = info
        self._index[info.key] = i
        self.scheduler.add_pod(info)
        if self.lifetime == "deletion" and math.isfinite(self.life[i]):
            self.engine.schedule(max(float(self.life[i]), now), DEPART, self._delete, i)
            self._external += 1
        self._post_step(now)
        self._next += 1
        self._post_arrival()
        self._bar.update()

    def _arrival_info(self, i: int) -> PodInfo:
        """The pod of arrival ``i``, built with the next ones in one batch.

        Built one per event, between scheduling cycles that sweep the node
        arrays, a pod cost three times what it costs in a batch (pydantic's
        validators fell out of the CPU caches). Arrivals come in order and a
        pod depends on its row alone, so the pods are the same. Arrivals past
        the horizon may be built for nothing: at most one batch.
        """
        built = self._built
        info = built.pop(i, None)
        if info is not None:
            return info
        built.clear()  # (arrivals out of order: start a batch here)
        rows, factory = self.rows, self.factory
        info = factory.info(int(rows[i]))
        for j in range(i + 1, min(i + _BUILD_BATCH, len(rows))):
            built[j] = factory.info(int(rows[j]))
        # Pods outlive collections: the collector traversed each in the younger
        # generations, half its time in a replay of 30,000 pods. Cycles alive
        # now wait for ``_run`` to unfreeze; the replay itself makes next to none.
        gc.freeze()
        return info

    def _depart(self, i: int) -> None:
        """A running pod's duration is over."""
        self._external -= 1
        del self._departure[i]
        self._finish(i)

    def _delete(self, i: int) -> None:
        """The trace deletes the pod (lifetime ``"deletion"``), whatever it is doing."""
        self._external -= 1
        state = self.log.state[i]
        if state == RUNNING:
            self._finish(i)
        elif state == PENDING:
            info = self._live.pop(i)
            del self._index[info.key]
            self.scheduler.delete_pod(info.key)
            self.log.state[i] = FAILED
            self.failed += 1
            self._changed = True

    def _finish(self, i: int) -> None:
        info = self._live.pop(i)
        del self._index[info.key]
        self.scheduler.delete_pod(info.key)
        self._release(i)
        self.log.state[i], self.log.finish[i] = FINISHED, self.engine.now
        self.finished += 1
        self._post_step(self.engine.now)

    def _release(self, i: int) -> None:
        self._changed = True
        row = int(self.rows[i])
        node = int(self.log.node[i])
        self.metrics.release(node, int(self._cpu[row]), int(self._mem[row]), int(self._gpu[row]))
        self.running -= 1

    def _evict(self, i: int) -> None:
        """The pod lost its node (node removed, or preempted): resubmit it or fail it."""
        self._release(i)
        self.log.evictions[i] += 1
        seq = self._departure.pop(i, None)
        if seq is not None:
            self.engine.cancel(seq)
            self._external -= 1
        old = self._live.pop(i)
        if self.resubmit_evicted:
            info = self.factory.info(int(self.rows[i]))
            self._live[i] = info
            self._index[old.key] = i
            self.log.state[i] = PENDING
            self.scheduler.add_pod(info)
        else:
            del self._index[old.key]
            self.log.state[i] = FAILED
            self.failed += 1

    def _node_event(self, ev: NodeEvent) -> None:
        self._external -= 1
        metrics = self.metrics
        row = metrics.row[ev.node]
        if ev.action == "add":
            if not metrics.alive[row]:
                self.scheduler.add_node(self.node_objects[row])
                metrics.add_node(row)
        elif metrics.alive[row]:
            for pod in self.scheduler.remove_node(ev.node):
                i = self._index.get(pod.key)
                if i is not None and self.log.state[i] == RUNNING:
                    self._evict(i)
            metrics.remove_node(row)
        self._changed = True
        self._post_step(self.engine.now)

    def _sample(self, _: object) -> None:
        self.node_util.sample(self.engine.now, self.metrics)

    def _step(self, at: float) -> None:
        """Drain the active queue (timers first), then arm the next timer wake-up."""
        self._steps.discard(at)
        sched, clock = self.scheduler, time.perf_counter
        while True:
            t0 = clock()
            results = sched.run(max_cycles=1)
            dt = clock() - t0
            if not results:
                break
            self._sched_seconds += dt
            for result in results:
                self._on_result(result, dt / len(results))
        for key in evicted_keys(sched, self._evicted_seen):
            self._evicted_seen += 1
            i = self._index.get(key)
            if i is not None and self.log.state[i] == RUNNING:
                self._evict(i)
        now = self.engine.now
        if self._changed:
            self._record(now)
            self._changed = False
        wake = sched.next_wakeup()
        if wake is not None:
            # A timer at or before now was just run; never re-arm the same instant.
            self._post_step(wake if wake > now else math.nextafter(now, math.inf))

    def _on_result(self, result: ScheduleResult, seconds: float) -> None:
        i = self._index.get(result.pod.key)
        log = self.log
        if i is None or log.state[i] != PENDING:
            return  # a deleted or already placed pod the queue skipped: no attempt
        log.attempt(i, seconds)
        if not result.scheduled:
            return  # waiting at Permit, or back in the queue
        now = self.engine.now
        row = int(self.rows[i])
        node = self.metrics.row[result.node]
        self.metrics.place(node, int(self._cpu[row]), int(self._mem[row]), int(self._gpu[row]))
        log.state[i], log.node[i] = RUNNING, node
        if math.isnan(log.scheduled[i]):
            log.scheduled[i] = now
        self.running += 1
        self._changed = True
        if self.lifetime == "duration" and math.isfinite(self.life[i]):
            self._departure[i] = self.engine.schedule(
                now + float(self.life[i]), DEPART, self._depart, i
            )
            self._external += 1

    # -- the result ---------------------------------------------------------------------
    def _result(self, end: float, wall: float) -> ReplayResult:
        log = self.log
        summary = log.summary(self.metrics, self._sched_seconds, wall)
        placed = np.isfinite(log.scheduled)
        delay50, delay99 = percentiles(log.scheduled - log.arrival, (50, 99))
        jct = (log.finish - log.arrival)[np.isfinite(log.finish)]
        summary.update(
            {
                "queue_delay_p50_s": delay50,
                "queue_delay_p99_s": delay99,
                "jct_mean_s": float(jct.mean()) if len(jct) else math.nan,
                "jct_p50_s": percentiles(jct, (50,))[0],
                "makespan_s": float(np.nanmax(log.finish) - np.nanmin(log.arrival))
                if np.isfinite(log.finish).any()
                else math.nan,
                "end_time_s": end,
                "time_compression": f"{self.time_compression:g}",
                "lifetime": self.lifetime,
                "tie_break": self.tie_break,
            }
        )
        series = self.series.frame()
        summary.update(arrival_window_means(series, log.arrival))
        dropped = len(self.workload.pods) - len(self.rows)
        if dropped:
            summary["pods_without_creation_time"] = dropped
        meta = {
            "horizon": self.horizon,
            "resubmit_evicted": self.resubmit_evicted,
            "node_events": len(self.node_events),
            "coverage": self.coverage,
            "pods_ever_placed": int(placed.sum()),
            "gpu_as_extended_resource": self.conversion.gpu_as_extended_resource,
        }
        names: NDArray[np.object_] = self.workload.pods.name[self.rows]
        return ReplayResult(
            profile=self.label or self.scheduler_name,
            protocol="time",
            trace=self.workload.name,
            seed=self.seed,
            summary=summary,
            pods=log.frame(names, self.workload.pods, self.rows, self.metrics.names),
            series=series,
            node_util=self.node_util.frame(),
            meta=meta,
        )
