"""events.k8s.io/v1 and core/v1 Events are one set of objects in two shapes, as upstream.

Through the official ``kubernetes`` client: an event the scheduler writes
through events.k8s.io is the one core/v1 lists (``kubectl describe``'s
source), with the renamed fields of ``pkg/apis/events/v1/conversion.go``;
patches, watches and deletes go through either API.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_watch import Watching
from kubernetes import client
from kubernetes.client.exceptions import ApiException

STRATEGIC = "application/strategic-merge-patch+json"
NS = "default"


def _new_event(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name},
        "eventTime": "2026-11-29T05:00:00.000000Z",
        "reportingController": "ksched",
        "reportingInstance": "ksched-host",
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "type": "Warning",
        "note": "0/3 nodes are available: 3 Insufficient cpu.",
        "regarding": {"apiVersion": "v1", "kind": "Pod", "namespace": NS, "name": "web-1"},
    }


def _raw(response: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(response.data)
    return out


def test_an_events_api_event_is_a_core_event(api: client.ApiClient) -> None:
    events = client.EventsV1Api(api)
    core = client.CoreV1Api(api)
    created = _raw(
        events.create_namespaced_event(NS, _new_event("web-1.a"), _preload_content=False)
    )
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"].startswith("0/3")
    as_core = _raw(core.read_namespaced_event("web-1.a", NS, _preload_content=False))
    assert as_core["apiVersion"] == "v1"
    assert as_core["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert as_core["involvedObject"]["name"] == "web-1"
    assert as_core["reportingComponent"] == "ksched"
    assert "note" not in as_core and "regarding" not in as_core
    assert as_core["metadata"]["uid"] == created["metadata"]["uid"]
    # kubectl describe pod lists core events by the pod they involve.
    listed = core.list_namespaced_event(
        NS, field_selector="involvedObject.name=web-1,involvedObject.kind=Pod"
    )
    assert [e.message for e in listed.items] == [as_core["message"]]


def test_a_core_event_reads_through_the_events_api(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    events = client.EventsV1Api(api)
    core.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "web-2.b"},
            "involvedObject": {"kind": "Pod", "namespace": NS, "name": "web-2"},
            "reason": "Pulled",
            "message": "image pulled",
            "type": "Normal",
            "source": {"component": "kubelet"},
            "count": 3,
        },
    )
    read = _raw(events.read_namespaced_event("web-2.b", NS, _preload_content=False))
    assert read["note"] == "image pulled"
    assert read["regarding"]["name"] == "web-2"
    assert read["deprecatedSource"] == {"component": "kubelet"}
    assert read["deprecatedCount"] == 3
    listed = _raw(events.list_namespaced_event(NS, _preload_content=False))
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    assert "web-2.b" in {e["metadata"]["name"] for e in listed["items"]}
    assert all("message" not in e for e in listed["items"])


def test_a_series_patch_through_the_events_api(api: client.ApiClient) -> None:
    events = client.EventsV1Api(api)
    core = client.CoreV1Api(api)
    events.create_namespaced_event(NS, _new_event("web-3.c"))
    series = {"count": 2, "lastObservedTime": "2026-11-29T05:00:01.000000Z"}
    patched = _raw(
        events.patch_namespaced_event(
            "web-3.c", NS, {"series": series}, _content_type=STRATEGIC, _preload_content=False
        )
    )
    assert patched["series"] == series and patched["note"].startswith("0/3")
    assert _raw(core.read_namespaced_event("web-3.c", NS, _preload_content=False))["series"] == (
        series
    )


def test_a_watch_on_one_api_sees_writes_through_the_other(api: client.ApiClient) -> None:
    events = client.EventsV1Api(api)
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "event-watch"}})
    start = events.list_namespaced_event("event-watch").metadata.resource_version
    stream = Watching(events.list_namespaced_event, "event-watch", start, 2)
    core.create_namespaced_event(
        "event-watch",
        {
            "metadata": {"name": "w.1"},
            "involvedObject": {"kind": "Pod", "namespace": "event-watch", "name": "w"},
            "message": "hello",
            # Required by events.k8s.io/v1 (the client's model refuses an event without it).
            "eventTime": "2026-11-29T05:00:00.000000Z",
        },
    )
    core.delete_namespaced_event("w.1", "event-watch")
    seen = [(e["type"], e["raw_object"]) for e in stream.join()]
    assert [kind for kind, _ in seen] == ["ADDED", "DELETED"]
    for _, obj in seen:
        assert obj["apiVersion"] == "events.k8s.io/v1"
        assert obj["note"] == "hello" and obj["regarding"]["name"] == "w"


def test_missing_and_deleted_events_answer_in_the_events_api_terms(
    api: client.ApiClient,
) -> None:
    events = client.EventsV1Api(api)
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        events.read_namespaced_event("absent", NS)
    assert err.value.status == 404
    body = json.loads(err.value.body)
    assert body["details"] == {"name": "absent", "group": "events.k8s.io", "kind": "events"}
    events.create_namespaced_event(NS, _new_event("web-4.d"))
    events.delete_namespaced_event("web-4.d", NS)
    with pytest.raises(ApiException) as err:
        core.read_namespaced_event("web-4.d", NS)
    assert err.value.status == 404
