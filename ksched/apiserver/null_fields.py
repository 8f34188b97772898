"""Explicit JSON nulls in object fields read as absent, as Go's decoding makes them.

``encoding/json`` leaves a field at its zero value for ``null`` (a nil map,
slice or pointer, an empty struct), so upstream defaulting and validation see
``"strategy": null`` exactly as a missing ``strategy``. Dropping such keys at
the decode boundary gives every later step (shape checks, defaulting,
validation, storage) that same view; a body's null is never stored (the
server writes some itself where upstream does: a condition's
``lastProbeTime``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["drop_null_fields", "holds_null"]


def drop_null_fields(value: Any) -> Any:
    """``value`` without null-valued object keys at any depth; unchanged parts are shared.

    List items stay as they are (a ``null`` item is a type error validation reports).
    """
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for i, (key, item) in enumerate(value.items()):
            new = drop_null_fields(item) if isinstance(item, dict | list) else item
            if out is None and (new is None or new is not item):
                out = dict(list(value.items())[:i])  # copy on first change
            if out is not None and new is not None:
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items = [drop_null_fields(v) if isinstance(v, dict | list) else v for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def holds_null(value: Any) -> bool:
    """Whether a null occurs anywhere in ``value`` (as a field or as a list item)."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return value is None
    return any(v is None or (isinstance(v, dict | list) and holds_null(v)) for v in items)
