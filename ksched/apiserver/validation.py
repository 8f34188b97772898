"""Validation per kind: shape by the ``ksched.api`` models (strict), rules as upstream's.

Every problem is a ``(field path, message)`` cause in one 422 ``Invalid``
Status, so a client learns every bad field at once.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any, Final

from pydantic import Field, ValidationError

from ksched.api import (
    Event,
    K8sModel,
    K8sObject,
    LabelSelector,
    Lease,
    Node,
    ObjectMeta,
    Pod,
    PodDisruptionBudget,
    PodSpec,
)
from ksched.apiserver.clean_memo import CleanMemo
from ksched.apiserver.errors import Causes, not_supported
from ksched.apiserver.names import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    label_value_problem,
    qualified_name_problem,
)
from ksched.apiserver.pod_spec_rules import pod_spec_causes
from ksched.apiserver.priority_classes import priority_class_causes
from ksched.apiserver.resources import Resource

__all__ = [
    "config_data_update_causes",
    "shape_causes",
    "validate_object",
    "validate_pod_update",
]


_RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")
_PERCENT: Final = re.compile(r"^[0-9]+%$")
_PERCENT_MESSAGE: Final = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


class _WorkloadSpec(K8sModel):
    replicas: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    min_ready_seconds: int | None = None


class RollingUpdateDeployment(K8sModel):
    max_unavailable: int | str | None = None
    max_surge: int | str | None = None


class DeploymentStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(_WorkloadSpec):
    strategy: DeploymentStrategy | None = None
    revision_history_limit: int | None = None
    paused: bool | None = None
    progress_deadline_seconds: int | None = None


class Deployment(K8sObject):
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: dict[str, Any] = Field(default_factory=dict)


class ReplicaSet(K8sObject):
    spec: _WorkloadSpec = Field(default_factory=_WorkloadSpec)
    status: dict[str, Any] = Field(default_factory=dict)


class JobSpec(K8sModel):
    parallelism: int | None = None
    completions: int | None = None
    active_deadline_seconds: int | None = None
    backoff_limit: int | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    completion_mode: str | None = None
    suspend: bool | None = None
    ttl_seconds_after_finished: int | None = None


class Job(K8sObject):
    spec: JobSpec = Field(default_factory=JobSpec)
    status: dict[str, Any] = Field(default_factory=dict)


class NamespaceSpec(K8sModel):
    finalizers: list[str] | None = None


class NamespaceStatus(K8sModel):
    phase: str | None = None


class Namespace(K8sObject):
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)


class PriorityClass(K8sObject):
    value: int | None = None
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None


class ConfigMap(K8sObject):
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None
    immutable: bool | None = None


class Secret(K8sObject):
    data: dict[str, str] | None = None
    string_data: dict[str, str] | None = None
    type: str | None = None
    immutable: bool | None = None


MODELS: Final[dict[str, type[K8sObject]]] = {
    "core/pods": Pod,
    "core/nodes": Node,
    "core/namespaces": Namespace,
    "core/events": Event,
    "core/bindings": K8sObject,
    "core/configmaps": ConfigMap,
    "core/secrets": Secret,
    "coordination.k8s.io/leases": Lease,
    "apps/deployments": Deployment,
    "apps/replicasets": ReplicaSet,
    "batch/jobs": Job,
    "policy/poddisruptionbudgets": PodDisruptionBudget,
    "events.k8s.io/events": K8sObject,
    "scheduling.k8s.io/priorityclasses": PriorityClass,
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _shape(model: type[K8sObject], obj: dict[str, Any]) -> Causes:
    try:
        model.model_validate(obj, strict=True)
    except ValidationError as exc:
        return [(_path(e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
    return []


def _meta(resource: Resource, meta: dict[str, Any]) -> Causes:
    causes: Causes = []
    name = meta.get("name") or ""
    check = DNS1123_LABEL if resource.plural == "namespaces" else DNS1123_SUBDOMAIN
    limit = 63 if resource.plural == "namespaces" else 253
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > limit or not check.match(name):
        causes.append(
            (
                "metadata.name",
                f"Invalid value: {name!r}: a lowercase RFC 1123 "
                f"{'label' if limit == 63 else 'subdomain'} must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    for key, value in (meta.get("labels") or {}).items():
        why = qualified_name_problem(key)
        if why:
            causes.append(("metadata.labels", f"Invalid value: {key!r}: {why}"))
        problem = label_value_problem(value)
        if problem:
            causes.append(("metadata.labels", f"Invalid value: {value!r}: {problem}"))
    annotations = meta.get("annotations") or {}
    for key in annotations:
        why = qualified_name_problem(key)
        if why:
            causes.append(("metadata.annotations", f"Invalid value: {key!r}: {why}"))
    if sum(len(k) + len(v) for k, v in annotations.items()) > 256 * 1024:
        causes.append(("metadata.annotations", "Too long: must have at most 262144 bytes"))
    for i, finalizer in enumerate(meta.get("finalizers") or []):
        if qualified_name_problem(finalizer):
            causes.append((f"metadata.finalizers[{i}]", f"Invalid value: {finalizer!r}"))
    return causes


def _containers(spec: dict[str, Any], where: str) -> Causes:
    causes: Causes = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append((f"{where}.containers", "Required value"))
    seen: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            at = f"{where}.{field}[{i}]"
            name = c.get("name", "")
            if not DNS1123_LABEL.match(name) or len(name) > 63:
                causes.append((f"{at}.name", f"Invalid value: {name!r}: must be a DNS label"))
            elif name in seen:
                causes.append((f"{at}.name", f"Duplicate value: {name!r}"))
            seen.add(name)
            if not c.get("image"):
                causes.append((f"{at}.image", "Required value"))
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in _RESTART_POLICIES:
        causes.append((f"{where}.restartPolicy", f"Unsupported value: {policy!r}"))
    return causes + pod_spec_causes(spec, where)


def _selector_matches_template(obj: dict[str, Any], required: bool) -> Causes:
    from ksched.apiserver.selectors import match_label_selector_object

    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if selector is None:
        return [("spec.selector", "Required value")] if required else []
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return [("spec.selector", "Invalid value: empty selector is invalid for this kind")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not match_label_selector_object(selector, labels):
        return [
            (
                "spec.template.metadata.labels",
                "Invalid value: selector does not match template labels",
            )
        ]
    return []


def _non_negative(obj: dict[str, Any], *fields: str) -> Causes:
    spec = obj.get("spec") or {}
    return [
        (f"spec.{f}", "Invalid value: must be greater than or equal to 0")
        for f in fields
        if isinstance(spec.get(f), int) and spec[f] < 0
    ]


def _pod(obj: dict[str, Any]) -> Causes:
    return _containers(obj.get("spec") or {}, "spec")


def _workload(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    causes = _selector_matches_template(obj, required=True)
    causes += _containers((spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
    return causes + _non_negative(obj, "replicas", "minReadySeconds")


def _int_or_percent(value: Any, at: str) -> tuple[Causes, int]:
    """Upstream ``ValidatePositiveIntOrPercent``; the amount, a percentage's number for a string."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [(at, f"Invalid value: {value!r}: {_PERCENT_MESSAGE}")], 0
        return [], int(value[:-1])
    if isinstance(value, int) and value < 0:
        return [(at, f"Invalid value: {value}: must be greater than or equal to 0")], value
    return [], int(value or 0)


