"""The official ``kubernetes`` Python client, unmodified, against the server: CRUD, watch, bind."""

from __future__ import annotations

from typing import Any

import pytest
from api_watch import Watching
from kubernetes import client
from kubernetes.client.exceptions import ApiException

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec},
    }


def test_discovery_and_version(api: client.ApiClient) -> None:
    version = client.VersionApi(api).get_code()
    assert version.major == "1"
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "batch", "policy", "coordination.k8s.io"} <= groups
    resources = {r.name for r in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/binding", "pods/eviction", "pods/status", "nodes", "events"} <= resources


def test_create_get_list_defaults(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    created = core.create_namespaced_pod("default", _pod("defaults"))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert created.spec.scheduler_name == "default-scheduler"
    assert created.spec.restart_policy == "Always"
    assert created.spec.dns_policy == "ClusterFirst"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.status.phase == "Pending"
    assert created.status.qos_class == "BestEffort"
    got = core.read_namespaced_pod("defaults", "default")
    assert got.metadata.uid == created.metadata.uid
    listed = core.list_namespaced_pod("default", label_selector="app=web")
    assert "defaults" in [p.metadata.name for p in listed.items]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)


def test_generate_name_and_already_exists(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    body = _pod("")
    body["metadata"] = {"generateName": "gen-"}
    pod = core.create_namespaced_pod("default", body)
    assert pod.metadata.name.startswith("gen-") and len(pod.metadata.name) == 9
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", _pod(pod.metadata.name))
    assert err.value.status == 409
    assert '"reason":"AlreadyExists"' in err.value.body.replace(" ", "")


def test_validation_names_the_field(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    bad = _pod("bad-pod")
    bad["spec"]["containers"][0].pop("image")
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", bad)
    assert err.value.status == 422
    status = api.sanitize_for_serialization(err.value.body)
    assert "spec.containers[0].image" in status


def test_pagination(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "paging"}})
    for i in range(7):
        core.create_namespaced_pod("paging", _pod(f"p{i}"))
    names: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_pod("paging", limit=3, _continue=token)
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"p{i}" for i in range(7)]


def test_patch_kinds_and_conflict(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    pod = core.create_namespaced_pod("default", _pod("patched"))
    merged = core.patch_namespaced_pod(
        "patched", "default", {"metadata": {"labels": {"tier": "a"}}}, _content_type=MERGE
    )
    assert merged.metadata.labels == {"app": "web", "tier": "a"}
    strategic = core.patch_namespaced_pod(
        "patched",
        "default",
        {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}},
        _content_type=STRATEGIC,
    )
    assert [c.image for c in strategic.spec.containers] == ["nginx:1.28"]
    json_patched = core.patch_namespaced_pod(
        "patched", "default", [{"op": "remove", "path": "/metadata/labels/tier"}]
    )
    assert json_patched.metadata.labels == {"app": "web"}
    stale = core.read_namespaced_pod("patched", "default")
    stale.metadata.resource_version = pod.metadata.resource_version
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_pod("patched", "default", stale)
    assert err.value.status == 409 and "Conflict" in err.value.body


def test_binding_once(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_node({"metadata": {"name": "node-a"}})
    core.create_namespaced_pod("default", _pod("to-bind"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "to-bind"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"},
    }
    core.create_namespaced_pod_binding("to-bind", "default", binding, _preload_content=False)
    bound = core.read_namespaced_pod("to-bind", "default")
    assert bound.spec.node_name == "node-a"
    assert any(c.type == "PodScheduled" and c.status == "True" for c in bound.status.conditions)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod_binding("to-bind", "default", binding, _preload_content=False)
    assert err.value.status == 409
    on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-a")
    assert [p.metadata.name for p in on_node.items] == ["to-bind"]


def test_status_subresource_keeps_spec(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", _pod("with-status"))
    patched = core.patch_namespaced_pod_status(
        "with-status",
        "default",
        {"status": {"phase": "Running"}, "spec": {"nodeName": "sneaky"}},
        _content_type=MERGE,
    )
    assert patched.status.phase == "Running"
    assert patched.spec.node_name is None
    # And the main resource ignores status.
    again = core.patch_namespaced_pod(
        "with-status", "default", {"status": {"phase": "Failed"}}, _content_type=MERGE
    )
    assert again.status.phase == "Running"


def test_watch_sees_changes_in_order(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "watched"}})
    start = core.list_namespaced_pod("watched").metadata.resource_version
    stream = Watching(core.list_namespaced_pod, "watched", start, 3)
    core.create_namespaced_pod("watched", _pod("w1"))
    core.patch_namespaced_pod(
        "w1", "watched", {"metadata": {"labels": {"x": "y"}}}, _content_type=MERGE
    )
    core.delete_namespaced_pod("w1", "watched")
    seen = [(e["type"], e["object"].metadata.name) for e in stream.join()]
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_delete_not_found_is_status(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_pod("nope", "default")
    assert err.value.status == 404 and '"reason":"NotFound"' in err.value.body.replace(" ", "")


def test_deployment_scale(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment("default", body)
    assert created.spec.replicas == 1 and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    scale = apps.patch_namespaced_deployment_scale(
        "web", "default", {"spec": {"replicas": 4}}, _content_type=MERGE
    )
    assert scale.spec.replicas == 4
    after = apps.read_namespaced_deployment("web", "default")
    assert after.spec.replicas == 4 and after.metadata.generation == 2
