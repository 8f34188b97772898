"""Deployments through a real API server: creation, rolling update, scaling, Recreate, deletion."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from ksched.controllers import DEPLOYMENTS, PODS, REPLICASETS, KubeClient, Obj, wait_until
from ksched.controllers.deployment import REVISION, resolve_fenceposts
from ksched.controllers.objects import POD_TEMPLATE_HASH, is_active

NS = "default"


def deployment(name: str, replicas: int, image: str, strategy: Obj | None = None) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy or {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def rolled_out(client: KubeClient, name: str) -> bool:
    """``kubectl rollout status``'s test (polymorphichelpers/rollout_status.go)."""
    d = client.get(DEPLOYMENTS, name, NS)
    s, want = d.get("status") or {}, int(d["spec"]["replicas"])
    return (
        int(s.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)
        and int(s.get("updatedReplicas") or 0) == want
        and int(s.get("replicas") or 0) == want
        and int(s.get("availableReplicas") or 0) == want
    )


def owned_by(items: list[Obj], uid: str) -> list[Obj]:
    return [
        o
        for o in items
        if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
    ]


def replicasets(client: KubeClient, d: Obj) -> list[Obj]:
    return owned_by(client.list(REPLICASETS, NS)["items"], d["metadata"]["uid"])


def active_pods(client: KubeClient, app: str) -> list[Obj]:
    items = client.list(PODS, NS, label_selector=f"app={app}")["items"]
    return [p for p in items if is_active(p)]


@pytest.mark.parametrize(
    ("rolling", "replicas", "expected"),
    [
        ({}, 4, (1, 1)),
        ({"maxSurge": "50%", "maxUnavailable": 0}, 4, (2, 0)),
        ({"maxSurge": 0, "maxUnavailable": 0}, 3, (0, 1)),
        ({"maxSurge": "30%", "maxUnavailable": "30%"}, 10, (3, 3)),
        ({"maxSurge": 2, "maxUnavailable": "10%"}, 5, (2, 0)),
    ],
    ids=["defaults-25%", "surge-only", "both-zero", "percent-rounding", "mixed"],
)
def test_fenceposts(rolling: dict[str, Any], replicas: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts({"rollingUpdate": rolling}, replicas) == expected


def test_deployment_creates_replicaset_and_becomes_available(cluster: KubeClient) -> None:
    d = cluster.create(DEPLOYMENTS, deployment("web", 3, "nginx:1"), NS)
    assert wait_until(lambda: rolled_out(cluster, "web"), 30)
    (rs,) = replicasets(cluster, d)
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"][REVISION] == "1"
    digest = rs["spec"]["template"]["metadata"]["labels"][POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{digest}"
    pods = active_pods(cluster, "web")
    assert len(pods) == 3
    assert all(p["metadata"]["labels"][POD_TEMPLATE_HASH] == digest for p in pods)
    assert all(p["status"]["phase"] == "Running" for p in pods)
    status = cluster.get(DEPLOYMENTS, "web", NS)["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_rolling_update_converges_within_surge_and_availability(cluster: KubeClient) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    d = cluster.create(DEPLOYMENTS, deployment("roll", 4, "app:1", strategy), NS)
    assert wait_until(lambda: rolled_out(cluster, "roll"), 30)
    template = copy.deepcopy(d["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "app:2"
    cluster.patch(DEPLOYMENTS, "roll", {"spec": {"template": template}}, NS)
    most_pods, least_available = 0, 4
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        most_pods = max(most_pods, len(active_pods(cluster, "roll")))
        status = cluster.get(DEPLOYMENTS, "roll", NS).get("status") or {}
        least_available = min(least_available, int(status.get("availableReplicas") or 0))
        if rolled_out(cluster, "roll"):
            break
        time.sleep(0.02)
    assert rolled_out(cluster, "roll")
    assert most_pods <= 4 + 1  # maxSurge
    assert least_available >= 4 - 0  # maxUnavailable
    sets = {rs["metadata"]["annotations"][REVISION]: rs for rs in replicasets(cluster, d)}
    assert sorted(sets) == ["1", "2"]
    assert sets["1"]["spec"]["replicas"] == 0
    assert sets["2"]["spec"]["replicas"] == 4
    assert sets["2"]["spec"]["template"]["spec"]["containers"][0]["image"] == "app:2"
    images = {p["spec"]["containers"][0]["image"] for p in active_pods(cluster, "roll")}
    assert wait_until(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in active_pods(cluster, "roll")} == {"app:2"}
        ),
        30,
    ), images


def test_recreate_replaces_all_pods(cluster: KubeClient) -> None:
    d = cluster.create(DEPLOYMENTS, deployment("re", 2, "app:1", {"type": "Recreate"}), NS)
    assert wait_until(lambda: rolled_out(cluster, "re"), 30)
    template = copy.deepcopy(d["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "app:2"
    cluster.patch(DEPLOYMENTS, "re", {"spec": {"template": template}}, NS)
    assert wait_until(lambda: rolled_out(cluster, "re"), 30)
    assert wait_until(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in active_pods(cluster, "re")} == {"app:2"}
        ),
        30,
    )


def test_scale_and_delete_cleans_up(cluster: KubeClient) -> None:
    d = cluster.create(DEPLOYMENTS, deployment("sc", 2, "app:1"), NS)
    assert wait_until(lambda: rolled_out(cluster, "sc"), 30)
    cluster.patch(DEPLOYMENTS, "sc", {"spec": {"replicas": 5}}, NS)
    assert wait_until(
        lambda: rolled_out(cluster, "sc") and len(active_pods(cluster, "sc")) == 5, 30
    )
    cluster.patch(DEPLOYMENTS, "sc", {"spec": {"replicas": 1}}, NS)
    assert wait_until(
        lambda: rolled_out(cluster, "sc") and len(active_pods(cluster, "sc")) == 1, 30
    )
    cluster.delete(DEPLOYMENTS, "sc", NS, propagation="Background")
    assert wait_until(lambda: not replicasets(cluster, d), 30)
    assert wait_until(lambda: not cluster.list(PODS, NS, label_selector="app=sc")["items"], 30)


def progressing(client: KubeClient, name: str) -> tuple[str, str]:
    status = client.get(DEPLOYMENTS, name, NS).get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c["type"] == "Progressing"), {})
    return str(cond.get("status", "")), str(cond.get("reason", ""))


def test_stuck_rollout_exceeds_its_progress_deadline(cluster: KubeClient) -> None:
    body = deployment("stuck", 2, "app:1")
    body["spec"]["progressDeadlineSeconds"] = 2
    body["spec"]["template"]["metadata"]["labels"]["unschedulable"] = "true"
    cluster.create(DEPLOYMENTS, body, NS)
    assert wait_until(lambda: progressing(cluster, "stuck") == ("True", "ReplicaSetUpdated"), 30)
    assert wait_until(
        lambda: progressing(cluster, "stuck") == ("False", "ProgressDeadlineExceeded"), 30
    )
    assert not rolled_out(cluster, "stuck")
