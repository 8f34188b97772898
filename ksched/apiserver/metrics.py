"""``/metrics``: kube-apiserver's request and storage metrics, under upstream's names.

``apiserver_request_total`` and ``apiserver_request_duration_seconds``
(``staging/src/k8s.io/apiserver/pkg/endpoints/metrics``) with upstream's
labels and buckets, ``apiserver_longrunning_requests`` for open watches and
``apiserver_storage_objects`` read from the store at scrape time. Resource
requests only (discovery, OpenAPI and health are not counted). The request
metrics are plain counts rendered when scraped: the server answers thousands
of writes a second on one event loop, and prometheus_client's locked
histogram cost four times as much per request (3.5 against 0.8 µs, ``timeit``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
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
_BOUNDS: Final = tuple(repr(float(b)) for b in DURATION_BUCKETS)  # the "le" labels
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


class _Requests(Collector):
    """``apiserver_request_total`` and ``apiserver_request_duration_seconds`` as plain counts.

    Fed and scraped on the server's one event loop, so no lock is needed.
    """

    def __init__(self) -> None:
        self.total: dict[tuple[str, ...], int] = {}
        # labels -> per-bucket counts (the last one past every bound), and the sum.
        self.durations: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, labels: tuple[str, ...], code: int, seconds: float | None) -> None:
        key = (*labels, str(code))
        self.total[key] = self.total.get(key, 0) + 1
        if seconds is None:
            return
        entry = self.durations.get(labels)
        if entry is None:
            entry = self.durations[labels] = ([0] * (len(DURATION_BUCKETS) + 1), [0.0])
        entry[0][bisect_left(DURATION_BUCKETS, seconds)] += 1
        entry[1][0] += seconds

    def collect(self) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            labels=[*_LABELS, "component", "code"],
        )
        for key, count in self.total.items():
            total.add_metric([*key[:-1], COMPONENT, key[-1]], count)
        yield total
        duration = HistogramMetricFamily(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            labels=[*_LABELS, "component"],
        )
        for labels, (counts, total_seconds) in self.durations.items():
            buckets: list[tuple[str, float]] = []
            seen = 0
            for bound, n in zip(_BOUNDS, counts, strict=False):
                seen += n
                buckets.append((bound, seen))
            buckets.append(("+Inf", seen + counts[-1]))
            duration.add_metric([*labels, COMPONENT], buckets, total_seconds[0])
        yield duration


class ApiServerMetrics:
    """The server's metrics registry and the calls that feed it."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self._requests = _Requests()
        self.registry.register(self._requests)
        self._longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component.",
            ["verb", "group", "version", "resource", "subresource", "scope", "component"],
            registry=self.registry,
        )
        self.registry.register(_StorageObjects(store))

    def observe(self, info: RequestInfo, code: int, seconds: float) -> None:
        """One finished request; a watch's duration is its lifetime, so it is not observed."""
        self._requests.observe(info.labels(), code, None if info.verb == "WATCH" else seconds)

    def watch_opened(self, info: RequestInfo, delta: int) -> None:
        """A watch starts streaming (+1) or ends (-1)."""
        labels = info.labels()
        self._longrunning.labels(labels[0], *labels[2:], COMPONENT).inc(delta)

    def render(self) -> bytes:
        return generate_latest(self.registry)
