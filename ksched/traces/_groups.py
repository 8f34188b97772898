"""Per-entity reductions over event tables, vectorised: sort once, reduce by slicing.

Event traces (Borg, Alibaba 2018) describe a machine or an instance in many
rows; loaders need "the last capacity", "the first SUBMIT time". Rows are
sorted by (key, time, file order), so "first" and "last" are time order and
ties keep the file's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["Groups", "codes"]


def codes(values: pa.Array | NDArray[Any]) -> NDArray[np.int64]:
    """Integer codes of string values, in order of first appearance (hash-based)."""
    arr = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    encoded = pc.dictionary_encode(arr)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


class Groups:
    """Rows grouped by integer ``keys`` (most significant first), ordered by ``time``."""

    def __init__(self, keys: Sequence[NDArray[np.int64]], time: NDArray[np.int64]) -> None:
        n = len(time)
        rows = np.arange(n)
        self.order = np.lexsort((rows, time, *reversed(keys)))
        sorted_keys = [k[self.order] for k in keys]
        change = np.zeros(n, dtype=np.bool_)
        if n:
            change[0] = True
            for k in sorted_keys:
                change[1:] |= k[1:] != k[:-1]
        self.starts = np.flatnonzero(change)
        self.gid = np.cumsum(change) - 1
        self.keys = [k[self.starts] for k in sorted_keys]

    def __len__(self) -> int:
        return len(self.starts)

    def _pick(
        self, mask: NDArray[np.bool_] | None, last: bool
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """(group ids, sorted positions) of each group's first/last row where ``mask``."""
        idx = np.arange(len(self.order)) if mask is None else np.flatnonzero(mask[self.order])
        g = self.gid[idx]
        edge = np.ones(len(idx), dtype=np.bool_)
        if last:
            edge[:-1] = g[1:] != g[:-1]
        else:
            edge[1:] = g[1:] != g[:-1]
        return g[edge], idx[edge]

    def first(
        self, values: NDArray[Any], mask: NDArray[np.bool_] | None = None, fill: Any = None
    ) -> NDArray[Any]:
        return self._reduce(values, mask, fill, last=False)

    def last(
        self, values: NDArray[Any], mask: NDArray[np.bool_] | None = None, fill: Any = None
    ) -> NDArray[Any]:
        return self._reduce(values, mask, fill, last=True)

    def _reduce(
        self, values: NDArray[Any], mask: NDArray[np.bool_] | None, fill: Any, last: bool
    ) -> NDArray[Any]:
        """Each group's value at its first/last row where ``mask``; ``fill`` if none."""
        groups, positions = self._pick(mask, last)
        taken = values[self.order[positions]]
        if len(groups) == len(self):
            return taken
        out = np.full(len(self), fill, dtype=values.dtype)
        out[groups] = taken
        return out

    def per_row(self, per_group: NDArray[Any]) -> NDArray[Any]:
        """A per-group value spread back onto every row, in the original row order."""
        out = np.empty(len(self.order), dtype=per_group.dtype)
        out[self.order] = per_group[self.gid]
        return out
