"""The scheduler's writes to the API server: bindings, events, pod status, evictions.

``ApiClusterClient`` is both the framework's ``ClusterClient`` and its
``EventRecorder``.  Binding runs on a worker pool, as upstream's binding
cycle runs in a goroutine, so the next pod's scheduling cycle does not wait
for a round trip; the pod stays assumed in the snapshot meanwhile.  Events
and status patches go through a second pool, as upstream's event broadcaster
writes apart from the binding goroutines, so a slow event never holds a
binding back.  The ``Scheduled`` event is queued once the API accepted the
binding, so no event claims a binding that failed.  Repeats of an event
(a pod failing scheduling again, say) become one Event with a series
(``ksched.live.event_series``), as client-go's events library makes them.  A failed binding is
handed back to the scheduling loop through ``on_bind_failed``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final

from ksched.api import PodDisruptionBudget, format_time
from ksched.framework.pod_info import PodInfo
from ksched.live.event_series import FINISH_SECONDS, REFRESH_SECONDS, EventSeriesCache
from ksched.live.kube import ApiError, KubeClient

__all__ = ["ApiClusterClient"]

log = logging.getLogger(__name__)

SCHEDULED: Final = "Scheduled"
POD_SCHEDULED: Final = "PodScheduled"
# core/v1 PodReasonUnschedulable and PodReasonSchedulerError.
REASON_UNSCHEDULABLE: Final = "Unschedulable"
REASON_SCHEDULER_ERROR: Final = "SchedulerError"
# Writers of events and status patches (bindings have their own ``workers``).
RECORDER_WORKERS: Final = 8
# client-go's events broadcaster queues at most this many events and drops the
# rest (maxQueuedEvents, watch.DropIfChannelFull): a slow API server delays no
# binding.  Status patches are never dropped.
MAX_QUEUED_EVENTS: Final = 1000
# events.k8s.io/v1 validation: note is at most 1 kB.
MAX_NOTE: Final = 1024
SMP: Final = "application/strategic-merge-patch+json"
MERGE_PATCH: Final = "application/merge-patch+json"


def _now(micro: bool = False) -> str:
    return format_time(datetime.now(UTC), micro=micro)


def _pod_path(pod: PodInfo, sub: str = "") -> str:
    return f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}{sub}"


class ApiClusterClient:
    """Binds, evicts, nominates and records through the API.

    Bindings run on ``workers`` threads, events and status patches on
    ``recorder_workers`` more.
    ``on_bind_failed(pod, node, error)`` and ``on_bound(pod, node, seconds)``
    are called from a worker thread.
    """

    def __init__(
        self,
        kube: KubeClient,
        *,
        pdbs: Callable[[], list[PodDisruptionBudget]],
        on_bind_failed: Callable[[PodInfo, str, ApiError], None],
        on_bound: Callable[[PodInfo, str, float], None] | None = None,
        workers: int = 16,
        recorder_workers: int = RECORDER_WORKERS,
        instance: str | None = None,
    ) -> None:
        self.kube = kube
        self._pdbs = pdbs
        self._on_bind_failed = on_bind_failed
        self._on_bound = on_bound
        self._binders = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ksched-bind")
        self._recorders = ThreadPoolExecutor(
            max_workers=recorder_workers, thread_name_prefix="ksched-record"
        )
        self._instance = instance or socket.gethostname()
        self._in_flight = 0
        self._events = 0
        self.dropped_events = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._series = EventSeriesCache(time.monotonic, lambda: _now(micro=True))
        self._stopping = threading.Event()
        self._series_thread = threading.Thread(
            target=self._series_loop, name="ksched-event-series", daemon=True
        )
        self._series_thread.start()

    # -- ClusterClient ----------------------------------------------------------------
    def bind(self, pod: PodInfo, node_name: str) -> None:
        pod.pod.spec.node_name = node_name
        self._submit(self._binders, self._bind, pod, node_name)

    def _bind(self, pod: PodInfo, node_name: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        start = time.monotonic()
        try:
            self.kube.request("POST", _pod_path(pod, "/binding"), body=body)
        except ApiError as err:
            self._on_bind_failed(pod, node_name, err)
            return
        if self._on_bound is not None:
            self._on_bound(pod, node_name, time.monotonic() - start)
        message = f"Successfully assigned {pod.namespace}/{pod.name} to {node_name}"
        self._record_event(pod, "Normal", SCHEDULED, "Binding", message)

    def delete_pod(self, pod: PodInfo, reason: str) -> None:
        """Write the victim's DisruptionTarget condition, then delete it (``PreparePod``)."""
        disruption = [c for c in pod.pod.status.conditions if c.type == "DisruptionTarget"]
        if disruption:
            cond = disruption[0]
            patch = {
                "metadata": {"uid": pod.uid},
                "status": {
                    "conditions": [
                        {
                            "type": cond.type,
                            "status": cond.status,
                            "reason": cond.reason,
                            "message": cond.message,
                            "lastTransitionTime": _now(),
                        }
                    ]
                },
            }
            try:
                self.kube.request("PATCH", _pod_path(pod, "/status"), body=patch, content_type=SMP)
            except ApiError as err:
                if not err.not_found:
                    raise
                return
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": pod.uid}}
        try:
            self.kube.request("DELETE", _pod_path(pod), body=body)
        except ApiError as err:
            if not (err.not_found or err.conflict):
                raise

    def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        pod.pod.status.nominated_node_name = node_name or None
        patch = {"metadata": {"uid": pod.uid}, "status": {"nominatedNodeName": node_name or None}}
        self._submit(self._recorders, self._patch_status, pod, patch)

    def pdbs(self) -> list[PodDisruptionBudget]:
        return self._pdbs()

    # -- EventRecorder ------------------------------------------------------------------
    def event(self, pod: PodInfo, type_: str, reason: str, action: str, message: str) -> None:
        if reason == SCHEDULED:
            return  # written by the binding worker once the binding is accepted
        self._record_event(pod, type_, reason, action, message)

    # -- pod status ----------------------------------------------------------------------
    def set_unschedulable(self, pod: PodInfo, message: str, *, error: bool = False) -> None:
        """``PodScheduled=False`` with the failure message, unless the pod already says so.

        As upstream ``updatePod``: the write is skipped when the condition is unchanged.
        """
        reason = REASON_SCHEDULER_ERROR if error else REASON_UNSCHEDULABLE
        current = next((c for c in pod.pod.status.conditions if c.type == POD_SCHEDULED), None)
        if (
            current is not None
            and current.status == "False"
            and current.reason == reason
            and current.message == message
        ):
            return
        transition = (
            current.last_transition_time
            if current is not None and current.status == "False"
            else None
        ) or _now()
        patch = {
            "metadata": {"uid": pod.uid},
            "status": {
                "conditions": [
                    {
                        "type": POD_SCHEDULED,
                        "status": "False",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": None,
                        "lastTransitionTime": transition,
                    }
                ]
            },
        }
        self._submit(self._recorders, self._patch_status, pod, patch, SMP)

    # -- plumbing ----------------------------------------------------------------------
    def _patch_status(self, pod: PodInfo, patch: dict[str, Any], kind: str = MERGE_PATCH) -> None:
        try:
            self.kube.request("PATCH", _pod_path(pod, "/status"), body=patch, content_type=kind)
        except ApiError as err:
            if not (err.not_found or err.conflict):
                log.warning("status of %s: %s", pod.key, err)

    def _event_body(
        self, pod: PodInfo, type_: str, reason: str, action: str, message: str
    ) -> dict[str, Any]:
        """An events.k8s.io/v1 Event, shaped as client-go's events recorder writes it."""
        controller = pod.scheduler_name
        meta = pod.pod.metadata
        return {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"{pod.name}.{time.time_ns():x}", "namespace": pod.namespace},
            "eventTime": _now(micro=True),
            "reportingController": controller,
            "reportingInstance": f"{controller}-{self._instance}",
            "action": action,
            "reason": reason,
            "type": type_,
            "note": message.encode()[:MAX_NOTE].decode("utf-8", "ignore"),
            "regarding": {
                "apiVersion": "v1",
                "kind": "Pod",
                "namespace": pod.namespace,
                "name": pod.name,
                "uid": pod.uid,
                "resourceVersion": meta.resource_version,
            },
        }

    def _record_event(
        self, pod: PodInfo, type_: str, reason: str, action: str, message: str
    ) -> None:
        # As client-go, a full queue drops the event before the series cache sees it.
        with self._lock:
            if self._events >= MAX_QUEUED_EVENTS:
                self._drop_event()
                return
        write = self._series.record(self._event_body(pod, type_, reason, action, message))
        if write is not None:
            self._submit(self._recorders, self._write_event, write, droppable=True)

    def _write_event(self, event: dict[str, Any]) -> None:
        """client-go's ``recordEvent``: a new event is created; a series is patched onto the
        event it continues, which is created if it is gone (and patched after all if that
        create finds it was made meanwhile)."""
        meta = event["metadata"]
        path = f"/apis/events.k8s.io/v1/namespaces/{meta['namespace']}/events"
        series = event.get("series")
        try:
            if series is not None and self._patch_series(f"{path}/{meta['name']}", series):
                return
            try:
                self.kube.request("POST", path, body=event)
            except ApiError as err:
                if not (err.conflict and series is not None):
                    raise
                self._patch_series(f"{path}/{meta['name']}", series)
        except ApiError as err:
            log.warning("event %s for %s: %s", event.get("reason"), meta["name"], err)

    def _patch_series(self, path: str, series: dict[str, Any]) -> bool:
        """Write ``series`` onto the event at ``path``; False if there is no such event."""
        try:
            self.kube.request("PATCH", path, body={"series": series}, content_type=SMP)
        except ApiError as err:
            if err.not_found:
                return False
            raise
        return True

    def _series_loop(self) -> None:
        """client-go's ``finishSeries`` every FINISH_SECONDS, ``refreshExistingEventSeries``
        every REFRESH_SECONDS."""
        refreshed = time.monotonic()
        while not self._stopping.wait(FINISH_SECONDS):
            writes = self._series.finish()
            if time.monotonic() - refreshed >= REFRESH_SECONDS:
                refreshed = time.monotonic()
                writes += self._series.open_series()
            for event in writes:
                try:
                    self._submit(self._recorders, self._write_event, event)
                except RuntimeError:
                    return  # closed meanwhile: the pool takes no more work

    def _drop_event(self) -> None:
        self.dropped_events += 1
        if self.dropped_events == 1:
            log.warning("event queue full (%d): dropping events", MAX_QUEUED_EVENTS)

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        fn: Callable[..., None],
        *args: Any,
        droppable: bool = False,
    ) -> None:
        """Queue a write; a ``droppable`` one (an event) is dropped when the event queue is full."""
        with self._lock:
            if droppable:
                if self._events >= MAX_QUEUED_EVENTS:
                    self._drop_event()
                    return
                self._events += 1
            self._in_flight += 1
        future: Future[None] = pool.submit(fn, *args)
        future.add_done_callback(self._event_done if droppable else self._done)

    def _event_done(self, future: Future[None]) -> None:
        with self._lock:
            self._events -= 1
        self._done(future)

    def _done(self, future: Future[None]) -> None:
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            log.error("write failed: %s", exc)
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued write is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def close(self) -> None:
        """Stop writing: requests under way finish, queued ones are dropped.

        Call ``wait_idle`` first to give queued writes a chance.

        A binding never sent leaves its pod pending in the API, for the next leader.
        """
        self._stopping.set()
        self._binders.shutdown(wait=True, cancel_futures=True)
        self._recorders.shutdown(wait=True, cancel_futures=True)
