"""Upstream semantics over real HTTP: watch details, deletion, garbage collection, eviction, YAML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ksched.apiserver import ApiServerProcess

PODS = "/api/v1/namespaces/{ns}/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture(scope="module")
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {apiserver.token}"}
    with httpx.Client(base_url=apiserver.url, headers=headers, timeout=15) as client:
        yield client


def _ns(http: httpx.Client, name: str) -> str:
    assert http.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def _pod(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}, **meta},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }


def _events(
    http: httpx.Client, path: str, params: dict[str, str], count: int
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with http.stream("GET", path, params={"watch": "true", **params}) as stream:
        for line in stream.iter_lines():
            events.append(json.loads(line))
            if len(events) == count:
                break
    return events


def _merge(http: httpx.Client, path: str, patch: Any) -> httpx.Response:
    return http.patch(path, json=patch, headers={"Content-Type": "application/merge-patch+json"})


def test_watch_too_old_gets_410_expired(tmp_path: Path) -> None:
    with (
        ApiServerProcess(
            tmp_path, "--anonymous-dev", "--storage", "memory", "--watch-cache-size", "5"
        ) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        first = http.post(PODS.format(ns="default"), json=_pod("p0")).json()
        for i in range(1, 10):
            http.post(PODS.format(ns="default"), json=_pod(f"p{i}"))
        old = first["metadata"]["resourceVersion"]
        [event] = _events(http, PODS.format(ns="default"), {"resourceVersion": old}, 1)
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")


def test_bookmarks_carry_the_current_version(http: httpx.Client) -> None:
    ns = _ns(http, "bookmarks")
    rv = http.get(PODS.format(ns=ns)).json()["metadata"]["resourceVersion"]
    [event] = _events(
        http, PODS.format(ns=ns), {"resourceVersion": rv, "allowWatchBookmarks": "true"}, 1
    )
    assert event["type"] == "BOOKMARK"
    assert int(event["object"]["metadata"]["resourceVersion"]) >= int(rv)


def test_send_initial_events_ends_with_annotated_bookmark(http: httpx.Client) -> None:
    ns = _ns(http, "initial")
    http.post(PODS.format(ns=ns), json=_pod("a"))
    http.post(PODS.format(ns=ns), json=_pod("b"))
    params = {
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    events = _events(http, PODS.format(ns=ns), params, 3)
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events[:2]] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    assert events[2]["type"] == "BOOKMARK"
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_label_selector_watch_sees_transitions(http: httpx.Client) -> None:
    ns = _ns(http, "transitions")
    rv = http.get(PODS.format(ns=ns)).json()["metadata"]["resourceVersion"]
    path = f"{PODS.format(ns=ns)}/t"
    http.post(PODS.format(ns=ns), json=_pod("t"))
    _merge(http, path, {"metadata": {"labels": {"app": "x"}}})
    _merge(http, path, {"metadata": {"labels": {"tier": "1"}}})
    _merge(http, path, {"metadata": {"labels": {"app": None}}})
    events = _events(http, PODS.format(ns=ns), {"resourceVersion": rv, "labelSelector": "app=x"}, 3)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_graceful_deletion_of_a_bound_pod(http: httpx.Client) -> None:
    ns = _ns(http, "graceful")
    http.post(PODS.format(ns=ns), json=_pod("g"))
    binding = {"metadata": {"name": "g"}, "target": {"kind": "Node", "name": "n"}}
    assert http.post(f"/api/v1/namespaces/{ns}/bindings", json=binding).status_code == 201
    path = f"{PODS.format(ns=ns)}/g"
    pending = http.delete(path).json()
    assert pending["metadata"]["deletionGracePeriodSeconds"] == 30
    assert pending["metadata"]["deletionTimestamp"]
    assert http.get(path).status_code == 200
    assert http.delete(path, params={"gracePeriodSeconds": "0"}).status_code == 200
    assert http.get(path).status_code == 404


def test_finalizers_hold_deletion_until_removed(http: httpx.Client) -> None:
    ns = _ns(http, "finalizers")
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/held"
    lease = {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}, "spec": {}}
    assert (
        http.post(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", json=lease).status_code
        == 201
    )
    held = http.delete(path)
    assert held.status_code == 202 and held.json()["metadata"]["deletionTimestamp"]
    assert http.get(path).status_code == 200
    assert _merge(http, path, {"metadata": {"finalizers": None}}).status_code == 200
    assert http.get(path).status_code == 404


def test_deleting_an_owner_collects_its_dependents(http: httpx.Client) -> None:
    ns = _ns(http, "owners")
    template = {"metadata": {"labels": {"app": "o"}}, "spec": _pod("x")["spec"]}
    rs = {
        "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "o"}}, "template": template},
    }
    owner = http.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=rs).json()
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs",
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    http.post(PODS.format(ns=ns), json=_pod("owned", {"app": "o"}, ownerReferences=[ref]))
    http.post(PODS.format(ns=ns), json=_pod("free", {"app": "o"}))
    assert http.delete(f"/apis/apps/v1/namespaces/{ns}/replicasets/rs").status_code == 200
    names = [p["metadata"]["name"] for p in http.get(PODS.format(ns=ns)).json()["items"]]
    assert names == ["free"]


def test_namespace_deletion_removes_contents(http: httpx.Client) -> None:
    ns = _ns(http, "doomed")
    http.post(PODS.format(ns=ns), json=_pod("inside"))
    assert http.delete(f"/api/v1/namespaces/{ns}").status_code == 200
    assert http.get(f"/api/v1/namespaces/{ns}").status_code == 404
    assert http.get(f"{PODS.format(ns=ns)}/inside").status_code == 404
    assert http.post(PODS.format(ns=ns), json=_pod("late")).status_code == 404


def _running(http: httpx.Client, ns: str, name: str) -> None:
    http.post(PODS.format(ns=ns), json=_pod(name, {"app": "pdb"}))
    status = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert _merge(http, f"{PODS.format(ns=ns)}/{name}/status", status).status_code == 200


@pytest.mark.parametrize(
    ("min_available", "code"), [(2, 429), (1, 201)], ids=["budget-exhausted", "budget-allows"]
)
def test_eviction_honours_the_disruption_budget(
    http: httpx.Client, min_available: int, code: int
) -> None:
    ns = _ns(http, f"evict-{min_available}")
    _running(http, ns, "a")
    _running(http, ns, "b")
    pdb = {
        "metadata": {"name": "budget"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "pdb"}}},
    }
    assert (
        http.post(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", json=pdb).status_code
        == 201
    )
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "a"}}
    response = http.post(f"{PODS.format(ns=ns)}/a/eviction", json=eviction)
    assert response.status_code == code, response.text
    if code == 429:
        assert response.json()["reason"] == "TooManyRequests"
        assert http.get(f"{PODS.format(ns=ns)}/a").status_code == 200
    else:
        assert http.get(f"{PODS.format(ns=ns)}/a").status_code == 404


def test_yaml_in_and_out(http: httpx.Client) -> None:
    ns = _ns(http, "yaml")
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", **_pod("y")})
    created = http.post(
        PODS.format(ns=ns), content=body, headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201
    got = http.get(f"{PODS.format(ns=ns)}/y", headers={"Accept": "application/yaml"})
    assert got.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(got.text)["metadata"]["name"] == "y"


def test_dry_run_does_not_persist(http: httpx.Client) -> None:
    ns = _ns(http, "dry")
    response = http.post(PODS.format(ns=ns), params={"dryRun": "All"}, json=_pod("d"))
    assert (
        response.status_code == 201
        and response.json()["spec"]["schedulerName"] == "default-scheduler"
    )
    assert http.get(f"{PODS.format(ns=ns)}/d").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/apis/apps/v1/namespaces/default/deployments",
            {
                "metadata": {"name": "d"},
                "spec": {
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "c"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
            "spec.template.metadata.labels",
        ),
        (
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": "Bad_Name"},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
            "metadata.name",
        ),
        (
            "/api/v1/namespaces/default/pods",
            {
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "x"}], "priority": "high"},
            },
            "spec.priority",
        ),
        (
            "/api/v1/nodes",
            {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}},
            "spec.taints[0].effect",
        ),
        (
            "/apis/batch/v1/namespaces/default/jobs",
            {
                "metadata": {"name": "j"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
            },
            "spec.template.spec.restartPolicy",
        ),
    ],
    ids=["selector-mismatch", "bad-name", "wrong-type", "bad-taint", "job-restart-policy"],
)
def test_invalid_objects_name_the_field(
    http: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    assert field in [c["field"] for c in status["details"]["causes"]]


def _deployment(name: str, strategy: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
            "strategy": strategy,
        },
    }


@pytest.mark.parametrize(
    ("strategy", "field", "message"),
    [
        ({"type": "Sometimes"}, "spec.strategy.type", "Unsupported value"),
        ({"rollingUpdate": {"maxSurge": "1.5%"}}, "spec.strategy.rollingUpdate.maxSurge", "%"),
        ({"rollingUpdate": {"maxSurge": -1}}, "spec.strategy.rollingUpdate.maxSurge", ">= 0"),
        (
            {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
            "spec.strategy.rollingUpdate.maxUnavailable",
            "may not be 0",
        ),
        (
            {"rollingUpdate": {"maxUnavailable": "101%"}},
            "spec.strategy.rollingUpdate.maxUnavailable",
            "100%",
        ),
        (
            {"type": "Recreate", "rollingUpdate": {}},
            "spec.strategy.rollingUpdate",
            "Forbidden",
        ),
    ],
    ids=["type", "percent", "negative", "both-zero", "over-100", "recreate-rolling"],
)
def test_deployment_strategy_validated_as_upstream(
    http: httpx.Client, strategy: dict[str, Any], field: str, message: str
) -> None:
    """Upstream ``ValidateDeploymentStrategy``: the controller never meets a bad fencepost."""
    response = http.post(DEPLOYMENTS, json=_deployment("strategy", strategy))
    assert response.status_code == 422, response.text
    causes = {c["field"]: c["message"] for c in response.json()["details"]["causes"]}
    assert field in causes, causes
    assert message.replace(">= 0", "greater than or equal to 0") in causes[field]


def test_deployment_strategy_defaults_fill_an_empty_type(http: httpx.Client) -> None:
    response = http.post(DEPLOYMENTS, json=_deployment("empty-type", {"type": ""}))
    assert response.status_code == 201, response.text
    assert response.json()["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    recreate = http.post(DEPLOYMENTS, json=_deployment("recreate", {"type": "Recreate"}))
    assert recreate.status_code == 201, recreate.text
    assert recreate.json()["spec"]["strategy"] == {"type": "Recreate"}


def test_job_defaults_generate_its_selector(http: httpx.Client) -> None:
    ns = _ns(http, "jobs")
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    created = http.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job).json()
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {
        "matchLabels": {"batch.kubernetes.io/controller-uid": uid}
    }
    assert created["spec"]["template"]["metadata"]["labels"]["job-name"] == "j"
    assert (
        created["spec"]["completions"],
        created["spec"]["parallelism"],
        created["spec"]["backoffLimit"],
    ) == (1, 1, 6)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_too_deep_bodies_and_patches_are_refused(http: httpx.Client) -> None:
    ns = _ns(http, "deep")
    deep = _pod("deep")
    deep["spec"]["x"] = _nested(300)
    response = http.post(
        PODS.format(ns=ns), content=json.dumps(deep), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["reason"] == "BadRequest"
    http.post(PODS.format(ns=ns), json=_pod("shallow"))
    # Each half is storable; together they nest deeper than storage can encode.
    path = f"{PODS.format(ns=ns)}/shallow"
    patch = [{"op": "add", "path": "/metadata/annotations", "value": {}}]
    assert (
        http.patch(
            path, json=patch, headers={"Content-Type": "application/json-patch+json"}
        ).status_code
        == 200
    )
    first = {"metadata": {"labels": None, "x": _nested(200)}}
    assert _merge(http, path, first).status_code == 200
    second = [{"op": "add", "path": "/metadata/x" + "/a" * 200, "value": _nested(100)}]
    response = http.patch(
        path, json=second, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 422, response.text
    assert http.get(path).status_code == 200


def test_type_check_of_replicas_still_refuses_a_bad_field(http: httpx.Client) -> None:
    """Bodies equal but for their names skip the typed model; any other change is checked."""
    ns = _ns(http, "replicas")
    path = f"/api/v1/namespaces/{ns}/pods"
    for i in range(3):
        assert http.post(path, json=_pod(f"r{i}", {"app": "r"})).status_code == 201
    bad = _pod("r-bad", {"app": "r"})
    bad["spec"]["containers"][0]["image"] = 7
    response = http.post(path, json=bad)
    assert response.status_code == 422, response.text
    fields = [c["field"] for c in response.json()["details"]["causes"]]
    assert fields == ["spec.containers[0].image"]
    bad_name = _pod("r-x", {"app": "r"})
    bad_name["metadata"]["name"] = 7
    assert http.post(path, json=bad_name).status_code == 422
    assert len(http.get(path).json()["items"]) == 3
