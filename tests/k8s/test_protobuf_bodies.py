"""ksched's protobuf decoding against the real kube-apiserver's protobuf encoding.

Objects of every kind ``ksched apiserver`` decodes from protobuf bodies, with
the fields whose JSON form is special (quantities, int-or-strings, times,
micro-times, embedded structs, empty messages, pointers to zero values,
managed fields), are created in a real kube-apiserver; each is then read
twice, as JSON and as ``application/vnd.kubernetes.protobuf``, and our
decoding of the second must equal the first. (The one known difference is
upstream's ``creationTimestamp: null`` for a zero time, which decoding leaves
out, as it does every null.)
"""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ksched.apiserver.protobuf import PROTOBUF, decode_object
from ksched.testing.k8s import RealControlPlane

pytestmark = pytest.mark.k8s

NS = "protobuf"
SEL = {"matchLabels": {"app": "pb"}}
POD_SPEC: dict[str, Any] = {
    "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
    "containers": [
        {
            "name": "c",
            "image": "registry.k8s.io/pause:3.10",
            "args": ["--a", ""],
            "env": [{"name": "EMPTY", "value": ""}, {"name": "X", "value": "1"}],
            "resources": {
                "requests": {"cpu": "1500m", "memory": "512Mi", "example.com/gpu": "1"},
                "limits": {"cpu": "2", "example.com/gpu": "1"},
            },
            "ports": [{"containerPort": 80, "hostPort": 8080, "name": "http"}],
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 3},
            "livenessProbe": {"tcpSocket": {"port": 80}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            "stdin": True,
        }
    ],
    "volumes": [
        {"name": "scratch", "emptyDir": {}},
        {"name": "config", "configMap": {"name": "cm", "optional": False}},
        {"name": "secret", "secret": {"secretName": "s", "defaultMode": 0o400}},
    ],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [
        {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
        {"key": "gone", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0},
    ],
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["2"]}]}
                ]
            }
        },
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": SEL, "topologyKey": "zone"}}
            ]
        },
    },
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "minDomains": 2,
            "labelSelector": SEL,
        }
    ],
    "enableServiceLinks": False,
    "automountServiceAccountToken": False,
    "terminationGracePeriodSeconds": 0,
    "securityContext": {"runAsUser": 1000, "runAsNonRoot": True},
}
# A pointer's zero (replicas: 0) must survive decoding.
WORKLOAD: dict[str, Any] = {
    "replicas": 0,
    "selector": SEL,
    "template": {"metadata": {"labels": {"app": "pb"}}, "spec": POD_SPEC},
}
OBJECTS: list[tuple[str, dict[str, Any]]] = [
    (
        f"/api/v1/namespaces/{NS}/pods",
        {
            "metadata": {"name": "pb", "labels": {"app": "pb"}, "annotations": {"a": ""}},
            "spec": POD_SPEC,
        },
    ),
    (
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        {
            "metadata": {"name": "pb"},
            "spec": {
                **WORKLOAD,
                "strategy": {"rollingUpdate": {"maxSurge": 2, "maxUnavailable": "10%"}},
                "paused": True,
            },
        },
    ),
    (
        f"/apis/apps/v1/namespaces/{NS}/replicasets",
        {"metadata": {"name": "pb"}, "spec": WORKLOAD},
    ),
    (
        f"/apis/batch/v1/namespaces/{NS}/jobs",
        {
            "metadata": {"name": "pb"},
            "spec": {
                "suspend": True,
                "backoffLimit": 0,
                "parallelism": 3,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox"}],
                    }
                },
            },
        },
    ),
    (
        f"/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets",
        {"metadata": {"name": "pb"}, "spec": {"minAvailable": "50%", "selector": SEL}},
    ),
    (
        f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases",
        {
            "metadata": {"name": "pb"},
            "spec": {
                "holderIdentity": "me",
                "leaseDurationSeconds": 15,
                "acquireTime": "2026-11-29T05:00:00.123456Z",
                "renewTime": "2026-11-29T05:00:10.000001Z",
                "leaseTransitions": 0,
            },
        },
    ),
    (
        f"/api/v1/namespaces/{NS}/events",
        {
            "metadata": {"name": "pb.1"},
            "involvedObject": {"kind": "Pod", "namespace": NS, "name": "pb"},
            "reason": "Scheduled",
            "message": "bound",
            "type": "Normal",
            "count": 2,
            "firstTimestamp": "2026-11-29T05:00:00Z",
            "lastTimestamp": "2026-11-29T05:00:01Z",
            "source": {"component": "ksched"},
        },
    ),
    (
        f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
        {
            "metadata": {"name": "pb.2"},
            "eventTime": "2026-11-29T05:00:00.000100Z",
            "series": {"count": 2, "lastObservedTime": "2026-11-29T05:00:03.500000Z"},
            "reportingController": "ksched",
            "reportingInstance": "ksched-host",
            "action": "Scheduling",
            "reason": "FailedScheduling",
            "type": "Warning",
            "note": "0/3 nodes are available",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "namespace": NS, "name": "pb"},
        },
    ),
    (
        "/api/v1/nodes",
        {
            "metadata": {"name": "pb-node", "labels": {"zone": "a"}},
            "spec": {
                "unschedulable": True,
                "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
            },
        },
    ),
]


def _get(cp: RealControlPlane, path: str, accept: str) -> bytes:
    host, _, port = cp.server.removeprefix("https://").partition(":")
    context = ssl.create_default_context(cafile=str(cp.ca_file))
    conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {cp.token}", "Accept": accept})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body[:300]
        assert response.getheader("Content-Type", "").startswith(accept), response.getheader(
            "Content-Type"
        )
        return body
    finally:
        conn.close()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.fixture(scope="module")
def created(k8s_cluster: RealControlPlane) -> list[str]:
    api = k8s_cluster.api
    api.call("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    # No controller manager runs: the ServiceAccount admission plugin needs the account.
    api.call("POST", f"/api/v1/namespaces/{NS}/serviceaccounts", {"metadata": {"name": "default"}})
    paths = []
    for collection, obj in OBJECTS:
        api.call("POST", collection, obj)
        paths.append(f"{collection}/{obj['metadata']['name']}")
    return paths


@pytest.mark.parametrize(
    "index", range(len(OBJECTS)), ids=[p.rsplit("/", 1)[1] for p, _ in OBJECTS]
)
def test_decoding_upstream_protobuf_gives_upstream_json(
    k8s_cluster: RealControlPlane, created: list[str], index: int
) -> None:
    path = created[index]
    as_json = json.loads(_get(k8s_cluster, path, "application/json"))
    decoded = decode_object(_get(k8s_cluster, path, PROTOBUF))
    assert decoded == _without_nulls(as_json)


def test_the_schema_is_the_pinned_apis(k8s_binaries: None) -> None:
    """protobuf_schema.json is what tools/k8s/proto_schema.py writes from the pinned modules."""
    script = Path(__file__).resolve().parents[2] / "tools" / "k8s" / "proto_schema.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
