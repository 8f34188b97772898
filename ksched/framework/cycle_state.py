"""Data shared by the plugins of one scheduling cycle (upstream ``CycleState``)."""

from __future__ import annotations

from typing import Any


class CycleState:
    """Plugin-private data of one cycle, keyed by the plugin's own key.

    PreFilter/PreScore write what Filter/Score read, so per-node calls do not
    redo pod-level work. ``clone`` is shallow on purpose: preemption clones
    the state and then replaces entries through the PreFilter extensions.
    """

    __slots__ = ("_data", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """Return the entry, raising KeyError naming the key when a plugin forgot to write it."""
        try:
            return self._data[key]
        except KeyError:
            raise KeyError(f"{key!r} not found in cycle state") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()}
        copy.skip_filter_plugins = set(self.skip_filter_plugins)
        copy.skip_score_plugins = set(self.skip_score_plugins)
        return copy
