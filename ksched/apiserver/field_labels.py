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
from ksched.apiserver.selectors import field_reader

__all__ = ["FieldGetter", "field_labels"]

FieldGetter = Callable[[Mapping[str, Any]], str]


def _event_source(obj: Mapping[str, Any]) -> str:
    # EventToSelectableFields: the source's component, else the reporting controller.
    return field_reader("source.component")(obj) or field_reader("reportingComponent")(obj)


_NAME: Final[dict[str, FieldGetter]] = {"metadata.name": field_reader("metadata.name")}
_META: Final[dict[str, FieldGetter]] = {
    **_NAME,
    "metadata.namespace": field_reader("metadata.namespace"),
}
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
    "reason": field_reader("reason"),
    "source": _event_source,
    "type": field_reader("type"),
}

_TABLES: Final[dict[str, dict[str, FieldGetter]]] = {
    "core/pods": {
        **_META,
        **{
            label: field_reader(label)
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
        "spec.hostNetwork": field_reader("spec.hostNetwork", "false"),
        "spec.host": field_reader("spec.nodeName"),  # old v1 clients' name for spec.nodeName
    },
    "core/nodes": {**_NAME, "spec.unschedulable": field_reader("spec.unschedulable", "false")},
    "core/namespaces": {**_NAME, "status.phase": field_reader("status.phase")},
    CORE_EVENTS_KEY: {
        **_EVENT_COMMON,
        **{f"involvedObject.{f}": field_reader(f"involvedObject.{f}") for f in _INVOLVED},
        "reportingComponent": field_reader("reportingComponent"),
    },
    # The view selects on the core objects it is served from, by the events.k8s.io names
    # (pkg/apis/events/v1/conversion.go); the core spellings are not accepted there.
    EVENTS_VIEW_KEY: {
        **_EVENT_COMMON,
        **{f"regarding.{f}": field_reader(f"involvedObject.{f}") for f in _INVOLVED},
        "reportingController": field_reader("reportingComponent"),
    },
    "apps/replicasets": {**_META, "status.replicas": field_reader("status.replicas", "0")},
    "batch/jobs": {**_META, "status.successful": field_reader("status.succeeded", "0")},
}


def field_labels(resource_key: str) -> Mapping[str, FieldGetter]:
    """The field labels of the resource stored under ``resource_key`` (``core/pods``)."""
    return _TABLES.get(resource_key, _META)
