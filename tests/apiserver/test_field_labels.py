"""Field selectors take each kind's field labels, as upstream registers them, and 400 otherwise.

Through the official ``kubernetes`` client against ``ksched apiserver``: the
labels of ``pkg/apis/core/v1/conversion.go`` (and apps, batch, events) select
with the values upstream's ``*ToSelectableFields`` render (a missing bool
reads "false", a missing count "0"); the events.k8s.io view selects by its own
names (``regarding.name``); any other label is a 400 naming it, for lists and
watches alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

NS = "labels"


@pytest.fixture(scope="module")
def core(api: client.ApiClient) -> client.CoreV1Api:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    core.create_node({"metadata": {"name": "fl-open"}})
    core.create_node({"metadata": {"name": "fl-cordoned"}, "spec": {"unschedulable": True}})
    for name, node in (("fl-a", "fl-open"), ("fl-b", "")):
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
        if node:
            spec["nodeName"] = node
        core.create_namespaced_pod(NS, {"metadata": {"name": name}, "spec": spec})
    return core


def _names(items: list[object]) -> list[str]:
    return sorted(i.metadata.name for i in items)  # type: ignore[attr-defined]


def _not_supported(call: object, label: str) -> None:
    with pytest.raises(ApiException) as err:
        call()  # type: ignore[operator]
    assert err.value.status == 400, err.value.body
    assert f"field label not supported: {label}" in err.value.body


def test_pod_labels_and_their_rendered_values(core: client.CoreV1Api) -> None:
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.nodeName=fl-open").items) == [
        "fl-a"
    ]
    # spec.host: old v1 clients' spelling of spec.nodeName.
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.host=fl-open").items) == [
        "fl-a"
    ]
    # A pod that never set hostNetwork has it false, as Go's zero value.
    assert _names(core.list_namespaced_pod(NS, field_selector="spec.hostNetwork=false").items) == [
        "fl-a",
        "fl-b",
    ]
    pending = core.list_namespaced_pod(NS, field_selector="status.phase=Pending,spec.nodeName=")
    assert _names(pending.items) == ["fl-b"]
    by_name = core.list_namespaced_pod(NS, field_selector="metadata.name!=fl-a")
    assert _names(by_name.items) == ["fl-b"]


def test_an_unregistered_label_is_a_400(core: client.CoreV1Api) -> None:
    _not_supported(
        lambda: core.list_namespaced_pod(NS, field_selector="spec.priority=0"), "spec.priority"
    )
    _not_supported(
        lambda: core.list_namespaced_pod(NS, field_selector="metadata.labels=x"), "metadata.labels"
    )
    # Watches parse the same options before the stream starts.
    _not_supported(
        lambda: core.list_namespaced_pod(NS, field_selector="spec.image=x", watch=True),
        "spec.image",
    )
    # Nodes have no namespace label; a deployment only the default two.
    _not_supported(
        lambda: core.list_node(field_selector="metadata.namespace=x"), "metadata.namespace"
    )
    apps = client.AppsV1Api(core.api_client)
    _not_supported(
        lambda: apps.list_namespaced_deployment(NS, field_selector="spec.replicas=1"),
        "spec.replicas",
    )


def test_node_namespace_and_job_labels(core: client.CoreV1Api) -> None:
    schedulable = core.list_node(field_selector="spec.unschedulable=false").items
    assert "fl-open" in _names(schedulable) and "fl-cordoned" not in _names(schedulable)
    cordoned = core.list_node(field_selector="spec.unschedulable=true").items
    assert _names(cordoned) == ["fl-cordoned"]
    assert _names(core.list_namespace(field_selector=f"metadata.name={NS}").items) == [NS]
    active = core.list_namespace(field_selector=f"status.phase=Active,metadata.name={NS}")
    assert _names(active.items) == [NS]
    batch = client.BatchV1Api(core.api_client)
    job = {
        "metadata": {"name": "fl-job"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    batch.create_namespaced_job(NS, job)
    # status.successful reads status.succeeded, "0" while it is unset.
    assert _names(batch.list_namespaced_job(NS, field_selector="status.successful=0").items) == [
        "fl-job"
    ]


def test_events_select_by_their_own_api_names(core: client.CoreV1Api) -> None:
    events = client.EventsV1Api(core.api_client)
    events.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "fl-a.1"},
            "eventTime": "2026-11-29T05:00:00.000000Z",
            "reportingController": "ksched",
            "reportingInstance": "ksched-host",
            "action": "Scheduling",
            "reason": "Scheduled",
            "type": "Normal",
            "note": "bound",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "namespace": NS, "name": "fl-a"},
        },
    )
    view = events.list_namespaced_event(
        NS, field_selector="regarding.name=fl-a,regarding.kind=Pod,reportingController=ksched"
    )
    assert _names(view.items) == ["fl-a.1"]
    # The view takes only its own spellings, as upstream; core/v1 only the core ones.
    _not_supported(
        lambda: events.list_namespaced_event(NS, field_selector="involvedObject.name=fl-a"),
        "involvedObject.name",
    )
    _not_supported(
        lambda: core.list_namespaced_event(NS, field_selector="regarding.name=fl-a"),
        "regarding.name",
    )
    as_core = core.list_namespaced_event(
        NS, field_selector="involvedObject.name=fl-a,reportingComponent=ksched,source=ksched"
    )
    assert _names(as_core.items) == ["fl-a.1"]
