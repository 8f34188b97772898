"""The field labels each resource can be selected by, as upstream registers them.

A field selector names *field labels*, not arbitrary paths: upstream's
``AddFieldLabelConversionFunc`` per kind (``pkg/apis/core/v1/conversion.go``,
``apps/v1``, ``batch/v1``, ``events/v1``) lists the labels it accepts, and
anything else is a 400 "field label not supported". Each label reads one field
of the stored object as its ``*ToSelectableFields`` function renders it: a
missing bool is "false", a missing count "0". Kinds without a conversion
function take upstream's default, ``metadata.name`` and ``metadata.namespace``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from ksched.apiserver.event_view import CORE_EVENTS_KEY, EVENTS_VIEW_KEY

__all__ = ["FieldGetter", "field_labels"]

FieldGetter = Callable[[Mapping[str, Any]], str]


def _path(path: str, default: str = "") -> FieldGetter:
    parts = tuple(path.split("."))

    def get(obj: Mapping[str, Any]) -> str:
        node: Any = obj
        for part in parts:
            if not isinstance(node, Mapping):
                return default
            node = node.get(part)
        if node is None:
            return default
        if isinstance(node, bool):
            return "true" if node else "false"
        return str(node)

    return get


def _event_source(obj: Mapping[str, Any]) -> str:
    # EventToSelectableFields: the source's component, else the reporting controller.
    return _path("source.component")(obj) or _path("reportingComponent")(obj)


_NAME: Final[dict[str, FieldGetter]] = {"metadata.name": _path("metadata.name")}
_META: Final[dict[str, FieldGetter]] = {**_NAME, "metadata.namespace": _path("metadata.namespace")}
_INVOLVED: Final = (
    "kind",
    "namespace",
    "name",
    "uid",
    "apiVersion",
    "resourceVersion",
    "fieldPath",
)
_EVENT_COMMON: Final[dict[str, FieldGetter]] = {
    **_META,
    "reason": _path("reason"),
    "source": _event_source,
    "type": _path("type"),
}

_TABLES: Final[dict[str, dict[str, FieldGetter]]] = {
    "core/pods": {
        **_META,
        **{
            label: _path(label)
            for label in (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            )
        },
        "spec.hostNetwork": _path("spec.hostNetwork", "false"),
        "spec.host": _path("spec.nodeName"),  # old v1 clients' name for spec.nodeName
    },
    "core/nodes": {**_NAME, "spec.unschedulable": _path("spec.unschedulable", "false")},
    "core/namespaces": {**_NAME, "status.phase": _path("status.phase")},
    CORE_EVENTS_KEY: {
        **_EVENT_COMMON,
        **{f"involvedObject.{f}": _path(f"involvedObject.{f}") for f in _INVOLVED},
        "reportingComponent": _path("reportingComponent"),
    },
    # The view selects on the core objects it is served from, by the events.k8s.io names
    # (pkg/apis/events/v1/conversion.go); the core spellings are not accepted there.
    EVENTS_VIEW_KEY: {
        **_EVENT_COMMON,
        **{f"regarding.{f}": _path(f"involvedObject.{f}") for f in _INVOLVED},
        "reportingController": _path("reportingComponent"),
    },
    "apps/replicasets": {**_META, "status.replicas": _path("status.replicas", "0")},
    "batch/jobs": {**_META, "status.successful": _path("status.succeeded", "0")},
}


def field_labels(resource_key: str) -> Mapping[str, FieldGetter]:
    """The field labels of the resource stored under ``resource_key`` (``core/pods``)."""
    return _TABLES.get(resource_key, _META)
