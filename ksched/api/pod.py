"""core/v1 Pod, typed in the parts a scheduler reads; the rest rides along as-is.

Optional pointers upstream are ``X | None`` (nil and empty differ, as for
selectors); lists, maps and value structs default to empty.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ksched.api.meta import K8sModel, K8sObject, LabelSelector
from ksched.api.quantity import Quantity

__all__ = [
    "Affinity",
    "Container",
    "ContainerPort",
    "ContainerStatus",
    "HostIP",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "Pod",
    "PodAffinity",
    "PodAffinityTerm",
    "PodAntiAffinity",
    "PodCondition",
    "PodIP",
    "PodSchedulingGate",
    "PodSpec",
    "PodStatus",
    "PreferredSchedulingTerm",
    "ResourceRequirements",
    "Toleration",
    "TopologySpreadConstraint",
    "WeightedPodAffinityTerm",
]


class ResourceRequirements(K8sModel):
    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)
    claims: list[dict[str, Any]] = Field(default_factory=list)


class ContainerPort(K8sModel):
    container_port: int
    host_port: int | None = None
    protocol: str | None = None
    host_ip: str | None = None
    name: str | None = None


class Container(K8sModel):
    """A container or init container, typed in what scheduling reads.

    ``restart_policy: "Always"`` on an init container makes it a sidecar,
    which counts towards the pod's requests for its whole life. Commands,
    env, probes and mounts ride along untyped (``model_extra``): every typed
    list costs an allocation per container, and loading a trace builds many.
    """

    name: str
    image: str | None = None
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    restart_policy: str | None = None


class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class NodeSelectorRequirement(K8sModel):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class NodeSelectorTerm(K8sModel):
    match_expressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    match_fields: list[NodeSelectorRequirement] = Field(default_factory=list)


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(K8sModel):
    weight: int
    preference: NodeSelectorTerm


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = Field(
        default_factory=list
    )


class PodAffinityTerm(K8sModel):
    label_selector: LabelSelector | None = None
    namespaces: list[str] = Field(default_factory=list)
    topology_key: str
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] = Field(default_factory=list)
    mismatch_label_keys: list[str] = Field(default_factory=list)


class WeightedPodAffinityTerm(K8sModel):
    weight: int
    pod_affinity_term: PodAffinityTerm


class PodAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = Field(
        default_factory=list
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = Field(
        default_factory=list
    )


class PodAntiAffinity(PodAffinity):
    """Same shape as ``PodAffinity``; the meaning is inverted."""


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class TopologySpreadConstraint(K8sModel):
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: list[str] = Field(default_factory=list)


class PodSchedulingGate(K8sModel):
    name: str


class PodSpec(K8sModel):
    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] = Field(default_factory=list)
    node_name: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    scheduler_name: str | None = None
    priority: int | None = None
    priority_class_name: str | None = None
    preemption_policy: str | None = None
    tolerations: list[Toleration] = Field(default_factory=list)
    affinity: Affinity | None = None
    topology_spread_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)
    scheduling_gates: list[PodSchedulingGate] = Field(default_factory=list)
    overhead: dict[str, Quantity] = Field(default_factory=dict)
    resources: ResourceRequirements | None = None
    resource_claims: list[dict[str, Any]] = Field(default_factory=list)
    runtime_class_name: str | None = None
    volumes: list[dict[str, Any]] = Field(default_factory=list)
    host_network: bool | None = None
    host_pid: bool | None = None
    host_ipc: bool | None = None
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str | None = None
    service_account_name: str | None = None
    hostname: str | None = None
    subdomain: str | None = None
    os: dict[str, Any] | None = None


class PodCondition(K8sModel):
    type: str
    status: str
    observed_generation: int | None = None
    reason: str | None = None
    message: str | None = None
    last_probe_time: str | None = None
    last_transition_time: str | None = None


class PodIP(K8sModel):
    ip: str


class HostIP(K8sModel):
    ip: str


class ContainerStatus(K8sModel):
    name: str
    image: str | None = None
    image_id: str | None = None
    container_id: str | None = None
    ready: bool | None = None
    started: bool | None = None
    restart_count: int | None = None
    state: dict[str, Any] = Field(default_factory=dict)
    last_state: dict[str, Any] = Field(default_factory=dict)
    allocated_resources: dict[str, Quantity] = Field(default_factory=dict)
    resources: ResourceRequirements | None = None


class PodStatus(K8sModel):
    phase: str | None = None
    conditions: list[PodCondition] = Field(default_factory=list)
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = None
    host_ips: list[HostIP] = Field(default_factory=list)
    pod_ip: str | None = None
    pod_ips: list[PodIP] = Field(default_factory=list)
    start_time: str | None = None
    qos_class: str | None = None
    init_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    container_statuses: list[ContainerStatus] = Field(default_factory=list)
    resize: str | None = None
    observed_generation: int | None = None


class Pod(K8sObject):
    api_version: str = "v1"
    kind: str = "Pod"
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)
