"""The shared model base, object metadata, label selectors and timestamps.

Every model keeps unknown fields (``extra="allow"``) and writes back only what
it read or what was changed since, so an object from a real cluster survives
load -> dump unchanged, whatever API version produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import NoneType, UnionType
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Condition",
    "K8sModel",
    "K8sObject",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ObjectMeta",
    "OwnerReference",
    "format_time",
    "k8s_alias",
    "mark_changed",
    "parse_time",
]

# Kubernetes spells these words in capitals inside a camelCase name (hostIP,
# podCIDRs, containerID, systemUUID, hostPID), but not as its first word (uid).
_INITIALISMS = {
    "cidr": "CIDR",
    "cidrs": "CIDRs",
    "fqdn": "FQDN",
    "id": "ID",
    "ip": "IP",
    "ipc": "IPC",
    "ips": "IPs",
    "pid": "PID",
    "tls": "TLS",
    "uid": "UID",
    "url": "URL",
    "uuid": "UUID",
}


def k8s_alias(name: str) -> str:
    """The JSON name of a field: ``host_ip`` -> ``hostIP``, ``api_version`` -> ``apiVersion``."""
    first, *rest = name.split("_")
    return first + "".join(_INITIALISMS.get(word, word.capitalize()) for word in rest)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How ``mark_changed`` walks one model class."""

    always: frozenset[str]
    one: tuple[str, ...]  # fields holding a model (or None)
    many: tuple[str, ...]  # fields holding a list of models
    plain: frozenset[str]  # everything else
    defaults: dict[str, Any]


def _holds(annotation: Any) -> str:
    """``one`` / ``many`` if a field of this type holds a model / a list of models."""
    args = [a for a in get_args(annotation) if a is not NoneType]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return _holds(args[0])
    if get_origin(annotation) is list and _holds(args[0]) == "one":
        return "many"
    if isinstance(annotation, type) and issubclass(annotation, K8sModel):
        return "one"
    return ""


@cache
def _plan(cls: type[K8sModel]) -> _Plan:
    fields = cls.model_fields
    holds = {name: _holds(info.annotation) for name, info in fields.items()}
    plain = {name for name, kind in holds.items() if not kind and name not in cls.ALWAYS_DUMPED}
    defaults = {name: fields[name].get_default(call_default_factory=True) for name in plain}
    return _Plan(
        always=cls.ALWAYS_DUMPED,
        one=tuple(name for name, kind in holds.items() if kind == "one"),
        many=tuple(name for name, kind in holds.items() if kind == "many"),
        plain=frozenset(plain),
        defaults=defaults,
    )


def mark_changed(model: K8sModel) -> bool:
    """Count fields changed in place as set; say whether ``model`` has anything to dump.

    Pydantic records assignments (``pod.spec.node_name = ...``) but not
    ``pod.metadata.labels[k] = v`` on a defaulted dict, nor assignments inside a
    defaulted sub-object (``pod.status.phase = ...`` on a pod read without
    status). After this walk, ``exclude_unset`` dumps leave out exactly the
    fields that were never read nor changed.
    """
    plan = _plan(type(model))
    values = model.__dict__
    fields_set = model.__pydantic_fields_set__
    fields_set.update(plan.always)
    for name in plan.one:
        child = values[name]
        if child is not None and mark_changed(child):
            fields_set.add(name)
    for name in plan.many:
        children = values[name]
        for child in children:
            mark_changed(child)
        if children:
            fields_set.add(name)
    for name in plan.plain - fields_set:
        if values[name] != plan.defaults[name]:
            fields_set.add(name)
    return bool(fields_set or model.__pydantic_extra__)


class K8sModel(BaseModel):
    """Base of every API model: camelCase JSON, unknown fields kept.

    Dumps (``to_dict``) hold what was read plus what was changed since, so an
    object read from a dict dumps back to that dict.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=k8s_alias)

    ALWAYS_DUMPED: ClassVar[frozenset[str]] = frozenset()


class OwnerReference(K8sModel):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(K8sModel):
    """metav1.ObjectMeta; timestamps stay RFC 3339 text (see ``parse_time``)."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    finalizers: list[str] = Field(default_factory=list)
    managed_fields: list[dict[str, Any]] = Field(default_factory=list)


class K8sObject(K8sModel):
    """A top-level API object. ``apiVersion`` and ``kind`` are always written
    (even when the input, say a list item, left them out) so that every dump
    can be loaded back by ``load_object``.
    """

    ALWAYS_DUMPED: ClassVar[frozenset[str]] = frozenset({"api_version", "kind"})

    api_version: str
    kind: str
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class LabelSelectorRequirement(K8sModel):
    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class LabelSelector(K8sModel):
    """metav1.LabelSelector. An empty selector matches everything; ``None`` nothing."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class Condition(K8sModel):
    """metav1.Condition, the generic condition of newer APIs (PDB status)."""

    type: str
    status: str
    observed_generation: int | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


def parse_time(text: str) -> datetime:
    """An RFC 3339 ``Time`` or ``MicroTime`` as an aware datetime."""
    return datetime.fromisoformat(text)


def format_time(moment: datetime, *, micro: bool = False) -> str:
    """RFC 3339 in UTC as the API server writes it: ``Time`` or, with ``micro``, ``MicroTime``."""
    if moment.tzinfo is None:
        raise ValueError(f"format_time needs an aware datetime, got naive {moment!r}")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")