def _deployment(obj: dict[str, Any]) -> Causes:
    """``_workload`` and upstream ``ValidateDeploymentStrategy`` (run after defaulting)."""
    causes = _workload(obj)
    strategy = (obj.get("spec") or {}).get("strategy") or {}
    kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    at = "spec.strategy.rollingUpdate"
    if kind == "Recreate":
        if rolling is not None:
            causes.append(
                (at, "Forbidden: may not be specified when strategy `type` is 'Recreate'")
            )
    elif kind == "RollingUpdate":
        rolling = rolling or {}
        bad, unavailable = _int_or_percent(rolling.get("maxUnavailable"), f"{at}.maxUnavailable")
        causes += bad
        bad_surge, surge = _int_or_percent(rolling.get("maxSurge"), f"{at}.maxSurge")
        causes += bad_surge
        if not bad and not bad_surge and unavailable == 0 and surge == 0:
            causes.append(
                (f"{at}.maxUnavailable", "Invalid value: may not be 0 when `maxSurge` is 0")
            )
        if not bad and isinstance(rolling.get("maxUnavailable"), str) and unavailable > 100:
            causes.append((f"{at}.maxUnavailable", "Invalid value: must not be greater than 100%"))
    else:
        causes.append(not_supported("spec.strategy.type", kind, ("Recreate", "RollingUpdate")))
    return causes


