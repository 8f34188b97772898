"""Prometheus metrics under kube-scheduler's names, served with ``/healthz`` and ``/readyz``.

Names, labels and buckets follow pkg/scheduler/metrics/metrics.go, so
dashboards and alerts written for kube-scheduler read ksched unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.utils import INF

__all__ = ["HealthServer", "SchedulerMetrics"]

# metrics.go: ExponentialBuckets(0.001, 2, 15) for attempt durations.
ATTEMPT_BUCKETS: Final = (*(0.001 * 2**i for i in range(15)), INF)
# metrics.go: ExponentialBuckets(1, 2, 7) for preemption victims.
VICTIM_BUCKETS: Final = (*(float(2**i) for i in range(7)), INF)
# metrics.go: ExponentialBuckets(0.001, 2, 15) for binding durations.
BIND_BUCKETS: Final = ATTEMPT_BUCKETS


class SchedulerMetrics:
    """One registry per scheduler, so tests can run several in a process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.schedule_attempts = Counter(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod "
            "could not be scheduled, while 'error' means an internal scheduler problem.",
            ["result", "profile"],
            registry=r,
        )
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            ["result", "profile"],
            buckets=ATTEMPT_BUCKETS,
            registry=r,
        )
        self.pending_pods = Gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in "
            "activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means "
            "number of pods in unschedulablePods that the scheduler attempted to schedule "
            "and failed; 'gated' is the number of unschedulable pods that the scheduler "
            "never attempted to schedule because they are gated.",
            ["queue"],
            registry=r,
        )
        self.preemption_attempts = Counter(
            "scheduler_preemption_attempts", "Total preemption attempts in the cluster", registry=r
        )
        self.preemption_victims = Histogram(
            "scheduler_preemption_victims",
            "Number of selected preemption victims",
            buckets=VICTIM_BUCKETS,
            registry=r,
        )
        self.binding_duration = Histogram(
            "scheduler_binding_duration_seconds",
            "Binding latency in seconds",
            buckets=BIND_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease.",
            ["name"],
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` (port 0: any free port).

    ``healthy`` and ``ready`` are polled per request; each returns an error
    text or None, as upstream's named checks.
    """

    def __init__(
        self,
        metrics: SchedulerMetrics,
        host: str,
        port: int,
        *,
        healthy: Callable[[], str | None],
        ready: Callable[[], str | None],
    ) -> None:
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.metrics = metrics
        self._healthy = healthy
        self._ready = ready
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        status, content_type = 200, "text/plain; charset=utf-8"
        if path == "/metrics":
            body, content_type = self.metrics.exposition(), CONTENT_TYPE_LATEST
        elif path in ("/healthz", "/livez", "/readyz"):
            problem = self._ready() if path == "/readyz" else self._healthy()
            status = 200 if problem is None else 500
            body = b"ok" if problem is None else f"{problem}\n".encode()
        else:
            status, body = 404, b"404 page not found\n"
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
