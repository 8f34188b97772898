"""PriorityClasses and the Priority admission plugin, as upstream.

A pod does not choose its own priority: the Priority admission plugin
(``plugin/pkg/admission/priority``) writes ``spec.priority`` and
``spec.preemptionPolicy`` from the PriorityClass the pod names, or from the
cluster's global default class, and refuses a pod that names no existing
class or states a different number itself. The class rules are
``pkg/apis/scheduling/validation``: names starting ``system-`` are reserved
for the two built-in classes, user values stop at one billion, a class's
value and preemption policy never change, and at most one class is the
global default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ksched.apiserver import errors
from ksched.apiserver.errors import Causes

__all__ = [
    "PRIORITY_CLASSES",
    "admit_pod",
    "admit_priority_class",
    "priority_class_causes",
    "priority_class_update_causes",
    "system_priority_classes",
]

PRIORITY_CLASSES: Final = "scheduling.k8s.io/priorityclasses"
HIGHEST_USER_DEFINABLE: Final = 1_000_000_000
_SYSTEM_PREFIX: Final = "system-"
# pkg/apis/scheduling/types.go: the classes every cluster has.
_SYSTEM: Final = {
    "system-cluster-critical": (
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
    "system-node-critical": (
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
}
_POLICIES: Final = ("PreemptLowerPriority", "Never")
DEFAULT_POLICY: Final = "PreemptLowerPriority"

Lookup = Callable[[str], Mapping[str, Any] | None]


def system_priority_classes() -> list[dict[str, Any]]:
    """The built-in classes, as the API server creates them at its first start."""
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": description,
            "preemptionPolicy": DEFAULT_POLICY,
        }
        for name, (value, description) in _SYSTEM.items()
    ]


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def priority_class_causes(obj: Mapping[str, Any]) -> Causes:
    """``ValidatePriorityClass``: reserved names, the user maximum, the policy's values."""
    causes: Causes = []
    name, value = _name(obj), obj.get("value", 0)
    if name.startswith(_SYSTEM_PREFIX):
        known = _SYSTEM.get(name)
        if known is None or known[0] != value or obj.get("globalDefault"):
            causes.append(
                (
                    "metadata.name",
                    f"Forbidden: priority class names with '{_SYSTEM_PREFIX}' prefix are "
                    "reserved for system use only",
                )
            )
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE:
        causes.append(
            (
                "value",
                f"Forbidden: maximum allowed value of a user defined priority is "
                f"{HIGHEST_USER_DEFINABLE}",
            )
        )
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in _POLICIES:
        causes.append(errors.not_supported("preemptionPolicy", policy, _POLICIES))
    return causes


def priority_class_update_causes(new: Mapping[str, Any], old: Mapping[str, Any]) -> Causes:
    """``ValidatePriorityClassUpdate``: the value and the preemption policy are immutable."""
    return [
        (field, "Forbidden: may not be changed in an update.")
        for field in ("value", "preemptionPolicy")
        if new.get(field) != old.get(field)
    ]


def _global_default(classes: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The default class; with several (only by racing creates), the lowest value, as upstream."""
    defaults = [c for c in classes if c.get("globalDefault")]
    return min(defaults, key=lambda c: c.get("value", 0)) if defaults else None


def admit_priority_class(obj: Mapping[str, Any], classes: Iterable[Mapping[str, Any]]) -> None:
    """A second global default is refused (403), as the admission plugin refuses it."""
    if not obj.get("globalDefault"):
        return
    name = _name(obj)
    for other in classes:
        if other.get("globalDefault") and _name(other) != name:
            raise errors.forbidden(
                f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: PriorityClass '
                f"{_name(other)} is already marked as default. Only one default can exist"
            )


def admit_pod(
    pod: dict[str, Any], lookup: Lookup, classes: Callable[[], Iterable[Mapping[str, Any]]]
) -> None:
    """Write the pod's priority and preemption policy from its class (the admission plugin)."""
    spec = pod.setdefault("spec", {})
    name = spec.get("priorityClassName") or ""
    refuse = f'pods "{_name(pod)}" is forbidden: '
    if name:
        found = lookup(name)
        if found is None:
            raise errors.forbidden(f"{refuse}no PriorityClass with name {name} was found")
        value, policy = int(found.get("value", 0)), found.get("preemptionPolicy")
    else:
        default = _global_default(classes())
        if default is None:  # getDefaultPriority without a default class
            value, policy = 0, DEFAULT_POLICY
        else:
            value, policy = int(default.get("value", 0)), default.get("preemptionPolicy")
            spec["priorityClassName"] = _name(default)
    stated = spec.get("priority")
    if stated is not None and stated != value:
        raise errors.forbidden(
            f"{refuse}the integer value of priority ({stated}) must not be provided in pod spec; "
            f"priority admission controller computed {value} from the given PriorityClass name"
        )
    spec["priority"] = value
    if policy is not None:
        stated_policy = spec.get("preemptionPolicy")
        if stated_policy is not None and stated_policy != policy:
            raise errors.forbidden(
                f"{refuse}the string value of PreemptionPolicy ({stated_policy}) must not be "
                "provided in pod spec; priority admission controller computed "
                f"{policy} from the given PriorityClass name"
            )
        spec["preemptionPolicy"] = policy
