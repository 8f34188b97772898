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


_MINUTE, _HOUR, _DAY, _YEAR = 60, 3600, 86400, 365 * 86400
_UNITS: Final = {1: "s", _MINUTE: "m", _HOUR: "h", _DAY: "d", _YEAR: "y"}
# HumanDuration's steps: below ``limit`` seconds, whole ``unit``s, then the whole
# ``rest``s left over (omitted when zero), for the steps that have a ``rest``.
_STEPS: Final[tuple[tuple[int, int, int | None], ...]] = (
    (2 * _MINUTE, 1, None),
    (10 * _MINUTE, _MINUTE, 1),
    (3 * _HOUR, _MINUTE, None),
    (8 * _HOUR, _HOUR, _MINUTE),
    (48 * _HOUR, _HOUR, None),
    (8 * _DAY, _DAY, _HOUR),
    (2 * _YEAR, _DAY, None),
    (8 * _YEAR, _YEAR, _DAY),
)


def human_duration(seconds: float) -> str:
    """duration.HumanDuration (k8s.io/apimachinery/pkg/util/duration)."""
    s = int(max(seconds, 0))
    unit, rest = next(((u, r) for limit, u, r in _STEPS if s < limit), (_YEAR, None))
    text = f"{s // unit}{_UNITS[unit]}"
    left = 0 if rest is None else s % unit // rest
    return f"{text}{left}{_UNITS[rest]}" if rest is not None and left else text


def _since(timestamp: Any) -> str:
    """How long ago ``timestamp`` (RFC 3339) was, as kubectl prints ages."""
    if not timestamp:
        return "<unknown>"
    try:
        return human_duration((datetime.now(UTC) - parse_time(str(timestamp))).total_seconds())
    except ValueError:
        return "<invalid>"


def _age(obj: Mapping[str, Any]) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"))


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
    """Upstream printEvent's Last Seen: the series' last observation, else the last timestamp,
    else the first (or the event time); for either shape (core/v1 or events.k8s.io/v1)."""
    first = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp") or obj.get("eventTime")
    last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp") or first
    series = obj.get("series")
    if isinstance(series, dict) and series.get("lastObservedTime"):
        last = series["lastObservedTime"]
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    kind = str(involved.get("kind", "")).lower()
    name = involved.get("name", "")
    return [
        _since(last) if last else _age(obj),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{kind}/{name}" if name else kind,
        obj.get("message") or obj.get("note") or "",
    ]


def _priority_class(obj: Mapping[str, Any]) -> list[Any]:
    default = "true" if obj.get("globalDefault") else "false"
    return [_name(obj), obj.get("value", 0), default, _age(obj), obj.get("preemptionPolicy", "")]


def _config_map(obj: Mapping[str, Any]) -> list[Any]:
    # Upstream's DATA column counts the keys of data and binaryData.
    keys = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [_name(obj), keys, _age(obj)]


def _secret(obj: Mapping[str, Any]) -> list[Any]:
    return [_name(obj), obj.get("type") or "", len(obj.get("data") or {}), _age(obj)]


def _generic(obj: Mapping[str, Any]) -> list[Any]:
    return [_name(obj), _age(obj)]


_Column = tuple[str, str, str, int]  # name, type, format, priority


def _string(name: str, *, wide: bool = False) -> _Column:
    """A string column; ``wide`` ones (priority 1) only show with ``kubectl get -o wide``."""
    return (name, "string", "", int(wide))


def _integer(name: str) -> _Column:
    return (name, "integer", "", 0)


_NAME: Final = ("Name", "string", "name", 0)
_AGE: Final = _string("Age")
_EVENT_COLUMNS: Final = (
    tuple(map(_string, ("Last Seen", "Type", "Reason", "Object", "Message"))),
    _event,
)
_COLUMNS: Final[dict[str, tuple[tuple[_Column, ...], _Row]]] = {
    "core/pods": (
        (
            _NAME,
            _string("Ready"),
            _string("Status"),
            _integer("Restarts"),
            _AGE,
            _string("IP", wide=True),
            _string("Node", wide=True),
            _string("Nominated Node", wide=True),
        ),
        _pod,
    ),
    "core/nodes": (
        (_NAME, _string("Status"), _string("Roles"), _AGE, _string("Version")),
        _node,
    ),
    "apps/deployments": (
        (_NAME, _string("Ready"), _integer("Up-to-date"), _integer("Available"), _AGE),
        _deployment,
    ),
    "apps/replicasets": (
        (_NAME, _integer("Desired"), _integer("Current"), _integer("Ready"), _AGE),
        _replicaset,
    ),
    "batch/jobs": ((_NAME, _string("Status"), _string("Completions"), _AGE), _job),
    "core/namespaces": ((_NAME, _string("Status"), _AGE), _namespace),
    "core/configmaps": ((_NAME, _integer("Data"), _AGE), _config_map),
    "core/secrets": ((_NAME, _string("Type"), _integer("Data"), _AGE), _secret),
    "core/events": _EVENT_COLUMNS,
    "events.k8s.io/events": _EVENT_COLUMNS,
    "scheduling.k8s.io/priorityclasses": (
        (_NAME, _integer("Value"), _string("Global-Default"), _AGE, _string("PreemptionPolicy")),
        _priority_class,
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
