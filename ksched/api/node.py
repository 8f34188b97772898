"""core/v1 Node: what the scheduler filters and scores on (taints, allocatable, images)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ksched.api.meta import K8sModel, K8sObject
from ksched.api.quantity import Quantity

__all__ = [
    "ContainerImage",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeSpec",
    "NodeStatus",
    "NodeSystemInfo",
    "Taint",
]


class Taint(K8sModel):
    key: str
    value: str | None = None
    effect: str
    time_added: str | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = None
    pod_cidrs: list[str] = Field(default_factory=list)
    provider_id: str | None = None
    unschedulable: bool | None = None
    taints: list[Taint] = Field(default_factory=list)
    config_source: dict[str, Any] | None = None


class ContainerImage(K8sModel):
    names: list[str] = Field(default_factory=list)
    size_bytes: int | None = None


class NodeCondition(K8sModel):
    type: str
    status: str
    last_heartbeat_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(K8sModel):
    type: str
    address: str


class NodeSystemInfo(K8sModel):
    machine_id: str | None = None
    system_uuid: str | None = None
    boot_id: str | None = None
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None


class NodeStatus(K8sModel):
    capacity: dict[str, Quantity] = Field(default_factory=dict)
    allocatable: dict[str, Quantity] = Field(default_factory=dict)
    phase: str | None = None
    conditions: list[NodeCondition] = Field(default_factory=list)
    addresses: list[NodeAddress] = Field(default_factory=list)
    daemon_endpoints: dict[str, Any] = Field(default_factory=dict)
    node_info: NodeSystemInfo = Field(default_factory=NodeSystemInfo)
    images: list[ContainerImage] = Field(default_factory=list)
    volumes_in_use: list[str] = Field(default_factory=list)
    volumes_attached: list[dict[str, Any]] = Field(default_factory=list)


class Node(K8sObject):
    api_version: str = "v1"
    kind: str = "Node"
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)
