"""A trace replayed through the API: pods created at their arrival times, the stack does the rest.

``ApiReplay`` creates each pod through the API server at its (compressed)
creation time, with its duration as the ``ksched.io/duration-seconds``
annotation; the scheduler binds it through ``pods/binding``, the simulated
kubelet runs it and reports Succeeded. A watch on the pods records when
each was bound and finished, and the same ``ClusterMetrics``, series and
``ReplayResult`` as ``ksched.sim``'s time-based replay are filled from
those observations. Times are wall seconds since the first create.

Summary keys as ``ksched.sim.result`` (``protocol="time"``), with
``sched_latency_*_us`` the observed create-to-bind latency and
``throughput_pods_per_s`` the pods bound per second between the first
create and the last bind; ``completed_pods_per_s`` likewise up to the last
finish.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import numpy as np

from ksched.controllers.client import PODS, ApiError, KubeClient, Obj
from ksched.controllers.informer import Informer
from ksched.kubelet.stages import DURATION_ANNOTATION
from ksched.sim._common import FAILED, FINISHED, PENDING, RUNNING, check
from ksched.sim._setup import arrival_order, records_in_time
from ksched.sim.metrics import DEFAULT_COVERAGE, arrival_window_means, percentiles
from ksched.sim.objects import PodConversion, pod_dict
from ksched.sim.result import ReplayResult
from ksched.sim.throughput import PERCENTILES, scheduling_throughput
from ksched.sim.tuning import gpu_request_milli
from ksched.traces.workload import Workload

__all__ = ["ApiReplay"]

OWNER: Final = "ApiReplay"
IMAGE: Final = "registry.k8s.io/pause:3.10"
PRIORITY_CLASSES_PATH: Final = "/apis/scheduling.k8s.io/v1/priorityclasses"


def priority_class(value: int) -> str:
    """The PriorityClass a replay gives pods of trace priority ``value``."""
    return f"ksched-priority-{value}" if value >= 0 else f"ksched-priority-minus-{-value}"


class ApiReplay:
    """Replay ``workload``'s pods through the API server of ``kubeconfig``. Keywords only.

    The cluster must run the workload's nodes (``ksched kubelet --trace``)
    and a scheduler for ``scheduler_name``. Pods go to a fresh namespace
    (``namespace``, default ``replay-<random>``). The replay ends when every
    pod finished, or when the pods left have not changed for ``idle_seconds``
    (unschedulable, or running forever), or after ``timeout`` seconds.
    """

    def __init__(
        self,
        workload: Workload,
        kubeconfig: str,
        *,
        scheduler_name: str = "default-scheduler",
        label: str | None = None,
        time_compression: float = 1.0,
        horizon: float | None = None,
        namespace: str | None = None,
        creators: int = 8,
        idle_seconds: float = 30.0,
        timeout: float = 3600.0,
        coverage: float = DEFAULT_COVERAGE,
        conversion: PodConversion | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        check(
            OWNER,
            "time_compression",
            time_compression,
            math.isfinite(time_compression) and time_compression > 0,
            "a finite number > 0",
        )
        check(OWNER, "horizon", horizon, horizon is None or horizon >= 0, ">= 0 or None")
        check(OWNER, "creators", creators, creators >= 1, ">= 1")
        check(OWNER, "idle_seconds", idle_seconds, idle_seconds > 0, "> 0")
        self.workload = workload
        self.kubeconfig = kubeconfig
        self.scheduler_name = scheduler_name
        self.label = label or scheduler_name
        self.time_compression = time_compression
        self.horizon = horizon
        self.namespace = namespace or f"replay-{uuid.uuid4().hex[:8]}"
        self.creators = creators
        self.idle_seconds = idle_seconds
        self.timeout = timeout
        self.coverage = coverage
        self.conversion = replace(
            conversion or PodConversion(), scheduler_name=scheduler_name, namespace=self.namespace
        )
        self.progress = progress
        self.create_errors: list[str] = []

    # -- set-up --------------------------------------------------------------------------
    def _prepare(self) -> None:
        pods = self.workload.pods
        rows, origin = arrival_order(self.workload, "it cannot be replayed in time")
        arrive = (pods.creation_time[rows] - origin) / self.time_compression
        if self.horizon is not None:
            keep = arrive < self.horizon / self.time_compression
            rows, arrive = rows[keep], arrive[keep]
        self.rows, self.arrive_at = rows, arrive
        self.life = pods.duration[rows] / self.time_compression
        self.index = {str(pods.name[r]): i for i, r in enumerate(rows)}
        if len(self.index) != len(rows):
            raise ValueError(f"workload {self.workload.name!r} repeats pod names")
        wl = self.workload
        self.names = [str(n) for n in wl.nodes.name]
        self.metrics, self.log, self.series, self.node_util = records_in_time(
            wl, self.names, self.coverage, len(rows)
        )
        self._gpu = gpu_request_milli(pods)
        self._lock = threading.Lock()
        self._arrived_gpu = 0
        self._running = 0
        self._finished = 0
        self._failed = 0
        self._created = 0
        self._last_change = time.monotonic()

    def pod(self, i: int) -> Obj:
        """The API object of the ``i``-th arrival.

        A trace priority becomes the pod's PriorityClass (``priority_class``): Priority
        admission refuses a pod that states its own number, in any API server.
        """
        d = pod_dict(self.workload.pods, int(self.rows[i]), self.conversion)
        priority = d["spec"].pop("priority", None)
        if priority:
            d["spec"]["priorityClassName"] = priority_class(int(priority))
        for container in d["spec"]["containers"]:
            container.setdefault("image", IMAGE)  # the API requires one; nothing pulls it
        life = float(self.life[i])
        if math.isfinite(life):
            d["metadata"].setdefault("annotations", {})[DURATION_ANNOTATION] = f"{life:.6f}"
        return d

    # -- observations --------------------------------------------------------------------
    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _record(self, now: float) -> None:
        pending = self._created - self._running - self._finished - self._failed
        self.series.record(now, self.metrics, self._arrived_gpu, self._running, pending)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        i = self.index.get(str(obj["metadata"].get("name")))
        if i is None:
            return
        now = self._now()
        log, row = self.log, int(self.rows[i])
        table = self.workload.pods
        with self._lock:
            state = log.state[i]
            node = (obj.get("spec") or {}).get("nodeName")
            if new is None:
                if state == PENDING:
                    log.state[i] = FAILED
                    self._failed += 1
                elif state == RUNNING:
                    self._release(i, row, now)
                self._touch(now)
                return
            if state == PENDING and node:
                n = self.metrics.row.get(str(node))
                if n is not None:
                    self.metrics.place(
                        n,
                        int(table.cpu_milli[row]),
                        int(table.memory_bytes[row]),
                        int(self._gpu[row]),
                    )
                    log.node[i] = n
                log.state[i], log.scheduled[i] = RUNNING, now
                self._running += 1
                state = RUNNING
                self._touch(now)
            phase = (new.get("status") or {}).get("phase")
            if state == RUNNING and phase in ("Succeeded", "Failed"):
                self._release(i, row, now)
                self._touch(now)

    def _release(self, i: int, row: int, now: float) -> None:
        table, log = self.workload.pods, self.log
        n = int(log.node[i])
        if n >= 0:
            self.metrics.release(
                n, int(table.cpu_milli[row]), int(table.memory_bytes[row]), int(self._gpu[row])
            )
        log.state[i], log.finish[i] = FINISHED, now
        self._running -= 1
        self._finished += 1

    def _touch(self, now: float) -> None:
        self._last_change = time.monotonic()
        self._record(now)

    # -- the run -------------------------------------------------------------------------
    def run(self) -> ReplayResult:
        wall = time.perf_counter()
        self._prepare()
        client = KubeClient(self.kubeconfig)
        try:
            client.request(
                "POST",
                "/api/v1/namespaces",
                body={
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": self.namespace},
                },
            )
        except ApiError as err:
            if err.status != 409:
                raise
        self._create_priority_classes(client)
        informer = Informer(client, PODS, namespace=self.namespace)
        informer.add_handler(self._on_pod)
        informer.start()
        if not informer.wait_synced(60):
            raise TimeoutError(f"no pod list from {client.host} within 60 s")
        self._t0 = time.monotonic()
        self._next = 0
        self._next_lock = threading.Lock()
        threads = [
            threading.Thread(target=self._create_loop, args=(client,), daemon=True)
            for _ in range(self.creators)
        ]
        for t in threads:
            t.start()
        n = len(self.rows)
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                time.sleep(0.05)
                with self._lock:
                    done = self._finished + self._failed
                    created = self._created
                    idle = time.monotonic() - self._last_change
                if self.progress is not None:
                    self.progress(done, n)
                if created + len(self.create_errors) >= n and (
                    done >= created or idle >= self.idle_seconds
                ):
                    break
        finally:
            with self._next_lock:
                self._next = n  # stop the creators
            for t in threads:
                t.join(timeout=30)
            informer.stop()
            client.close()
        end = self._now()
        with self._lock:
            self._record(end)
            self.node_util.sample(end, self.metrics)
        return self._result(end, time.perf_counter() - wall)

    def _create_priority_classes(self, client: KubeClient) -> None:
        """One PriorityClass per distinct non-zero trace priority (kept if it exists)."""
        values = np.unique(self.workload.pods.priority[self.rows])
        for value in (int(v) for v in values if v):
            body = {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": priority_class(value)},
                "value": value,
                "description": f"trace priority {value} (ksched replay)",
            }
            try:
                client.request("POST", PRIORITY_CLASSES_PATH, body=body)
            except ApiError as err:
                if err.status != 409:
                    raise

    def _create_loop(self, client: KubeClient) -> None:
        while True:
            with self._next_lock:
                i = self._next
                if i >= len(self.rows):
                    return
                self._next += 1
            wait = float(self.arrive_at[i]) - self._now()
            if wait > 0:
                time.sleep(wait)
            body = self.pod(i)
            now = self._now()
            with self._lock:
                self.log.arrival[i] = now
                if self.log.state[i] == 0:
                    self.log.state[i] = PENDING
                self._created += 1
                self._last_change = time.monotonic()
                self._arrived_gpu += int(self._gpu[int(self.rows[i])])
            try:
                client.create(PODS, body, self.namespace)
            except (ApiError, OSError) as err:
                with self._lock:
                    self._created -= 1
                    self.log.state[i] = 0
                    self.create_errors.append(f"{body['metadata']['name']}: {err}")

    # -- the result ----------------------------------------------------------------------
    def _result(self, end: float, wall: float) -> ReplayResult:
        log = self.log
        scheduled = log.scheduled[np.isfinite(log.scheduled)]
        latencies = (log.scheduled - log.arrival)[np.isfinite(log.scheduled)] * 1e6
        first = float(np.nanmin(log.arrival)) if np.isfinite(log.arrival).any() else math.nan
        bound_span = float(scheduled.max()) - first if len(scheduled) else math.nan
        finished = log.finish[np.isfinite(log.finish)]
        summary: dict[str, Any] = log.summary(self.metrics, math.nan, wall)
        p50, p99 = percentiles(latencies, (50, 99))
        jct = (log.finish - log.arrival)[np.isfinite(log.finish)]
        summary.update(
            {
                "sched_latency_p50_us": p50,
                "sched_latency_p99_us": p99,
                "throughput_pods_per_s": len(scheduled) / bound_span
                if bound_span > 0
                else math.nan,
                "completed_pods_per_s": len(finished) / (float(finished.max()) - first)
                if len(finished) and float(finished.max()) > first
                else math.nan,
                "queue_delay_p50_s": p50 / 1e6,
                "queue_delay_p99_s": p99 / 1e6,
                "jct_mean_s": float(jct.mean()) if len(jct) else math.nan,
                "jct_p50_s": percentiles(jct, (50,))[0],
                "makespan_s": float(finished.max()) - first if len(finished) else math.nan,
                "end_time_s": end,
                "time_compression": f"{self.time_compression:g}",
                "lifetime": "duration",
                "through_api": "true",
                "create_errors": len(self.create_errors),
            }
        )
        sampled = scheduling_throughput(log.scheduled, first)
        for figure in ("Average", *(f"Perc{p}" for p in PERCENTILES)):
            summary[f"scheduling_throughput_{figure.lower()}"] = sampled.get(figure, math.nan)
        series = self.series.frame()
        summary.update(arrival_window_means(series, log.arrival))
        names = self.workload.pods.name[self.rows]
        return ReplayResult(
            profile=self.label,
            protocol="time",
            trace=self.workload.name,
            seed=0,
            summary=summary,
            pods=log.frame(names, self.workload.pods, self.rows, self.names),
            series=series,
            node_util=self.node_util.frame(),
            meta={
                "through_api": True,
                "namespace": self.namespace,
                "scheduler_name": self.scheduler_name,
                "creators": self.creators,
                "create_errors": self.create_errors[:20],
            },
        )
