"""Topology-pair counts as numpy arrays (upstream ``topologyToMatchedTermCount``/``scoreMap``).

Upstream keys a map by (topology key, value).  Here each key holds an int64
array indexed by ``snapshot.label_codes(key)``, so the vectorised Filter and
Score read every node's count with one fancy index, while the per-node form
looks the node's label value up in the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins.interpodaffinity.terms import LabelGroup, label_group
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo


class TopologyCounts:
    """Sums per topology pair; ``touched`` tells whether any pair was ever updated."""

    __slots__ = ("_codes", "_counts", "_lookup", "_snapshot", "_tables", "touched")

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self._snapshot = snapshot
        self._counts: dict[str, NDArray[np.int64]] = {}
        # Codes and value tables as they were when the key was first used, so a
        # cycle reads consistent codes even if the snapshot's label cache moves on.
        self._codes: dict[str, NDArray[np.int32]] = {}
        self._tables: dict[str, list[str]] = {}
        self._lookup: dict[str, dict[str, int]] = {}
        self.touched = False

    def clone(self) -> TopologyCounts:
        copy = TopologyCounts(self._snapshot)
        copy._counts = {k: v.copy() for k, v in self._counts.items()}
        # The arrays inside are never written, so shallow copies of the dicts suffice.
        copy._codes, copy._tables = dict(self._codes), dict(self._tables)
        copy._lookup = dict(self._lookup)
        copy.touched = self.touched
        return copy

    def ensure(self, key: str) -> NDArray[np.int64]:
        """The count array of ``key``, created empty on first use."""
        counts = self._counts.get(key)
        if counts is None:
            codes, table = self._snapshot.label_codes(key)
            self._codes[key], self._tables[key] = codes, table
            counts = self._counts[key] = np.zeros(len(table), dtype=np.int64)
        return counts

    def topology_keys(self) -> list[str]:
        return list(self._counts)

    def add(self, key: str, row: int, value: int) -> None:
        """Add ``value`` to the pair (key, label of node ``row``) if the node has the label."""
        counts = self.ensure(key)
        code = int(self._codes[key][row])
        if code >= 0:
            counts[code] += value
            self.touched = True

    def add_rows(self, key: str, rows: NDArray[np.intp], value: int) -> None:
        """``add`` for many node rows at once (a row may repeat)."""
        counts = self.ensure(key)
        codes = self._codes[key][rows]
        codes = codes[codes >= 0]
        if len(codes):
            np.add.at(counts, codes, value)
            self.touched = True

    def get(self, key: str, value: str) -> int:
        """The count of the pair (key, value); 0 for pairs never counted."""
        counts = self._counts.get(key)
        if counts is None:
            return 0
        lookup = self._lookup.get(key)
        if lookup is None:
            lookup = self._lookup[key] = {v: i for i, v in enumerate(self._tables[key])}
        code = lookup.get(value)
        return 0 if code is None else int(counts[code])

    def has_label(self, key: str, rows: NDArray[np.intp] | slice) -> NDArray[np.bool_]:
        self.ensure(key)
        return self._codes[key][rows] >= 0

    def at(self, key: str, rows: NDArray[np.intp] | slice) -> NDArray[np.int64]:
        """Each node's count for ``key`` (0 where the node lacks the label)."""
        counts = self.ensure(key)
        codes = self._codes[key][rows]
        if not len(counts):
            return np.zeros(len(codes), dtype=np.int64)
        return np.where(codes >= 0, counts[np.maximum(codes, 0)], 0)

    def pairs(self) -> dict[tuple[str, str], int]:
        """Non-zero counts keyed by (key, value): upstream's map, for tests and debugging."""
        return {
            (key, self._tables[key][code]): int(counts[code])
            for key, counts in self._counts.items()
            for code in np.flatnonzero(counts).tolist()
        }

    def is_empty(self) -> bool:
        """No pair has a non-zero count (upstream deletes pairs that drop to zero)."""
        return not any(c.any() for c in self._counts.values())


@dataclass(frozen=True, slots=True)
class ClusterPods:
    """Every pod in the snapshot as (node row, label group), for matching terms over all pods.

    Whether a term matches a pod depends only on the pod's namespace and
    labels, which replicas share: a term is evaluated once per group
    representative and spread to the pods with one fancy index.
    """

    generation: int
    rows: NDArray[np.intp]
    groups: NDArray[np.intp]
    representatives: list[PodInfo]

    def __len__(self) -> int:
        return len(self.rows)

    def mask(self, match: Callable[[PodInfo], bool]) -> NDArray[np.bool_]:
        """``match`` of every pod, aligned with ``rows``."""
        reps = self.representatives
        return np.fromiter(map(match, reps), dtype=bool, count=len(reps))[self.groups]


class PodGroupIndex:
    """Builds ``ClusterPods`` per snapshot generation, redoing only nodes whose pods changed.

    Group ids outlive the pods that introduced them; the index starts over
    when dead groups outnumber the pods, so churn cannot grow it unboundedly.
    """

    __slots__ = ("_built", "_ids", "_nodes", "_representatives")

    def __init__(self) -> None:
        self._ids: dict[LabelGroup, int] = {}
        self._representatives: list[PodInfo] = []
        self._nodes: dict[str, tuple[NodeInfo, int, NDArray[np.intp]]] = {}
        self._built: ClusterPods | None = None

    def of(self, snapshot: ClusterSnapshot) -> ClusterPods:
        built = self._built
        if built is not None and built.generation == snapshot.generation:
            return built
        if len(self._representatives) > 2 * len(snapshot.pod_nodes) + 1024:
            self._ids, self._representatives, self._nodes = {}, [], {}
        fresh: dict[str, tuple[NodeInfo, int, NDArray[np.intp]]] = {}
        parts: list[NDArray[np.intp]] = []
        for info in snapshot.nodes:
            hit = self._nodes.get(info.name)
            if hit is None or hit[0] is not info or hit[1] != info.generation:
                ids = np.fromiter(map(self._id, info.pods.values()), np.intp, len(info.pods))
                hit = (info, info.generation, ids)
            fresh[info.name] = hit
            parts.append(hit[2])
        self._nodes = fresh
        counts = [len(p) for p in parts]
        built = ClusterPods(
            snapshot.generation,
            np.repeat(np.arange(len(parts), dtype=np.intp), counts),
            np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp),
            list(self._representatives),
        )
        self._built = built
        return built

    def _id(self, pod: PodInfo) -> int:
        key = label_group(pod)
        g = self._ids.get(key)
        if g is None:
            g = self._ids[key] = len(self._representatives)
            self._representatives.append(pod)
        return g
