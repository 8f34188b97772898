"""events.k8s.io/v1 Events as a view of core/v1 Events: one store, two shapes.

As upstream, where both APIs read and write the same objects: an event the
scheduler writes through events.k8s.io (its ``note``, ``regarding``,
``series``) is the event ``kubectl describe pod`` lists through core/v1 (as
``message``, ``involvedObject``), and the other way round. The renamed
fields follow ``pkg/apis/events/v1/conversion.go``; the rest keep their names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["CORE_EVENTS_KEY", "EVENTS_VIEW_KEY", "from_core", "to_core"]

EVENTS_VIEW_KEY: Final = "events.k8s.io/events"
CORE_EVENTS_KEY: Final = "core/events"

# events.k8s.io/v1 field -> core/v1 field.
_RENAMED: Final = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)


def _renamed(
    obj: Mapping[str, Any], pairs: tuple[tuple[str, str], ...], api_version: str
) -> dict[str, Any]:
    out = dict(obj)
    for old, new in pairs:
        out.pop(new, None)  # the other shape's name for a field is not one of this shape's
        if old in out:
            out[new] = out.pop(old)
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def to_core(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event in its core/v1 shape (shallow: nested values are shared)."""
    return _renamed(obj, _RENAMED, "v1")


def from_core(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A core/v1 Event in its events.k8s.io/v1 shape (shallow: nested values are shared)."""
    return _renamed(obj, tuple((b, a) for a, b in _RENAMED), "events.k8s.io/v1")
