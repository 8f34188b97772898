"""Models read real objects and write them back unchanged, unknown fields included."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ksched.api import (
    Binding,
    K8sObject,
    Lease,
    Node,
    ObjectMeta,
    ObjectReference,
    Pod,
    PodCondition,
    PodDisruptionBudget,
    Quantity,
    format_time,
    k8s_alias,
    load_object,
    parse_time,
    to_dict,
    to_json,
)

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web-7d4b9c6f5-x2x9k",
        "generateName": "web-7d4b9c6f5-",
        "namespace": "shop",
        "uid": "3f1e2d4c-5b6a-4789-8abc-def012345678",
        "resourceVersion": "123456",
        "creationTimestamp": "2024-05-01T12:00:00Z",
        "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T11:59:00Z"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c6f5",
                "uid": "aaaa-bbbb",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "managedFields": [
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-05-01T12:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            }
        ],
    },
    "spec": {
        "volumes": [
            {
                "name": "kube-api-access-abcde",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                    ],
                    "defaultMode": 420,
                },
            }
        ],
        "initContainers": [
            {
                "name": "migrate",
                "image": "shop/migrate:1.2",
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}},
            },
            {
                "name": "proxy",
                "image": "envoy:1.30",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": 0.1, "memory": "32Mi"}},
            },
        ],
        "containers": [
            {
                "name": "web",
                "image": "shop/web:2.0",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "prod"}],
                "resources": {
                    "limits": {"cpu": "2", "memory": "1.5Gi", "nvidia.com/gpu": 1},
                    "requests": {"cpu": "1500m", "memory": "1Gi", "nvidia.com/gpu": 1},
                },
                "volumeMounts": [
                    {
                        "name": "kube-api-access-abcde",
                        "readOnly": True,
                        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    }
                ],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "futureContainerField": {"x": 1},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "nodeName": "node-1",
        "hostNetwork": False,
        "securityContext": {},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "zone", "operator": "In", "values": ["a", "b"]}
                            ],
                            "matchFields": [
                                {"key": "metadata.name", "operator": "NotIn", "values": ["n9"]}
                            ],
                        }
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]},
                    }
                ],
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname",
                            "matchLabelKeys": ["pod-template-hash"],
                        },
                    }
                ]
            },
        },
        "schedulerName": "default-scheduler",
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            }
        ],
        "priority": 1000,
        "priorityClassName": "high",
        "preemptionPolicy": "PreemptLowerPriority",
        "enableServiceLinks": True,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {
                    "matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]
                },
                "minDomains": 2,
            }
        ],
        "overhead": {"cpu": "10m", "memory": "16Mi"},
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": "2024-05-01T12:00:00Z",
            }
        ],
        "hostIP": "10.0.0.5",
        "hostIPs": [{"ip": "10.0.0.5"}],
        "podIP": "192.168.1.7",
        "podIPs": [{"ip": "192.168.1.7"}, {"ip": "fd00::7"}],
        "startTime": "2024-05-01T12:00:01Z",
        "containerStatuses": [
            {
                "name": "web",
                "state": {"running": {"startedAt": "2024-05-01T12:00:05Z"}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": "shop/web:2.0",
                "imageID": "docker.io/shop/web@sha256:abc",
                "containerID": "containerd://0123",
                "started": True,
            }
        ],
        "qosClass": "Burstable",
    },
}

NODE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {
        "name": "node-1",
        "uid": "n-uid",
        "resourceVersion": "99",
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "labels": {
            "kubernetes.io/hostname": "node-1",
            "topology.kubernetes.io/zone": "a",
            "node.kubernetes.io/instance-type": "m5.xlarge",
        },
        "annotations": {"node.alpha.kubernetes.io/ttl": "0"},
    },
    "spec": {
        "podCIDR": "192.168.1.0/24",
        "podCIDRs": ["192.168.1.0/24", "fd00:1::/64"],
        "providerID": "aws:///us-east-1a/i-0123",
        "taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
            {
                "key": "node.kubernetes.io/unreachable",
                "effect": "NoExecute",
                "timeAdded": "2024-05-01T12:00:00Z",
            },
        ],
    },
    "status": {
        "capacity": {
            "cpu": "4",
            "ephemeral-storage": "104845292Ki",
            "hugepages-2Mi": "0",
            "memory": "16215348Ki",
            "nvidia.com/gpu": "1",
            "pods": "110",
        },
        "allocatable": {
            "cpu": "3920m",
            "ephemeral-storage": "96625420948",
            "hugepages-2Mi": "0",
            "memory": "15098164Ki",
            "nvidia.com/gpu": "1",
            "pods": "110",
        },
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": "2024-05-01T12:00:00Z",
                "lastTransitionTime": "2024-01-01T00:01:00Z",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [
            {"type": "InternalIP", "address": "10.0.0.5"},
            {"type": "Hostname", "address": "node-1"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "ec2abc",
            "systemUUID": "ec2abc-uuid",
            "bootID": "boot-1",
            "kernelVersion": "6.1.0",
            "osImage": "Ubuntu 22.04.4 LTS",
            "containerRuntimeVersion": "containerd://1.7.13",
            "kubeletVersion": "v1.30.1",
            "kubeProxyVersion": "v1.30.1",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
        "images": [
            {
                "names": ["docker.io/shop/web@sha256:abc", "docker.io/shop/web:2.0"],
                "sizeBytes": 1234,
            },
        ],
        "runtimeHandlers": [{"name": "runc", "features": {"recursiveReadOnlyMounts": True}}],
        "features": {"supplementalGroupsPolicy": True},
    },
}

LEASE: dict[str, Any] = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "kube-scheduler", "namespace": "kube-system", "resourceVersion": "7"},
    "spec": {
        "holderIdentity": "master-1_0a1b2c",
        "leaseDurationSeconds": 15,
        "acquireTime": "2024-05-01T11:00:00.000000Z",
        "renewTime": "2024-05-01T12:00:00.123456Z",
        "leaseTransitions": 3,
    },
}

PDB: dict[str, Any] = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "web", "namespace": "shop", "generation": 2},
    "spec": {
        "maxUnavailable": "25%",
        "selector": {"matchLabels": {"app": "web"}},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    },
    "status": {
        "observedGeneration": 2,
        "disruptionsAllowed": 1,
        "currentHealthy": 4,
        "desiredHealthy": 3,
        "expectedPods": 4,
        "disruptedPods": {"web-1": "2024-05-01T12:00:00Z"},
        "conditions": [
            {
                "type": "DisruptionAllowed",
                "status": "True",
                "reason": "SufficientPods",
                "message": "",
                "observedGeneration": 2,
                "lastTransitionTime": "2024-05-01T12:00:00Z",
            }
        ],
    },
}

PDB_MIN: dict[str, Any] = {
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {"name": "db"},
    "spec": {"minAvailable": 2, "selector": {}},
    "status": {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
}

EVENT: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Event",
    "metadata": {"name": "web.17c", "namespace": "shop"},
    "involvedObject": {
        "kind": "Pod",
        "namespace": "shop",
        "name": "web",
        "uid": "3f1e",
        "apiVersion": "v1",
        "resourceVersion": "123",
    },
    "reason": "FailedScheduling",
    "message": "0/3 nodes are available: 3 Insufficient cpu.",
    "source": {},
    "firstTimestamp": None,
    "lastTimestamp": None,
    "type": "Warning",
    "eventTime": "2024-05-01T12:00:00.123456Z",
    "action": "Scheduling",
    "reportingComponent": "default-scheduler",
    "reportingInstance": "default-scheduler-master-1",
    "series": {"count": 4, "lastObservedTime": "2024-05-01T12:05:00.000000Z"},
}

BINDING: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Binding",
    "metadata": {"name": "web", "namespace": "shop", "uid": "3f1e"},
    "target": {"kind": "Node", "name": "node-1"},
}

MANIFESTS = {
    "pod": POD,
    "node": NODE,
    "lease": LEASE,
    "pdb": PDB,
    "pdb-min-available": PDB_MIN,
    "event": EVENT,
    "binding": BINDING,
    "kubectl-dry-run-pod": {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": None, "labels": {"run": "x"}, "name": "x"},
        "spec": {
            "containers": [{"image": "nginx", "name": "x", "resources": {}}],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
        },
        "status": {},
    },
}


@pytest.mark.parametrize("manifest", MANIFESTS.values(), ids=MANIFESTS.keys())
def test_load_then_dump_reproduces_the_input(manifest: dict[str, Any]) -> None:
    original = copy.deepcopy(manifest)
    obj = load_object(manifest)
    assert to_dict(obj) == original
    assert json.loads(to_json(obj)) == original
    assert manifest == original  # loading does not touch the input


def test_typed_fields_read_the_json_names() -> None:
    pod = Pod.model_validate(POD)
    assert pod.spec.node_name == "node-1"
    assert pod.status.host_ip == "10.0.0.5"
    assert [ip.ip for ip in pod.status.pod_ips] == ["192.168.1.7", "fd00::7"]
    assert pod.status.container_statuses[0].image_id == "docker.io/shop/web@sha256:abc"
    assert pod.spec.containers[0].resources.requests["memory"] == Quantity("1Gi")
    assert pod.spec.init_containers[1].restart_policy == "Always"
    affinity = pod.spec.affinity
    assert affinity is not None and affinity.node_affinity is not None
    required = affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert required is not None
    assert required.node_selector_terms[0].match_fields[0].values == ["n9"]
    extra = pod.spec.containers[0].model_extra
    assert extra is not None and extra["futureContainerField"] == {"x": 1}

    node = Node.model_validate(NODE)
    assert node.spec.provider_id == "aws:///us-east-1a/i-0123"
    assert node.spec.pod_cidrs[1] == "fd00:1::/64"
    assert node.status.node_info.system_uuid == "ec2abc-uuid"
    assert node.status.node_info.kube_proxy_version == "v1.30.1"
    assert node.spec.taints[1].time_added == "2024-05-01T12:00:00Z"

    pdb = PodDisruptionBudget.model_validate(PDB)
    assert pdb.spec.max_unavailable == "25%"
    assert PodDisruptionBudget.model_validate(PDB_MIN).spec.min_available == 2


ALIASES = [
    ("host_ip", "hostIP"),
    ("pod_ips", "podIPs"),
    ("container_id", "containerID"),
    ("pod_cidrs", "podCIDRs"),
    ("provider_id", "providerID"),
    ("system_uuid", "systemUUID"),
    ("host_pid", "hostPID"),
    ("uid", "uid"),
    ("api_version", "apiVersion"),
    ("required_during_scheduling_ignored_during_execution", "requiredDuringScheduling"
     "IgnoredDuringExecution"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "alias"), ALIASES, ids=[n for n, _ in ALIASES])
def test_aliases_follow_kubernetes_spelling(name: str, alias: str) -> None:
    assert k8s_alias(name) == alias


def test_snake_case_names_are_accepted_too() -> None:
    pod = Pod.model_validate({"spec": {"node_name": "n1", "containers": [{"name": "c"}]}})
    assert pod.spec.node_name == "n1"


def test_new_objects_dump_api_version_kind_and_what_was_set() -> None:
    pod = Pod(metadata=ObjectMeta(name="p", namespace="ns"))
    assert to_dict(pod) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
    }
    lease = Lease()
    assert to_dict(lease) == {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
    binding = Binding(metadata=ObjectMeta(name="p"), target=ObjectReference(kind="Node", name="n1"))
    assert to_dict(binding)["target"] == {"kind": "Node", "name": "n1"}


def test_list_items_without_kind_gain_it_on_dump() -> None:
    item = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert to_dict(Pod.model_validate(item)) == {"apiVersion": "v1", "kind": "Pod", **item}


def test_changes_in_place_are_dumped() -> None:
    pod = Pod.model_validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    pod.metadata.labels["team"] = "a"
    pod.status.conditions.append(PodCondition(type="PodScheduled", status="False"))
    pod.status.nominated_node_name = "n2"
    pod.spec.node_name = "n1"
    assert to_dict(pod) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"team": "a"}},
        "spec": {"nodeName": "n1"},
        "status": {
            "conditions": [{"type": "PodScheduled", "status": "False"}],
            "nominatedNodeName": "n2",
        },
    }


def test_explicit_defaults_in_the_input_are_kept() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"labels": {}},
        "spec": {"containers": [], "affinity": None, "hostNetwork": False},
    }
    assert to_dict(Pod.model_validate(manifest)) == manifest


def test_realistic_pods_validate_quickly() -> None:
    # A budget far above the expected cost: catches a per-field Python validator.
    pods = [copy.deepcopy(POD) for _ in range(2000)]
    start = time.perf_counter()
    for d in pods:
        Pod.model_validate(d)
    per_pod = (time.perf_counter() - start) / len(pods)
    assert per_pod < 2e-3


TIMES = [
    ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ("2024-05-01T12:00:00.123456Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    (
        "2024-05-01T14:00:00+02:00",
        datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
    ),
]


@pytest.mark.parametrize(("text", "moment"), TIMES, ids=[t for t, _ in TIMES])
def test_parse_time(text: str, moment: datetime) -> None:
    assert parse_time(text) == moment


def test_format_time_writes_utc() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(moment) == "2024-05-01T12:00:00Z"
    assert format_time(moment, micro=True) == "2024-05-01T12:00:00.000005Z"
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2024, 5, 1))


def test_every_top_level_model_is_an_object() -> None:
    assert isinstance(load_object(LEASE), K8sObject)
