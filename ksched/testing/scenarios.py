"""Small clusters that exercise every default plugin, for the plugin contract checks.

Each scenario is plain Kubernetes JSON, so plugins see exactly what they
would see from an API server: labels, taints, images, host ports, GPUs,
affinity and spread constraints, bound pods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ksched.api import Node, Pod
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot

GIB = 1024**3


def node_json(
    name: str,
    cpu: str = "8",
    memory: str = "32Gi",
    pods: int = 110,
    zone: str = "zone-a",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, str]] | None = None,
    images: list[tuple[str, int]] | None = None,
    extended: dict[str, str] | None = None,
    unschedulable: bool = False,
) -> dict[str, Any]:
    alloc: dict[str, Any] = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    alloc.update(extended or {})
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: dict[str, Any] = {"allocatable": alloc, "capacity": dict(alloc)}
    if images:
        status["images"] = [{"names": [n], "sizeBytes": size} for n, size in images]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/zone": zone,
                **(labels or {}),
            },
        },
        "spec": spec,
        "status": status,
    }


def pod_json(
    name: str,
    cpu: str | None = "500m",
    memory: str | None = "1Gi",
    labels: dict[str, str] | None = None,
    node_name: str = "",
    priority: int | None = None,
    image: str = "registry.k8s.io/pause:3.10",
    host_port: int | None = None,
    extended: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    requests: dict[str, str] = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    requests.update(extended or {})
    container: dict[str, Any] = {"name": "main", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    if host_port:
        container["ports"] = [{"containerPort": 8080, "hostPort": host_port}]
    full_spec: dict[str, Any] = {"containers": [container], **spec}
    if node_name:
        full_spec["nodeName"] = node_name
    if priority is not None:
        full_spec["priority"] = priority
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "labels": labels or {},
        },
        "spec": full_spec,
    }


@dataclass(slots=True)
class Scenario:
    """Nodes with bound pods, and pods to place on them."""

    name: str
    nodes: list[dict[str, Any]]
    bound: list[dict[str, Any]] = field(default_factory=list)
    incoming: list[dict[str, Any]] = field(default_factory=list)

    def snapshot(self) -> ClusterSnapshot:
        snap = ClusterSnapshot()
        for n in self.nodes:
            snap.add_node(Node.model_validate(n))
        for p in self.bound:
            info = PodInfo.from_pod(Pod.model_validate(p))
            snap.add_pod(info, info.node_name)
        return snap

    def pods(self) -> list[PodInfo]:
        return [PodInfo.from_pod(Pod.model_validate(p)) for p in self.incoming]


def _mixed() -> Scenario:
    zones = ["zone-a", "zone-b", "zone-c"]
    nodes = [
        node_json(
            f"node-{i}",
            cpu=str(2 + 2 * (i % 4)),
            memory=f"{8 * (1 + i % 3)}Gi",
            zone=zones[i % 3],
            labels={"disktype": "ssd" if i % 2 else "hdd", "rank": str(i)},
            taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
            if i == 5
            else [{"key": "flaky", "effect": "PreferNoSchedule"}]
            if i in (1, 2)
            else None,
            images=[("registry.k8s.io/pause:3.10", 700_000), ("example.com/app:v1", 300 * 1024**2)]
            if i % 3 == 0
            else None,
            extended={"nvidia.com/gpu": "4"} if i in (4, 5) else None,
            unschedulable=i == 7,
        )
        for i in range(9)
    ]
    bound = [
        pod_json(f"web-{i}", cpu="1", memory="2Gi", labels={"app": "web"}, node_name=f"node-{i}")
        for i in (0, 3, 4)
    ] + [
        pod_json(
            "db-0",
            cpu="1500m",
            memory="4Gi",
            labels={"app": "db"},
            node_name="node-2",
            host_port=5432,
            priority=100,
        ),
        pod_json(
            "cache-0",
            cpu="250m",
            memory=None,
            labels={"app": "cache"},
            node_name="node-6",
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname",
                        }
                    ]
                }
            },
        ),
    ]
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}},
        }
    ]
    incoming = [
        pod_json("plain"),
        pod_json("besteffort", cpu=None, memory=None),
        pod_json("big", cpu="5", memory="20Gi"),
        pod_json(
            "gpu",
            extended={"nvidia.com/gpu": "2"},
            tolerations=[
                {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
            ],
        ),
        pod_json("tolerate-all", tolerations=[{"operator": "Exists"}]),
        pod_json("ssd", nodeSelector={"disktype": "ssd"}),
        pod_json(
            "affinity",
            affinity={
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "rank", "operator": "Gt", "values": ["2"]}
                                ]
                            }
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 10,
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": ["zone-b"],
                                    }
                                ]
                            },
                        }
                    ],
                }
            },
        ),
        pod_json("web-new", labels={"app": "web"}, topologySpreadConstraints=spread),
        pod_json(
            "web-soft",
            labels={"app": "web"},
            topologySpreadConstraints=[{**spread[0], "whenUnsatisfiable": "ScheduleAnyway"}],
        ),
        pod_json(
            "anti-web",
            affinity={
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "topology.kubernetes.io/zone",
                        }
                    ],
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 50,
                            "podAffinityTerm": {
                                "labelSelector": {"matchLabels": {"app": "db"}},
                                "topologyKey": "kubernetes.io/hostname",
                            },
                        }
                    ],
                }
            },
        ),
        pod_json(
            "near-db",
            affinity={
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": {"app": "db"}},
                            "topologyKey": "topology.kubernetes.io/zone",
                        }
                    ]
                }
            },
        ),
        pod_json("port", host_port=5432),
        pod_json("image", image="example.com/app:v1"),
        pod_json("urgent", cpu="7", memory="4Gi", priority=1000),
        pod_json("gated", schedulingGates=[{"name": "example.com/wait"}]),
    ]
    return Scenario("mixed", nodes, bound, incoming)


def _empty_cluster() -> Scenario:
    return Scenario("no-nodes", [], [], [pod_json("lonely")])


def _single_node() -> Scenario:
    return Scenario(
        "single-node",
        [node_json("only", cpu="1", memory="1Gi", pods=2)],
        [pod_json("resident", cpu="500m", memory="512Mi", node_name="only")],
        [pod_json("fits", cpu="500m", memory="512Mi"), pod_json("too-big", cpu="2", memory="2Gi")],
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "mixed": _mixed,
    "single-node": _single_node,
    "no-nodes": _empty_cluster,
}


def default_scenarios() -> list[Scenario]:
    return [make() for make in SCENARIOS.values()]
