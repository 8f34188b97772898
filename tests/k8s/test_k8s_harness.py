"""The real-control-plane harness: real etcd, kube-apiserver, kube-scheduler and kubectl."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ksched.testing.k8s import (
    BUILD_SCRIPT,
    K8S_VERSION,
    ApiClient,
    BinaryMissingError,
    FakeNodes,
    RealControlPlane,
    binary,
    wait_until,
)

pytestmark = pytest.mark.k8s

REPO = Path(__file__).resolve().parents[2]


def pod(name: str, cpu: str = "100m", scheduler: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "c",
                "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": cpu}},
            }
        ]
    }
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def events_for(api: ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    selector = f"involvedObject.kind=Pod,involvedObject.name={name}"
    body = api.call("GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector={selector}")
    items: list[dict[str, Any]] = body["items"]
    return items


def test_python_pin_matches_go_mod() -> None:
    go_mod = (REPO / "tools" / "k8s" / "go.mod").read_text()
    assert re.search(rf"^require k8s.io/kubernetes {re.escape(K8S_VERSION)}$", go_mod, re.M) or (
        re.search(rf"^\s+k8s.io/kubernetes {re.escape(K8S_VERSION)}\b", go_mod, re.M)
    ), f"tools/k8s/go.mod does not pin k8s.io/kubernetes {K8S_VERSION}"


def test_missing_binary_names_the_build_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KSCHED_K8S_CACHE", str(tmp_path))
    with pytest.raises(BinaryMissingError, match=re.escape(BUILD_SCRIPT)) as err:
        binary("kube-apiserver")
    assert str(tmp_path / K8S_VERSION / "bin" / "kube-apiserver") in str(err.value)
    with pytest.raises(ValueError, match="unknown Kubernetes component 'kubelet'"):
        binary("kubelet")


def test_apiserver_and_kubectl_report_the_pinned_release(k8s_cluster: RealControlPlane) -> None:
    assert k8s_cluster.api.call("GET", "/version")["gitVersion"] == K8S_VERSION
    versions = json.loads(k8s_cluster.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == K8S_VERSION
    assert versions["serverVersion"]["gitVersion"] == K8S_VERSION
    assert k8s_cluster.api.request("GET", "/readyz")[0] == 200


def test_kubectl_get_nodes_lists_ready_schedulable_fake_nodes(
    k8s_cluster: RealControlPlane,
) -> None:
    nodes = FakeNodes.uniform(k8s_cluster.api, 3, prefix="getnodes-", cpu="4")
    with nodes:
        listed = json.loads(k8s_cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        ours = {n["metadata"]["name"]: n for n in listed if n["metadata"]["name"] in nodes.names}
        assert sorted(ours) == sorted(nodes.names)
        for node in ours.values():
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True"
            assert node["status"]["allocatable"]["cpu"] == "4"
            assert not node["spec"].get("taints"), "admission's not-ready taint was not removed"
        table = k8s_cluster.kubectl("get", "nodes", "--no-headers").stdout
        assert re.search(r"^getnodes-0\s+Ready\s", table, re.M), table
    remaining = json.loads(k8s_cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert not {n["metadata"]["name"] for n in remaining} & set(nodes.names)


def test_rbac_refuses_an_unprivileged_service_account(
    k8s_cluster: RealControlPlane, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    k8s_cluster.create_namespace("rbac-test")
    k8s_cluster.create_service_account("nobody", "rbac-test")
    token = k8s_cluster.service_account_token("nobody", "rbac-test")
    api = ApiClient(k8s_cluster.server, token, k8s_cluster.ca_file)
    request.addfinalizer(api.close)

    status, body = api.request("GET", "/api/v1/nodes")
    assert status == 403 and body["reason"] == "Forbidden"
    assert "system:serviceaccount:rbac-test:nobody" in body["message"]
    kubeconfig = k8s_cluster.write_kubeconfig(tmp_path / "nobody.kubeconfig", token)
    refused = k8s_cluster.kubectl("delete", "node", "any-node", kubeconfig=kubeconfig, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()

    # The token itself is valid: granting a Role makes the same call succeed.
    # (Not the "view" ClusterRole: its rules are aggregated by the controller
    # manager, which this control plane does not run.)
    k8s_cluster.kubectl(
        "create", "role", "pod-reader", "-n", "rbac-test", "--verb=get,list", "--resource=pods"
    )
    k8s_cluster.kubectl(
        "create", "rolebinding", "nobody-reads-pods", "-n", "rbac-test",
        "--role=pod-reader", "--serviceaccount=rbac-test:nobody",
    )  # fmt: skip
    # RBAC reads bindings through an informer, so the grant lands within moments.
    wait_until(
        lambda: api.request("GET", "/api/v1/namespaces/rbac-test/pods")[0] == 200,
        "the RoleBinding to take effect",
        timeout=30,
    )
    assert api.request("GET", "/api/v1/nodes")[0] == 403
    with ApiClient(k8s_cluster.server, "not-a-token", k8s_cluster.ca_file) as stranger:
        assert stranger.request("GET", "/api/v1/namespaces/rbac-test/pods")[0] == 401


def test_kube_scheduler_binds_a_pod_to_a_fake_node(k8s_cluster: RealControlPlane) -> None:
    k8s_cluster.create_namespace("sched-test")
    api = k8s_cluster.api
    with FakeNodes.uniform(api, 2, prefix="sched-", cpu="2") as nodes:
        api.call("POST", "/api/v1/namespaces/sched-test/pods", pod("fits", cpu="500m"))
        api.call("POST", "/api/v1/namespaces/sched-test/pods", pod("too-big", cpu="3"))
        api.call("POST", "/api/v1/namespaces/sched-test/pods", pod("other", scheduler="ksched"))

        bound = wait_until(
            lambda: api.call("GET", "/api/v1/namespaces/sched-test/pods/fits")["spec"].get(
                "nodeName"
            ),
            "kube-scheduler to bind sched-test/fits",
        )
        assert bound in nodes.names
        scheduled = wait_until(
            lambda: [
                e for e in events_for(api, "sched-test", "fits") if e["reason"] == "Scheduled"
            ],
            "the Scheduled event",
        )
        assert scheduled[0]["message"] == f"Successfully assigned sched-test/fits to {bound}"

        failed = wait_until(
            lambda: [
                e
                for e in events_for(api, "sched-test", "too-big")
                if e["reason"] == "FailedScheduling"
            ],
            "the FailedScheduling event",
        )
        # Every node is too small, and other tests' nodes may exist too.
        assert re.fullmatch(
            r"0/(\d+) nodes are available: \1 Insufficient cpu\. "
            r"preemption: 0/\1 nodes are available: \1 Preemption is not helpful for "
            r"scheduling\.",
            failed[0]["message"],
        ), failed[0]["message"]
        # The event and the pod's condition are separate writes: wait for the condition too.
        condition = wait_until(
            lambda: next(
                (
                    c
                    for c in api.call("GET", "/api/v1/namespaces/sched-test/pods/too-big")[
                        "status"
                    ].get("conditions", [])
                    if c["type"] == "PodScheduled"
                ),
                None,
            ),
            "the PodScheduled condition",
        )
        assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")

        # A pod for another scheduler is left alone.
        other = api.call("GET", "/api/v1/namespaces/sched-test/pods/other")
        assert "nodeName" not in other["spec"] and not other["status"].get("conditions")
        api.call("DELETE", "/api/v1/namespaces/sched-test/pods/fits")
        api.call("DELETE", "/api/v1/namespaces/sched-test/pods/too-big")
        api.call("DELETE", "/api/v1/namespaces/sched-test/pods/other")


def test_apiserver_restart_keeps_objects(
    k8s_control_plane_factory: Callable[..., RealControlPlane],
) -> None:
    cp = k8s_control_plane_factory()
    created = cp.api.call(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep"}, "data": {"a": "1"}},
    )
    old_pid = cp.pids["kube-apiserver"]
    cp.restart_apiserver(down_for=0.5)
    assert cp.pids["kube-apiserver"] != old_pid
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    kept = cp.api.call("GET", "/api/v1/namespaces/default/configmaps/keep")
    assert kept["data"] == {"a": "1"}
    assert kept["metadata"]["uid"] == created["metadata"]["uid"]
    assert kept["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # Writes go on from where the store left off.
    again = cp.api.call(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/keep",
        {"data": {"a": "2"}},
        content_type="application/merge-patch+json",
    )
    assert int(again["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert cp.kubectl("get", "configmap", "keep", "-o", "jsonpath={.data.a}").stdout == "2"


@pytest.mark.usefixtures("k8s_binaries")
def test_stop_leaves_no_process_even_when_the_test_fails() -> None:
    cp = RealControlPlane(scheduler=True)
    with pytest.raises(RuntimeError, match="test body failed"), cp:
        pids = cp.pids
        workdir = cp.workdir
        assert set(pids) == {"etcd", "kube-apiserver", "kube-scheduler"}
        raise RuntimeError("test body failed")
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped, so not even a zombie is left
        assert name not in cp.pids
    assert not workdir.exists()
