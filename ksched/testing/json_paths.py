"""Every path into a JSON value: the places a fuzz or mutation test may change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["json_paths"]


def json_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """``prefix`` and the path (keys and list indices) of every value below ``obj``, depth first."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_paths(v, (*prefix, i))