def _job(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    causes = _containers(template, "spec.template.spec")
    if template.get("restartPolicy") not in ("OnFailure", "Never"):
        causes.append(
            not_supported(
                "spec.template.spec.restartPolicy",
                template.get("restartPolicy"),
                ("OnFailure", "Never"),
            )
        )
    if spec.get("manualSelector"):
        causes += _selector_matches_template(obj, required=True)
    return causes + _non_negative(obj, "parallelism", "completions", "backoffLimit")


def _pdb(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        return [("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set")]
    return []


def _node(obj: dict[str, Any]) -> Causes:
    causes: Causes = []
    for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
        if taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            causes.append(
                (f"spec.taints[{i}].effect", f"Unsupported value: {taint.get('effect')!r}")
            )
    return causes


# Keys of ConfigMap and Secret data (IsConfigMapKey): they become file names in a volume.
_CONFIG_KEY: Final = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MESSAGE: Final = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)
# core.MaxSecretSize; ConfigMaps have the same limit (ValidateConfigMap).
MAX_DATA_BYTES: Final = 1024 * 1024
# Keys a Secret of each built-in type must hold (ValidateSecret).
_SECRET_TYPE_KEYS: Final = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.key", "tls.crt"),
}


def _config_keys(data: dict[str, Any], field: str) -> Causes:
    causes: Causes = []
    for key in data:
        problems = []
        if len(key) > 253:
            problems.append("must be no more than 253 characters")
        if not _CONFIG_KEY.match(key):
            problems.append(_CONFIG_KEY_MESSAGE)
        if key in (".", ".."):
            problems.append(f"must not be {key!r}")
        elif key.startswith(".."):
            problems.append("must not start with '..'")
        causes += [(f"{field}[{key}]", f"Invalid value: {key!r}: {p}") for p in problems]
    return causes


def _decoded(data: dict[str, str], field: str, causes: Causes) -> dict[str, bytes]:
    """Base64 values as bytes; each that is not base64 (a 400 upstream, from the decoder) is a
    cause."""
    out = {}
    for key, value in data.items():
        try:
            out[key] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            causes.append((f"{field}[{key}]", "Invalid value: illegal base64 data"))
    return out


