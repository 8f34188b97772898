"""Object helpers the controllers share: selectors, owner references, pod state, template hash."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from ksched.controllers.client import Obj

__all__ = [
    "POD_TEMPLATE_HASH",
    "controller_of",
    "is_active",
    "is_available",
    "is_ready",
    "matches",
    "now_rfc3339",
    "owner_reference",
    "parse_time",
    "pod_from_template",
    "template_hash",
]

POD_TEMPLATE_HASH: Final = "pod-template-hash"
# apimachinery's rand.SafeEncodeString alphabet: no vowels, no confusable characters.
_SAFE: Final = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp as epoch seconds (None when absent)."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise ValueError(f"unknown label selector operator {op!r}")


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if not selector:
        return True
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_expression(e, labels) for e in selector.get("matchExpressions") or [])


def owner_reference(owner: Obj) -> Obj:
    """The controller reference a dependent of ``owner`` carries."""
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_of(obj: Obj) -> Obj | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _condition(pod: Obj, kind: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_active(pod: Obj) -> bool:
    """Neither finished nor being deleted (upstream ``controller.IsPodActive``)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_ready(pod: Obj) -> bool:
    cond = _condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``min_ready_seconds`` (upstream ``podutil.IsPodAvailable``)."""
    cond = _condition(pod, "Ready")
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def _fnv32a(data: bytes) -> int:
    # FNV-1a, 32 bit (the hash upstream's ComputeHash feeds the pod template to).
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A stable short name for a pod template, as the ``pod-template-hash`` label."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    value = str(_fnv32a(data))
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in value)


def pod_from_template(template: Obj, owner: Obj, extra_labels: Mapping[str, str]) -> Obj:
    """A new pod (``generateName`` from the owner) for ``owner``'s template."""
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), **extra_labels}
    meta: Obj = {
        "generateName": f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"].get("namespace") or "default",
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
