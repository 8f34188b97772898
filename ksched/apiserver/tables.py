"""Server-side printing: ``meta.k8s.io/v1`` Tables, which ``kubectl get`` asks for.

kubectl prints whatever columns the server sends; without them it falls back
to NAME and AGE. The columns per kind follow upstream's printers
(pkg/printers/internalversion/printers.go) for the kinds served here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ksched.api import parse_time

__all__ = ["human_duration", "to_table", "wants_table"]

_Row = Callable[[Mapping[str, Any]], list[Any]]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept and "g=meta.k8s.io" in accept


def human_duration(seconds: float) -> str:
    """duration.HumanDuration (k8s.io/apimachinery/pkg/util/duration)."""
    s = int(max(seconds, 0))
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 730:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d < 365 * 8 and d % 365 else f"{d // 365}y"


def _age(obj: Mapping[str, Any]) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    try:
        return human_duration((datetime.now(UTC) - parse_time(created)).total_seconds())
    except ValueError:
        return "<invalid>"


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _pod(obj: Mapping[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return [
        _name(obj),
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        restarts,
        _age(obj),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
    ]


def _node(obj: Mapping[str, Any]) -> list[Any]:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted(
        k.removeprefix("node-role.kubernetes.io/")
        for k in labels
        if k.startswith("node-role.kubernetes.io/")
    )
    version = (status.get("nodeInfo") or {}).get("kubeletVersion") or ""
    return [_name(obj), state, ",".join(roles) or "<none>", _age(obj), version]


def _deployment(obj: Mapping[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj),
    ]


def _replicaset(obj: Mapping[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        _name(obj),
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj),
    ]


def _job(obj: Mapping[str, Any]) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = "Complete" if conditions.get("Complete") == "True" else "Running"
    if conditions.get("Failed") == "True":
        state = "Failed"
    completions = f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}"
    return [_name(obj), state, completions, _age(obj)]


def _namespace(obj: Mapping[str, Any]) -> list[Any]:
    return [_name(obj), (obj.get("status") or {}).get("phase", ""), _age(obj)]


def _event(obj: Mapping[str, Any]) -> list[Any]:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    return [
        _age(obj),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message") or obj.get("note") or "",
    ]


def _generic(obj: Mapping[str, Any]) -> list[Any]:
    return [_name(obj), _age(obj)]


_NAME: Final = ("Name", "string", "name", 0)
_AGE: Final = ("Age", "string", "", 0)
_COLUMNS: Final[dict[str, tuple[tuple[tuple[str, str, str, int], ...], _Row]]] = {
    "core/pods": (
        (
            _NAME,
            ("Ready", "string", "", 0),
            ("Status", "string", "", 0),
            ("Restarts", "integer", "", 0),
            _AGE,
            ("IP", "string", "", 1),
            ("Node", "string", "", 1),
            ("Nominated Node", "string", "", 1),
        ),
        _pod,
    ),
    "core/nodes": (
        (
            _NAME,
            ("Status", "string", "", 0),
            ("Roles", "string", "", 0),
            _AGE,
            ("Version", "string", "", 0),
        ),
        _node,
    ),
    "apps/deployments": (
        (
            _NAME,
            ("Ready", "string", "", 0),
            ("Up-to-date", "integer", "", 0),
            ("Available", "integer", "", 0),
            _AGE,
        ),
        _deployment,
    ),
    "apps/replicasets": (
        (
            _NAME,
            ("Desired", "integer", "", 0),
            ("Current", "integer", "", 0),
            ("Ready", "integer", "", 0),
            _AGE,
        ),
        _replicaset,
    ),
    "batch/jobs": (
        (_NAME, ("Status", "string", "", 0), ("Completions", "string", "", 0), _AGE),
        _job,
    ),
    "core/namespaces": ((_NAME, ("Status", "string", "", 0), _AGE), _namespace),
    "core/events": (
        (
            ("Last Seen", "string", "", 0),
            ("Type", "string", "", 0),
            ("Reason", "string", "", 0),
            ("Object", "string", "", 0),
            ("Message", "string", "", 0),
        ),
        _event,
    ),
}


def _row(obj: Mapping[str, Any], printer: _Row, include: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": printer(obj)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {},
        }
    return row


def to_table(
    rkey: str, objects: list[Mapping[str, Any]], list_meta: Mapping[str, Any], include: str
) -> dict[str, Any]:
    """A Table of ``objects``; ``include`` is ``?includeObject`` (Metadata, Object or None)."""
    columns, printer = _COLUMNS.get(rkey, ((_NAME, _AGE), _generic))
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(list_meta),
        "columnDefinitions": [
            {"name": n, "type": t, "format": f, "description": n, "priority": p}
            for n, t, f, p in columns
        ],
        "rows": [_row(obj, printer, include) for obj in objects],
    }
