"""ReplicaSets through a real API server: replica count, ownership, status, deletion order."""

from __future__ import annotations

import pytest

from ksched.controllers import PODS, REPLICASETS, KubeClient, Obj, wait_until
from ksched.controllers.objects import controller_of, is_active
from ksched.controllers.pod_control import deletion_rank

NS = "default"


def replicaset(name: str, replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"rs": name}},
            "template": {
                "metadata": {"labels": {"rs": name}},
                "spec": {"containers": [{"name": "main", "image": "app"}]},
            },
        },
    }


def pods_of(client: KubeClient, name: str) -> list[Obj]:
    items = client.list(PODS, NS, label_selector=f"rs={name}")["items"]
    return [p for p in items if is_active(p)]


def status_is(client: KubeClient, name: str, replicas: int, ready: int) -> bool:
    s = client.get(REPLICASETS, name, NS).get("status") or {}
    return s.get("replicas") == replicas and s.get("readyReplicas") == ready


def test_replicaset_keeps_replicas_and_reports_status(cluster: KubeClient) -> None:
    rs = cluster.create(REPLICASETS, replicaset("keep", 3), NS)
    assert wait_until(lambda: status_is(cluster, "keep", 3, 3), 30)
    pods = pods_of(cluster, "keep")
    assert len(pods) == 3
    for pod in pods:
        ref = controller_of(pod)
        assert ref is not None
        assert (ref["kind"], ref["name"], ref["uid"]) == (
            "ReplicaSet",
            "keep",
            rs["metadata"]["uid"],
        )
        assert pod["metadata"]["name"].startswith("keep-")
    victim = pods[0]["metadata"]["name"]
    cluster.delete(PODS, victim, NS, grace_period=0)
    assert wait_until(
        lambda: (
            len(pods_of(cluster, "keep")) == 3
            and victim not in {p["metadata"]["name"] for p in pods_of(cluster, "keep")}
        ),
        30,
    )
    cluster.patch(REPLICASETS, "keep", {"spec": {"replicas": 6}}, NS)
    assert wait_until(lambda: status_is(cluster, "keep", 6, 6), 30)
    cluster.patch(REPLICASETS, "keep", {"spec": {"replicas": 2}}, NS)
    assert wait_until(lambda: status_is(cluster, "keep", 2, 2), 30)
    assert wait_until(lambda: len(pods_of(cluster, "keep")) == 2, 30)
    status = cluster.get(REPLICASETS, "keep", NS)["status"]
    assert (
        status["observedGeneration"]
        == cluster.get(REPLICASETS, "keep", NS)["metadata"]["generation"]
    )


def test_deleting_replicaset_deletes_its_pods(cluster: KubeClient) -> None:
    cluster.create(REPLICASETS, replicaset("gone", 2), NS)
    assert wait_until(lambda: status_is(cluster, "gone", 2, 2), 30)
    cluster.delete(REPLICASETS, "gone", NS)
    assert wait_until(lambda: not cluster.list(PODS, NS, label_selector="rs=gone")["items"], 30)


def _pod(name: str, node: str | None, phase: str, ready: bool, created: str) -> Obj:
    return {
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


@pytest.mark.parametrize(
    ("pods", "first"),
    [
        ([_pod("a", "n", "Running", True, "1"), _pod("b", None, "Pending", False, "1")], "b"),
        ([_pod("a", "n", "Running", True, "1"), _pod("b", "n", "Pending", False, "1")], "b"),
        ([_pod("a", "n", "Running", True, "1"), _pod("b", "n", "Running", False, "1")], "b"),
        (
            [
                _pod("a", "n", "Running", True, "2024-01-01T00:00:00Z"),
                _pod("b", "n", "Running", True, "2025-01-01T00:00:00Z"),
            ],
            "b",
        ),
    ],
    ids=["unscheduled-first", "pending-first", "unready-first", "newest-first"],
)
def test_deletion_rank(pods: list[Obj], first: str) -> None:
    assert min(pods, key=deletion_rank)["metadata"]["name"] == first
