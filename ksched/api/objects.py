"""The other objects a scheduler reads or writes: Binding, Event, Lease, PodDisruptionBudget."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator
from pydantic_core import PydanticCustomError

from ksched.api.meta import Condition, K8sModel, K8sObject, LabelSelector

__all__ = [
    "Binding",
    "Event",
    "EventSource",
    "IntOrString",
    "Lease",
    "LeaseSpec",
    "ObjectReference",
    "PodDisruptionBudget",
    "PodDisruptionBudgetSpec",
    "PodDisruptionBudgetStatus",
]


def _int_or_string(raw: object) -> int | str:
    # One plain check instead of a union, so errors name the field, not union members.
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        return raw
    reason = f"expected an integer or a string such as '50%', got {raw!r}"
    raise PydanticCustomError("int_or_string", "{reason}", {"reason": reason})


IntOrString = Annotated[int | str, PlainValidator(_int_or_string)]
"""intstr.IntOrString: a count (``1``) or a percentage (``"50%"``), kept as written."""


class ObjectReference(K8sModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class Binding(K8sObject):
    """What the binding cycle posts to ``pods/<name>/binding``."""

    api_version: str = "v1"
    kind: str = "Binding"
    target: ObjectReference = Field(default_factory=ObjectReference)


class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class Event(K8sObject):
    """core/v1 Event, the form ``kubectl describe`` shows (events.k8s.io is not modelled)."""

    api_version: str = "v1"
    kind: str = "Event"
    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    type: str | None = None
    source: EventSource = Field(default_factory=EventSource)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int | None = None
    event_time: str | None = None
    series: dict[str, Any] | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


class LeaseSpec(K8sModel):
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(K8sObject):
    """coordination.k8s.io/v1 Lease, for leader election between scheduler replicas."""

    api_version: str = "coordination.k8s.io/v1"
    kind: str = "Lease"
    spec: LeaseSpec = Field(default_factory=LeaseSpec)


class PodDisruptionBudgetSpec(K8sModel):
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    selector: LabelSelector | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(K8sModel):
    observed_generation: int | None = None
    disrupted_pods: dict[str, str] = Field(default_factory=dict)
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0
    conditions: list[Condition] = Field(default_factory=list)


class PodDisruptionBudget(K8sObject):
    """policy/v1 PodDisruptionBudget, which preemption tries not to violate."""

    api_version: str = "policy/v1"
    kind: str = "PodDisruptionBudget"
    spec: PodDisruptionBudgetSpec = Field(default_factory=PodDisruptionBudgetSpec)
    status: PodDisruptionBudgetStatus = Field(default_factory=PodDisruptionBudgetStatus)
