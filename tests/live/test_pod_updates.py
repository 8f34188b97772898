"""How the live scheduler folds pod updates into its cache, against ``ksched apiserver``.

A kubelet's status report of a bound pod takes a shorter path than a full
re-parse (only the status is read); these tests hold that path to the full
one: the status lands (preemption reads start time and conditions), and any
other change (labels, deletion) still reaches the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ksched.cluster.servers import api_server
from ksched.config import default_config
from ksched.live.kube import KubeClient
from ksched.live.runner import LiveScheduler
from ksched.testing.k8s import wait_until

KEY = "default/web"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[KubeClient, LiveScheduler]]:
    with api_server("ksched", tmp_path / "api") as kubeconfig:
        kube = KubeClient.connect(str(kubeconfig), qps=1000, burst=1000)
        scheduler = LiveScheduler(kube, default_config(), lease=None, seed=1)
        scheduler.start(sync_timeout=30)
        try:
            yield kube, scheduler
        finally:
            scheduler.stop()
            kube.close()


def _node() -> dict[str, object]:
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def _pod() -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "1"}}}]
        },
    }


def test_status_reports_and_label_changes_reach_the_cache(
    live: tuple[KubeClient, LiveScheduler],
) -> None:
    kube, live_scheduler = live
    s = live_scheduler.scheduler
    kube.request("POST", "/api/v1/nodes", body=_node())
    kube.request("POST", "/api/v1/namespaces/default/pods", body=_pod())
    wait_until(lambda: KEY in s.pods and s.pods[KEY].node_name == "n1", "the binding", 30)
    path = "/api/v1/namespaces/default/pods/web"
    wait_until(lambda: kube.request("GET", path)["spec"].get("nodeName") == "n1", "bound", 30)

    status = {
        "status": {
            "phase": "Running",
            "startTime": "2026-11-27T10:00:00Z",
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    kube.request(
        "PATCH", path + "/status", body=status, content_type="application/merge-patch+json"
    )
    wait_until(lambda: s.pods[KEY].pod.status.phase == "Running", "the status report", 30)
    info = s.pods[KEY]
    assert info.pod.status.start_time == "2026-11-27T10:00:00Z"
    assert [c.type for c in info.pod.status.conditions] == ["Ready"]
    assert info.node_name == "n1"
    node = s.snapshot.get("n1")
    assert node is not None and list(node.pods) == [KEY]
    assert node.requested["cpu"] == 1000  # counted once

    labels = {"metadata": {"labels": {"app": "web", "tier": "front"}}}
    kube.request("PATCH", path, body=labels, content_type="application/merge-patch+json")
    wait_until(lambda: s.pods[KEY].labels.get("tier") == "front", "the new label", 30)
    assert s.pods[KEY].pod.status.phase == "Running"
    node = s.snapshot.get("n1")
    assert node is not None and list(node.pods) == [KEY] and node.requested["cpu"] == 1000

    kube.request("DELETE", path, query={"gracePeriodSeconds": "0"})
    wait_until(lambda: KEY not in s.pods, "the deletion", 30)
    assert KEY not in live_scheduler._seen
