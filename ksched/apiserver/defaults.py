"""Defaulting per kind, as upstream's ``SetDefaults_*`` functions and default admission plugins.

Runs on validated objects (types are right), before validation of the rules
that defaults can satisfy, and only fills fields the client left out.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final

from ksched.api import QuantityError, parse_quantity
from ksched.apiserver.priority_classes import DEFAULT_POLICY

__all__ = ["apply_defaults", "qos_class"]

# DefaultTolerationSeconds admission: pods tolerate a not-ready or unreachable node 300 s.
_DEFAULT_TOLERATIONS: Final = (
    {
        "key": "node.kubernetes.io/not-ready",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
    {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    },
)


_QOS: Final = ("cpu", "memory")


def _container(c: dict[str, Any]) -> None:
    image = c.get("image") or ""
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in tag and (":" not in tag or tag.endswith(":latest"))
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    limits = resources.get("limits") or {}
    if limits:
        requests = resources.setdefault("requests", {})
        for name, amount in limits.items():
            requests.setdefault(name, amount)
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and its containers."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            _container(c)


def _amount(value: Any) -> object:
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return value


def qos_class(spec: dict[str, Any]) -> str:
    """v1qos.GetPodQOS: BestEffort, Guaranteed or Burstable, from cpu and memory."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = {k: _amount(v) for k, v in (res.get("requests") or {}).items() if k in _QOS}
        lim = {k: _amount(v) for k, v in (res.get("limits") or {}).items() if k in _QOS}
        any_set = any_set or bool(req) or bool(lim)
        if set(lim) != set(_QOS) or any(req.get(k, lim[k]) != lim[k] for k in lim):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(obj: dict[str, Any]) -> None:
    """Priority and preemption policy are not defaults: Priority admission writes them."""
    spec = obj.setdefault("spec", {})
    pod_spec_defaults(spec)
    tolerations = spec.setdefault("tolerations", [])
    for default in _DEFAULT_TOLERATIONS:
        if not any(
            t.get("key") == default["key"] and t.get("effect") in (None, "NoExecute")
            for t in tolerations
        ):
            tolerations.append(dict(default))
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = obj.setdefault("spec", {}).setdefault("template", {})
    pod_spec_defaults(template.setdefault("spec", {}))
    return template


def _deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    if not strategy.get("type"):  # Go's zero value "" is unset too
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def _job(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = _template(obj)
    if not spec.get("manualSelector"):
        uid = obj["metadata"]["uid"]
        name = obj["metadata"]["name"]
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )


def _namespace(obj: dict[str, Any]) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _node(obj: dict[str, Any]) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {}).setdefault("kubernetes.io/hostname", name)


def _priority_class(obj: dict[str, Any]) -> None:
    obj.setdefault("preemptionPolicy", DEFAULT_POLICY)


def _secret(obj: dict[str, Any]) -> None:
    """SetDefaults_Secret, and the v1 conversion that folds the write-only ``stringData``
    into ``data`` (its values win), so it is never stored."""
    obj.setdefault("type", "Opaque")
    plain = obj.pop("stringData", None)
    if plain:
        data = obj.setdefault("data", {})
        for key, value in plain.items():
            data[key] = base64.b64encode(value.encode()).decode()


DEFAULTERS: Final[dict[str, Callable[[dict[str, Any]], None]]] = {
    "core/pods": _pod,
    "core/namespaces": _namespace,
    "core/nodes": _node,
    "core/secrets": _secret,
    "apps/deployments": _deployment,
    "apps/replicasets": _replicaset,
    "batch/jobs": _job,
    "scheduling.k8s.io/priorityclasses": _priority_class,
}


def apply_defaults(rkey: str, obj: dict[str, Any]) -> None:
    """Fill in the defaults of ``obj`` in place (on create; updates keep what they send)."""
    defaulter = DEFAULTERS.get(rkey)
    if defaulter is not None:
        defaulter(obj)
