"""``/metrics``: kube-apiserver's request and storage metrics, under upstream's names.

``apiserver_request_total`` and ``apiserver_request_duration_seconds``
(``staging/src/k8s.io/apiserver/pkg/endpoints/metrics``) with upstream's
labels and buckets, ``apiserver_longrunning_requests`` for open watches and
``apiserver_storage_objects`` read from the store at scrape time. Resource
requests only (discovery, OpenAPI and health are not counted). A request's
labels map to a cached child metric, so counting costs a dictionary lookup,
not a label resolution, on a server that answers thousands of writes a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ksched.apiserver.resources import RESOURCES
from ksched.apiserver.store import Store

__all__ = ["ApiServerMetrics", "RequestInfo"]

COMPONENT: Final = "apiserver"
# apiserver_request_duration_seconds' buckets (endpoints/metrics/metrics.go).
DURATION_BUCKETS: Final = (
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
    45, 60,
)  # fmt: skip
_LABELS: Final = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the metrics say of one resource request (upstream's ``RequestInfo``, cleaned)."""

    verb: str  # GET, LIST, WATCH, POST, PUT, PATCH, DELETE (upstream's CleanVerb)
    dry_run: bool
    group: str
    version: str
    resource: str
    subresource: str
    scope: str  # resource, namespace or cluster (upstream's CleanScope)

    def labels(self) -> tuple[str, ...]:
        return (
            self.verb,
            "All" if self.dry_run else "",
            self.group,
            self.version,
            self.resource,
            self.subresource,
            self.scope,
        )


class _StorageObjects(Collector):
    """``apiserver_storage_objects``: objects stored per resource, counted when scraped."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        for res in RESOURCES:
            if res.stored:
                name = f"{res.plural}.{res.group}" if res.group else res.plural
                family.add_metric([name], self.store.count(res.key))
        yield family


class ApiServerMetrics:
    """The server's metrics registry and the calls that feed it."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self._total = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            [*_LABELS, "component", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            [*_LABELS, "component"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component.",
            ["verb", "group", "version", "resource", "subresource", "scope", "component"],
            registry=self.registry,
        )
        self.registry.register(_StorageObjects(store))
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, info: RequestInfo, code: int, seconds: float) -> None:
        """One finished request; a watch's duration is its lifetime, so it is not observed."""
        labels = info.labels()
        self._child(self._total, (*labels, COMPONENT, str(code))).inc()
        if info.verb != "WATCH":
            self._child(self._duration, (*labels, COMPONENT)).observe(seconds)

    def watch_opened(self, info: RequestInfo, delta: int) -> None:
        """A watch starts streaming (+1) or ends (-1)."""
        labels = info.labels()
        self._child(self._longrunning, (labels[0], *labels[2:], COMPONENT)).inc(delta)

    def render(self) -> bytes:
        return generate_latest(self.registry)
