"""Column layout of the resource arrays of the cluster snapshot."""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

CPU: Final = "cpu"
MEMORY: Final = "memory"
EPHEMERAL_STORAGE: Final = "ephemeral-storage"
PODS: Final = "pods"

CPU_COL: Final = 0
MEMORY_COL: Final = 1
EPHEMERAL_COL: Final = 2
PODS_COL: Final = 3

_BUILTIN: Final = (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)


class ResourceIndex:
    """Maps resource names to columns; extended resources get a column on first sight.

    ``version`` changes whenever a column is added, so cached request vectors
    of pods know when they must be rebuilt.  ``vectors`` holds those vectors
    by request items for the current layout, shared read-only by the pods of
    one request shape (``PodInfo.request_vector``).
    """

    __slots__ = ("_columns", "names", "vectors", "version")

    def __init__(self) -> None:
        self.names: list[str] = list(_BUILTIN)
        self._columns: dict[str, int] = {n: i for i, n in enumerate(self.names)}
        self.version = 0
        self.vectors: dict[tuple[tuple[str, int], ...], NDArray[np.int64]] = {}

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def column(self, name: str) -> int:
        return self._columns[name]

    def get(self, name: str) -> int | None:
        return self._columns.get(name)

    def ensure(self, name: str) -> int:
        """Return the column of ``name``, adding one if it is new."""
        col = self._columns.get(name)
        if col is None:
            col = len(self.names)
            self.names.append(name)
            self._columns[name] = col
            self.version += 1
            self.vectors = {}
        return col


def is_scalar_resource(name: str) -> bool:
    """Extended and hugepages resources: the ones NodeResourcesFit checks beyond the builtins."""
    return name not in _BUILTIN
