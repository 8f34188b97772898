"""``/metrics``: upstream's request and storage metric names and labels, counted as requests go."""

from __future__ import annotations

import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ksched.apiserver import ApiServerProcess, Store
from ksched.apiserver.metrics import ApiServerMetrics, RequestInfo

Sample = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(client: httpx.Client) -> Sample:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: Sample = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[s.name, tuple(sorted(s.labels.items()))] = s.value
    return out


def _value(sample: Sample, name: str, **labels: str) -> float:
    """The sum over the series of ``name`` whose labels include ``labels``."""
    return sum(
        v
        for (n, have), v in sample.items()
        if n == name and set(labels.items()) <= set(dict(have).items())
    )


def _pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }


def test_requests_are_counted_by_verb_resource_scope_and_code(
    apiserver: ApiServerProcess, admin_headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=apiserver.url, headers=admin_headers) as client:
        assert client.get("/metrics", headers={"Authorization": ""}).status_code == 401
        before = _scrape(client)
        pods = "/api/v1/namespaces/default/pods"
        for i in range(3):
            assert client.post(pods, json=_pod(f"m{i}")).status_code == 201
        assert client.post(pods, json=_pod("m0")).status_code == 409
        assert client.get(f"{pods}/absent").status_code == 404
        assert client.get(pods).status_code == 200
        assert client.get("/api/v1/pods").status_code == 200
        after = _scrape(client)

    def delta(**labels: str) -> float:
        name = "apiserver_request_total"
        return _value(after, name, **labels) - _value(before, name, **labels)

    common = {"group": "", "version": "v1", "resource": "pods", "component": "apiserver"}
    assert delta(verb="POST", scope="namespace", code="201", **common) == 3
    assert delta(verb="POST", scope="namespace", code="409", **common) == 1
    assert delta(verb="GET", scope="resource", code="404", **common) == 1
    assert delta(verb="LIST", scope="namespace", code="200", **common) == 1
    assert delta(verb="LIST", scope="cluster", code="200", **common) == 1
    duration = "apiserver_request_duration_seconds_count"
    assert (
        _value(after, duration, verb="POST", resource="pods")
        - _value(before, duration, verb="POST", resource="pods")
        == 4
    )
    assert _value(after, "apiserver_storage_objects", resource="pods") >= 3
    assert _value(after, "apiserver_storage_objects", resource="deployments.apps") == 0


def test_an_open_watch_is_a_long_running_request(
    apiserver: ApiServerProcess, admin_headers: dict[str, str]
) -> None:
    gauge = "apiserver_longrunning_requests"
    labels = {"verb": "WATCH", "resource": "nodes", "scope": "cluster"}
    opened, scraped = threading.Event(), threading.Event()

    def watch() -> None:
        with (
            httpx.Client(base_url=apiserver.url, headers=admin_headers) as client,
            client.stream("GET", "/api/v1/nodes", params={"watch": "1"}) as stream,
        ):
            assert stream.status_code == 200
            opened.set()
            scraped.wait(10)  # the stream closes as the block ends

    with httpx.Client(base_url=apiserver.url, headers=admin_headers) as client:
        before = _scrape(client)
        thread = threading.Thread(target=watch)
        thread.start()
        assert opened.wait(10)
        during = _scrape(client)
        scraped.set()
        thread.join(10)
        deadline = time.monotonic() + 10
        while True:
            after = _scrape(client)
            if _value(after, gauge, **labels) == _value(before, gauge, **labels):
                break
            assert time.monotonic() < deadline, "the watch was never counted as closed"
            time.sleep(0.1)
    assert _value(during, gauge, **labels) == _value(before, gauge, **labels) + 1
    watches = "apiserver_request_total"
    assert (
        _value(after, watches, code="200", **labels)
        == _value(before, watches, code="200", **labels) + 1
    )


def test_duration_buckets_are_cumulative_and_inclusive() -> None:
    metrics = ApiServerMetrics(Store())
    info = RequestInfo("POST", False, "", "v1", "pods", "", "namespace")
    for seconds in (0.001, 0.005, 0.03, 100.0):  # 0.005 is a bound: it counts as "le" it
        metrics.observe(info, 201, seconds)
    metrics.observe(RequestInfo("WATCH", False, "", "v1", "pods", "", "cluster"), 200, 9.0)
    sample: Sample = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            sample[s.name, tuple(sorted(s.labels.items()))] = s.value
    bucket = "apiserver_request_duration_seconds_bucket"
    assert _value(sample, bucket, verb="POST", le="0.005") == 2
    assert _value(sample, bucket, verb="POST", le="0.025") == 2
    assert _value(sample, bucket, verb="POST", le="0.05") == 3
    assert _value(sample, bucket, verb="POST", le="60.0") == 3
    assert _value(sample, bucket, verb="POST", le="+Inf") == 4
    assert _value(sample, "apiserver_request_duration_seconds_sum", verb="POST") == 100.036
    assert _value(sample, "apiserver_request_duration_seconds_count", verb="WATCH") == 0
    assert _value(sample, "apiserver_request_total", verb="WATCH", code="200") == 1
    assert _value(sample, "apiserver_request_total", verb="POST", code="201") == 4