def _config_map(obj: dict[str, Any]) -> Causes:
    data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
    causes = _config_keys(data, "data") + _config_keys(binary, "binaryData")
    causes += [
        (f"data[{key}]", f"Invalid value: {key!r}: duplicate of key present in binaryData")
        for key in data
        if key in binary
    ]
    raw = _decoded(binary, "binaryData", causes)
    # The values' bytes, as upstream counts them (keys are not counted).
    size = sum(len(v.encode()) for v in data.values()) + sum(len(v) for v in raw.values())
    if size > MAX_DATA_BYTES:
        causes.append(("", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    return causes


def _secret(obj: dict[str, Any]) -> Causes:
    data = obj.get("data") or {}
    causes = _config_keys(data, "data")
    raw = _decoded(data, "data", causes)
    if sum(len(v) for v in raw.values()) > MAX_DATA_BYTES:
        causes.append(("data", f"Too long: must have at most {MAX_DATA_BYTES} bytes"))
    kind = obj.get("type") or ""
    if kind == "kubernetes.io/service-account-token":
        notes = (obj.get("metadata") or {}).get("annotations") or {}
        if not notes.get("kubernetes.io/service-account.name"):
            at = "metadata.annotations[kubernetes.io/service-account.name]"
            causes.append((at, "Required value"))
    elif kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes += [("data[username]", "Required value"), ("data[password]", "Required value")]
    for key in _SECRET_TYPE_KEYS.get(kind, ()):
        if key not in data:
            causes.append((f"data[{key}]", "Required value"))
        elif key.startswith(".docker") and key in raw:
            try:
                json.loads(raw[key])
            except ValueError as exc:
                causes.append(
                    (f"data[{key}]", f'Invalid value: "<secret contents redacted>": {exc}')
                )
    return causes


def config_data_update_causes(res_key: str, obj: dict[str, Any], prev: dict[str, Any]) -> Causes:
    """ValidateConfigMapUpdate / ValidateSecretUpdate: ``immutable`` freezes the data and itself;
    a Secret's type never changes."""
    causes: Causes = []
    if res_key == "core/secrets" and (obj.get("type") or "") != (prev.get("type") or ""):
        causes.append(("type", f"Invalid value: {obj.get('type')!r}: field is immutable"))
    if prev.get("immutable"):
        frozen = "Forbidden: field is immutable when `immutable` is set"
        if not obj.get("immutable"):
            causes.append(("immutable", frozen))
        for field in ("data", "binaryData"):
            if (obj.get(field) or {}) != (prev.get(field) or {}):
                causes.append((field, frozen))
    return causes


_RULES: Final[dict[str, Callable[[dict[str, Any]], Causes]]] = {
    "core/pods": _pod,
    "core/nodes": _node,
    "core/configmaps": _config_map,
    "core/secrets": _secret,
    "apps/deployments": _deployment,
    "apps/replicasets": _workload,
    "batch/jobs": _job,
    "policy/poddisruptionbudgets": _pdb,
    "scheduling.k8s.io/priorityclasses": priority_class_causes,
}


# Bodies that passed the type check, less their names: replicas of one template
# (a ReplicaSet's pods, a benchmark's) differ only in name, and a name's type
# is checked on its own.  Building the typed model is most of a create's cost.
_WELL_TYPED = CleanMemo(sort_keys=True)


def shape_causes(resource: Resource, obj: dict[str, Any]) -> Causes:
    """Type errors in ``obj`` (strict: no coercion), before defaulting can rely on the types."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return [("metadata", "Required value: must be an object")]
    model = MODELS.get(resource.key, K8sObject)
    probe = {**obj, "apiVersion": resource.api_version, "kind": resource.kind}
    if not isinstance(meta.get("name", ""), str):
        return _shape(model, probe)
    unnamed = {**probe, "metadata": {**meta, "name": ""}}
    return _WELL_TYPED.causes(resource.key, unnamed, lambda: _shape(model, probe))


def validate_object(resource: Resource, obj: dict[str, Any]) -> Causes:
    """Every rule ``obj`` breaks as an object of ``resource``; run after ``shape_causes``."""
    causes = _meta(resource, obj["metadata"])
    rule = _RULES.get(resource.key)
    if rule is not None:
        causes += rule(obj)
    return causes


# Fields of a pod's spec that an update may change (upstream ValidatePodUpdate).
_POD_MUTABLE: Final = frozenset(
    {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "schedulingGates"}
)


def validate_pod_update(new: dict[str, Any], old: dict[str, Any]) -> Causes:
    """Pod specs are immutable but for images and a few fields; ``nodeName`` only via binding."""
    new_spec, old_spec = dict(new.get("spec") or {}), dict(old.get("spec") or {})
    for spec in (new_spec, old_spec):
        for field in _POD_MUTABLE:
            spec.pop(field, None)
        for field in ("containers", "initContainers"):
            spec[field] = [
                {k: v for k, v in c.items() if k != "image"} for c in spec.get(field) or []
            ]
    if new_spec != old_spec:
        return [
            (
                "spec",
                "Forbidden: pod updates may not change fields other than spec.containers[*].image,"
                " spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations "
                "(only additions to existing tolerations), "
                "spec.terminationGracePeriodSeconds",
            )
        ]
    return []
