"""``LiveScheduler``: the framework's ``Scheduler`` fed by informers, writing to an API server.

Threads: one per informer, a pool of writers (``ApiClusterClient``), the
leader elector, the health server, and one scheduling loop.  Only the loop
touches the ``Scheduler``: informers and writers hand it closures through an
inbox, so the scheduler needs no lock (upstream guards its cache and queue
with mutexes instead).  A standby replica keeps its caches current but
schedules nothing until it holds the Lease.

A bound pod stays *assumed* from the moment the loop picked its node: a
stale informer view of it (no node yet) never puts it back in the queue,
which is what keeps informer lag from binding a pod twice.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import ValidationError

from ksched.api import Node, Pod, PodDisruptionBudget, PodStatus
from ksched.config import KubeSchedulerConfiguration
from ksched.framework import events as ev
from ksched.framework.clock import WallClock
from ksched.framework.plugins.interpodaffinity import NAMESPACE_LABELS_KEY
from ksched.framework.pod_info import PodInfo
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.framework.status import Code
from ksched.live.client import ApiClusterClient
from ksched.live.informer import DELETED, EventType, Informer, Resource, object_key
from ksched.live.kube import ApiError, KubeClient
from ksched.live.leader import LeaderElector, LeaseSettings
from ksched.live.metrics import SchedulerMetrics
from ksched.scheduler.scheduler import Scheduler, ScheduleResult

__all__ = ["LiveScheduler"]

log = logging.getLogger(__name__)

# kube-scheduler's pod informer leaves finished pods out (scheduler.go, NewInformerFactory).
POD_FIELD_SELECTOR: Final = "status.phase!=Succeeded,status.phase!=Failed"
IDLE_WAIT: Final = 1.0
GAUGE_PERIOD: Final = 0.5
DRAIN_TIMEOUT: Final = 10.0

PODS: Final = Resource("/api/v1/pods", "pods", POD_FIELD_SELECTOR)
NODES: Final = Resource("/api/v1/nodes", "nodes")
PDBS: Final = Resource("/apis/policy/v1/poddisruptionbudgets", "poddisruptionbudgets")
NAMESPACES: Final = Resource("/api/v1/namespaces", "namespaces")


def default_identity() -> str:
    """``hostname_uuid``, as kube-scheduler names its leader-election identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class LiveScheduler:
    """Runs ``config``'s profiles against the API server behind ``kube``.

    ``lease`` None runs without leader election (always leading).
    ``feature_gates`` override kube-scheduler's defaults.  Call ``start``,
    then ``wait`` or ``stop``.
    """

    def __init__(
        self,
        kube: KubeClient,
        config: KubeSchedulerConfiguration,
        *,
        lease: LeaseSettings | None,
        identity: str | None = None,
        seed: int | None = None,
        resync_period: float = 0.0,
        feature_gates: Mapping[str, bool] | None = None,
    ) -> None:
        self.kube = kube
        self.config = config
        self.identity = identity or default_identity()
        self.metrics = SchedulerMetrics()
        self.client = ApiClusterClient(
            kube,
            pdbs=self._pdbs,
            on_bind_failed=lambda pod, node, err: self._post(self._bind_failed, pod, node, err),
            on_bound=lambda _pod, _node, seconds: self.metrics.binding_duration.observe(seconds),
            workers=config.parallelism,
        )
        self.scheduler = Scheduler(
            config,
            clock=WallClock(),
            client=self.client,
            recorder=self.client,
            seed=int(time.time_ns() % 2**32) if seed is None else seed,
            feature_gates=feature_gates,
        )
        self._namespace_labels: dict[str, dict[str, str]] = {}
        for fwk in self.scheduler.profiles.values():
            fwk.handle.extra[NAMESPACE_LABELS_KEY] = self._namespace_labels
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._orphans: dict[str, set[str]] = {}
        # Per pod: the metadata (less resourceVersion) and spec it was last parsed from.
        self._seen: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.informers = {
            r.name: Informer(kube, r, handler, resync_period=resync_period)
            for r, handler in (
                (NODES, self._node_event),
                (PODS, self._pod_event),
                (PDBS, self._noop_event),
                (NAMESPACES, self._namespace_event),
            )
        }
        self.lease = lease
        self.elector: LeaderElector | None = None
        if lease is not None:
            self.elector = LeaderElector(
                kube, lease, self.identity, on_started=self._started, on_stopped=self._lost
            )
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._stopping = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._next_gauges = 0.0
        self.bind_conflicts = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, sync_timeout: float = 120.0) -> None:
        """Start informers (nodes first), wait for their caches, then campaign and schedule."""
        self._loop_thread = threading.Thread(target=self._loop, name="scheduling-loop", daemon=True)
        self._loop_thread.start()
        nodes = self.informers[NODES.name]
        nodes.start()
        if not nodes.synced.wait(sync_timeout):
            raise ApiError(0, "", f"node cache did not sync within {sync_timeout:.0f} s")
        for name, informer in self.informers.items():
            if name != NODES.name:
                informer.start()
        for name, informer in self.informers.items():
            if not informer.synced.wait(sync_timeout):
                raise ApiError(0, "", f"{name} cache did not sync within {sync_timeout:.0f} s")
        if self.elector is None:
            self._started()
        else:
            self.metrics.leader.labels(name=self.lease.name if self.lease else "").set(0)
            self.elector.start()

    def stop(self) -> None:
        """Graceful: stop scheduling, finish in-flight writes, release the Lease, stop watching."""
        self._stopping.set()
        self.leading.clear()
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=DRAIN_TIMEOUT)
        self.client.wait_idle(DRAIN_TIMEOUT)
        if self.elector is not None:
            self.elector.stop(release=not self.lost.is_set())
        for informer in self.informers.values():
            informer.stop()
        self.client.close()

    def wait(self, stop: threading.Event) -> int:
        """Block until ``stop`` is set (0) or the Lease is lost (1, as kube-scheduler exits)."""
        while not stop.wait(0.2):
            if self.lost.is_set():
                return 1
        return 0

    def _started(self) -> None:
        log.info("%s is leading; scheduling", self.identity)
        if self.lease is not None:
            self.metrics.leader.labels(name=self.lease.name).set(1)
        self.leading.set()
        self._inbox.put(lambda: None)

    def _lost(self) -> None:
        log.error("%s lost the lease; stopping", self.identity)
        if self.lease is not None:
            self.metrics.leader.labels(name=self.lease.name).set(0)
        self.leading.clear()
        self.lost.set()
        self._stopping.set()

    # -- health --------------------------------------------------------------------------
    def health_problem(self) -> str | None:
        if self._loop_thread is None or not self._loop_thread.is_alive():
            return "scheduling loop is not running"
        if self.elector is not None and not self.elector.healthy():
            return "leaderElection: lease not renewed in time"
        return None

    def ready_problem(self) -> str | None:
        unsynced = [name for name, inf in self.informers.items() if not inf.synced.is_set()]
        if unsynced:
            return "sched-handler-sync: caches not synced: " + ", ".join(unsynced)
        return self.health_problem()

    # -- informer handlers (informer threads) ---------------------------------------------
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        self._inbox.put(lambda: fn(*args))

    def _pod_event(self, kind: EventType, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        self._post(self._apply_pod, kind, obj)

    def _node_event(
        self, kind: EventType, obj: dict[str, Any], _old: dict[str, Any] | None
    ) -> None:
        self._post(self._apply_node, kind, obj)

    def _namespace_event(
        self, kind: EventType, obj: dict[str, Any], _old: dict[str, Any] | None
    ) -> None:
        name = object_key(obj)
        labels = dict((obj.get("metadata") or {}).get("labels") or {})
        self._post(self._apply_namespace, kind, name, labels)

    def _noop_event(self, *_: object) -> None:
        """PDBs are read from the informer's store when preemption asks."""

    def _pdbs(self) -> list[PodDisruptionBudget]:
        out = []
        for obj in list(self.informers[PDBS.name].store.values()):
            try:
                out.append(PodDisruptionBudget.model_validate(obj))
            except ValidationError as exc:
                log.warning("ignoring PodDisruptionBudget %s: %s", object_key(obj), exc)
        return out

    # -- applying events (loop thread) ------------------------------------------------------
    def _apply_namespace(self, kind: EventType, name: str, labels: dict[str, str]) -> None:
        if kind == DELETED:
            self._namespace_labels.pop(name, None)
        else:
            self._namespace_labels[name] = labels

    def _apply_node(self, kind: EventType, obj: dict[str, Any]) -> None:
        s = self.scheduler
        name = object_key(obj)
        if kind == DELETED:
            s.remove_node(name)
            return
        try:
            node = Node.model_validate(obj)
        except ValidationError as exc:
            log.warning("ignoring node %s: %s", name, exc)
            return
        if name in s.snapshot.index:
            s.update_node(node)
            return
        s.add_node(node)
        for key in self._orphans.pop(name, set()):
            info = s.pods.get(key)
            if info is not None and info.node_name == name:
                s.add_pod(info)

    def _apply_pod(self, kind: EventType, obj: dict[str, Any]) -> None:
        s = self.scheduler
        key = object_key(obj)
        if kind == DELETED:
            self._seen.pop(key, None)
            s.delete_pod(key)
            return
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        node_name = spec.get("nodeName") or ""
        old = s.pods.get(key)
        assumed = s.bound.get(key)
        seen = (_identity(meta), spec)
        if old is not None and old.uid == meta.get("uid"):
            if not node_name and assumed is not None:
                return  # the informer has not seen our binding yet: keep the assumption
            last = self._seen.get(key)
            if (
                node_name
                and node_name == old.node_name
                and last is not None
                and last[0] == seen[0]
                and _sans_node(last[1]) == _sans_node(spec)
            ):
                # Our binding confirmed, or a kubelet's status report: only the status
                # changed (preemption reads its start time and conditions), so the pod
                # is not parsed again.
                try:
                    old.pod.status = PodStatus.model_validate(obj.get("status") or {})
                except ValidationError as exc:
                    log.warning("ignoring status of pod %s: %s", key, exc)
                    return
                old.pod.metadata.resource_version = meta.get("resourceVersion")
                self._seen[key] = seen
                return
        try:
            pod = Pod.model_validate(obj)
        except ValidationError as exc:
            log.warning("ignoring pod %s: %s", key, exc)
            return
        self._seen[key] = seen
        info = PodInfo.from_pod(pod)
        if old is None:
            self._add_pod(info)
        elif old.uid != info.uid or node_name or old.node_name:
            # Recreated, bound (by anyone), or moved: replace it wherever it is.
            s.delete_pod(key)
            self._add_pod(info)
        else:
            s.pods[key] = info
            if info.scheduler_name in s.profiles:
                s.queue.update(old, info)

    def _add_pod(self, info: PodInfo) -> None:
        s = self.scheduler
        if not info.node_name and info.pod.metadata.deletion_timestamp is not None:
            return  # being deleted before it was scheduled: nothing to do
        s.add_pod(info)
        node = info.node_name
        if node and node not in s.snapshot.index:
            self._orphans.setdefault(node, set()).add(info.key)

    def _bind_failed(self, pod: PodInfo, node: str, err: ApiError) -> None:
        """Forget the assumed pod (upstream ``handleBindingCycleError``) and requeue or wait."""
        s = self.scheduler
        if s.bound.get(pod.key) != node or s.pods.get(pod.key) is not pod:
            return  # already replaced by a newer view of the pod
        s.bound.pop(pod.key, None)
        s.snapshot.remove_pod(pod)
        pod.pod.spec.node_name = None
        s.queue.move_all_to_active_or_backoff(
            ev.ASSIGNED_POD_DELETE, pod, None, precheck=lambda other: other.uid != pod.uid
        )
        self.metrics.schedule_attempts.labels(result="error", profile=pod.scheduler_name).inc()
        if err.conflict:
            # Already bound (by another scheduler); the pod informer brings the binding.
            self.bind_conflicts += 1
            log.warning("binding %s to %s refused: %s", pod.key, node, err.message)
            return
        if err.not_found:
            return  # deleted; the informer's delete follows
        message = f"Binding rejected: {err}"
        self.client.event(pod, "Warning", "FailedScheduling", "Scheduling", message)
        self.client.set_unschedulable(pod, message, error=True)
        # An error with no rejecting plugin: back off, then retry (upstream's failure handler).
        retry = QueuedPodInfo(pod, s.clock.now(), attempts=1)
        s.queue.add_unschedulable_if_not_present(retry, s.queue.scheduling_cycle)

    # -- the loop --------------------------------------------------------------------------
    def _drain(self, timeout: float) -> None:
        try:
            task = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return
        task()
        while True:
            try:
                task = self._inbox.get_nowait()
            except queue.Empty:
                return
            task()

    def _loop(self) -> None:
        s = self.scheduler
        while not self._stopping.is_set():
            active = self.leading.is_set() and s.queue.has_ready()
            timeout = 0.0 if active else self._idle_timeout()
            self._drain(timeout)
            now = time.monotonic()
            if now >= self._next_gauges:
                self._next_gauges = now + GAUGE_PERIOD
                for name, count in s.queue.pending_pods().items():
                    self.metrics.pending_pods.labels(queue=name).set(count)
            if not self.leading.is_set() or self._stopping.is_set():
                continue
            preemptions = s.metrics.preemption_attempts
            victims = s.metrics.preemption_victims
            start = time.perf_counter()
            results = s.run(max_cycles=1)
            elapsed = time.perf_counter() - start
            for result in results:
                self._record(result, elapsed)
            if s.metrics.preemption_attempts > preemptions:
                self.metrics.preemption_attempts.inc(s.metrics.preemption_attempts - preemptions)
                self.metrics.preemption_victims.observe(s.metrics.preemption_victims - victims)

    def _idle_timeout(self) -> float:
        if not self.leading.is_set():
            return IDLE_WAIT
        due = self.scheduler.next_wakeup()
        if due is None:
            return IDLE_WAIT
        return min(IDLE_WAIT, max(0.001, due - time.monotonic()))

    def _record(self, result: ScheduleResult, elapsed: float) -> None:
        status = result.status
        if result.waiting or (status is not None and status.reasons == ("skipped",)):
            return
        if result.scheduled:
            label = "scheduled"
        elif status is not None and status.code == Code.ERROR:
            label = "error"
        else:
            label = "unschedulable"
        profile = result.pod.scheduler_name
        self.metrics.schedule_attempts.labels(result=label, profile=profile).inc()
        self.metrics.attempt_duration.labels(result=label, profile=profile).observe(elapsed)
        if label != "scheduled":
            self.client.set_unschedulable(result.pod, result.message, error=label == "error")


def _identity(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata less what every write changes (resourceVersion, managedFields)."""
    return {k: v for k, v in meta.items() if k not in ("resourceVersion", "managedFields")}


def _sans_node(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k != "nodeName"}
