"""What a replay measures: allocation per resource, GPU fragmentation, latencies, node samples.

GPU accounting reads the workload's columns (a pod asks num_gpu x gpu_milli,
a node offers gpu_count x 1000), whichever plugins place the pods, so every
profile is measured the same way. State is kept per node in numpy arrays
and updated by each placement and release; a record costs O(1) plus one
node's fragmentation.

GPU fragmentation follows the FGD paper (Weng et al., ATC '23, section 3;
the simulator's ``utils/frag.go``; NOTES-fgd-experiments.md item 5). For a
node and a *target workload* of typical pods m with popularity p_m, the
fragment is sum_m p_m F(m), where F(m) counts the node's idle GPU milli
that m cannot use:

- m asks for no GPU, or its GPU models exclude the node's: all idle GPU milli;
- m fits the node's free CPU and enough of its GPUs have m's per-GPU share
  free: only the GPUs with less free share than m asks for;
- otherwise: all idle GPU milli.

The per-GPU free shares come from a layout. ``packed_layout`` derives one
from a node's aggregate GPU use, which is all a profile without GPU-share
plugins determines: the used milli fill whole GPUs first, leaving at most
one partly used GPU. That is the least fragmented layout the aggregate
allows, so the figure is a lower bound of the fragmentation of a real
per-GPU placement. When GPU-share plugins record per-GPU placement, their
layout can be passed to ``Fragmentation.amount`` unchanged.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ClassVar, Final, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ksched.traces.workload import NodeTable, PodTable

__all__ = [
    "NODE_UTIL_COLUMNS",
    "SERIES_COLUMNS",
    "ClusterMetrics",
    "Fragmentation",
    "NodeUtilRecorder",
    "SeriesRecorder",
    "TargetWorkload",
    "discrete_by_arrived",
    "packed_layout",
    "percentiles",
    "time_weighted_mean",
]

MILLI: Final = 1000
_K = TypeVar("_K")
_V = TypeVar("_V")
# FGD's typicalPodsConfig.podPopularityThreshold (95) as a fraction.
DEFAULT_COVERAGE: Final = 0.95
SERIES_COLUMNS: Final = (
    "time",
    "arrived_gpu_pct",
    "gpu_alloc_pct",
    "cpu_alloc_pct",
    "mem_alloc_pct",
    "gpu_frag_pct",
    "gpu_frag_ratio_pct",
    "pods_running",
    "pods_pending",
)
NODE_UTIL_COLUMNS: Final = ("time", "node", "cpu_pct", "mem_pct", "gpu_pct")
_COUNT_COLUMNS: Final = ("pods_running", "pods_pending")


@dataclass(frozen=True, eq=False)
class TargetWorkload:
    """FGD's target workload: the most popular pod shapes and their renormalised weights.

    A shape is (cpu_milli, per-GPU gpu_milli, num_gpu, allowed GPU models).
    """

    cpu_milli: NDArray[np.int64]
    gpu_milli: NDArray[np.int64]
    num_gpu: NDArray[np.int64]
    gpu_models: tuple[tuple[str, ...], ...]
    weight: NDArray[np.float64]

    @classmethod
    def from_pods(cls, pods: PodTable, coverage: float = DEFAULT_COVERAGE) -> TargetWorkload:
        """Shapes by descending count, cut once they cover ``coverage`` of the pods.

        As ``GetTypicalPods``: CPU-only pods count, every pod weighs 1, and
        shapes are added until the covered count reaches the threshold. Equal
        counts are ordered by shape, so the cut is deterministic.
        """
        if not 0 < coverage <= 1:
            raise ValueError(
                "The 'coverage' parameter of TargetWorkload.from_pods must be in (0, 1]. "
                f"Got {coverage!r} instead."
            )
        if len(pods) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, (), np.zeros(0))
        frame = pd.DataFrame(
            {
                "cpu": pods.cpu_milli,
                "milli": pods.gpu_milli.astype(np.int64),
                "num": pods.num_gpu.astype(np.int64),
                "models": ["|".join(m) for m in pods.gpu_models],
            }
        )
        counts = frame.groupby(["cpu", "milli", "num", "models"], sort=True).size()
        counts = counts.sort_values(ascending=False, kind="stable")
        cum = np.cumsum(counts.to_numpy())
        keep = min(len(cum), int(np.searchsorted(cum, coverage * len(pods), side="left")) + 1)
        top = counts.iloc[:keep]
        index = top.index.to_frame(index=False)
        weight = top.to_numpy().astype(np.float64)
        return cls(
            cpu_milli=index["cpu"].to_numpy(np.int64),
            gpu_milli=index["milli"].to_numpy(np.int64),
            num_gpu=index["num"].to_numpy(np.int64),
            gpu_models=tuple(tuple(m.split("|")) if m else () for m in index["models"]),
            weight=weight / weight.sum(),
        )

    def __len__(self) -> int:
        return len(self.weight)


class Fragmentation:
    """The fragment amount of nodes against a target workload, vectorised over nodes.

    Shapes are grouped by their GPU demand (share, count, models); within a
    group only the CPU request differs, so the weight of the shapes that fit
    a node's free CPU is one lookup in a prefix-sum table over shapes sorted
    by CPU. The cost per node is then (groups x GPUs), not (shapes x GPUs).
    """

    def __init__(self, target: TargetWorkload, node_models: Sequence[str]) -> None:
        keys = list(
            zip(target.gpu_milli.tolist(), target.num_gpu.tolist(), target.gpu_models, strict=True)
        )
        groups = list(dict.fromkeys(keys))
        group_of = np.asarray([groups.index(k) for k in keys], dtype=np.intp)
        self.milli = np.asarray([g[0] for g in groups], dtype=np.int64)
        self.num = np.asarray([g[1] for g in groups], dtype=np.int64)
        order = np.argsort(target.cpu_milli, kind="stable")
        self.cpu_sorted = target.cpu_milli[order]
        # prefix[j, k]: weight of group k among the j shapes with the smallest CPU requests.
        table = np.zeros((len(order) + 1, len(groups)))
        table[np.arange(1, len(order) + 1), group_of[order]] = target.weight[order]
        self.prefix = np.cumsum(table, axis=0)
        self.total_weight = float(target.weight.sum())
        # access[model, k]: may group k's pods run on a node of this model?
        self.access = np.asarray(
            [[not g[2] or model in g[2] for g in groups] for model in node_models], dtype=bool
        ).reshape(len(node_models), len(groups))
        self.access &= self.milli > 0  # a CPU-only pod leaves every idle GPU idle
        # Plain lists for packed_amount: one node's answer in pure Python beats a dozen
        # numpy calls on arrays of a few elements.
        self._groups = list(zip(self.milli.tolist(), self.num.tolist(), strict=True))
        self._cpu = self.cpu_sorted.tolist()
        self._prefix = self.prefix.tolist()
        self._access = self.access.tolist()
        self._max_milli = int(self.milli.max(initial=0))
        self._amounts: _Memo[tuple[tuple[int, ...], int, int], float] = _Memo()
        self._after_share: _Memo[tuple[tuple[int, ...], int, int, int], dict[int, float]] = _Memo()

    def _below(self, ranked: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Per node and group: how many GPUs have less free share than the group asks, and
        the sum of their shares, from each node's shares sorted ascending (nodes x GPUs).

        One binary search over all nodes' shares laid end to end (offset per node), not
        a nodes x groups x GPUs comparison.
        """
        n, width = ranked.shape
        sums = np.zeros((n, width + 1), dtype=np.int64)
        np.cumsum(ranked, axis=1, out=sums[:, 1:])
        low = min(int(ranked.min(initial=0)), 0)
        span = max(int(ranked.max(initial=0)), self._max_milli) - low + 1
        offset = np.arange(n, dtype=np.int64)[:, None]
        keys = (ranked + (offset * span - low)).ravel()
        count = np.searchsorted(keys, self.milli + (offset * span - low)) - offset * width
        return count, np.take_along_axis(sums, count, axis=1)

    def amount(
        self, left: NDArray[np.int64], cpu_free: NDArray[np.int64], model: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Fragment (milli-GPU) of each node from its free share per GPU (nodes x GPUs)."""
        idle = left.sum(axis=1).astype(np.float64)
        count, small = self._below(np.sort(left, axis=1))
        hosts = left.shape[1] - count >= self.num
        fit_cpu = self.prefix[np.searchsorted(self.cpu_sorted, cpu_free, side="right")]
        usable = hosts & self.access[model]
        return np.asarray(
            idle * self.total_weight - (usable * fit_cpu * (idle[:, None] - small)).sum(axis=1),
            dtype=np.float64,
        )

    def amount_after_share(
        self,
        left: NDArray[np.int64],
        cpu_free: NDArray[np.int64],
        model: NDArray[np.intp],
        milli: int,
    ) -> tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.float64]]:
        """``amount`` after one GPU gives ``milli`` more: (rows, shares, amounts).

        FGD's score tries a GPU-sharing pod on every GPU of a node with room;
        GPUs with equal free shares leave equal fragments, so each node is
        tried once per distinct share of at least ``milli``: node ``rows[i]``
        after a GPU with ``shares[i]`` free gives it (sorted by row, then
        share). Only that GPU changes, so each group's GPU count with room and
        small-share sum are patched instead of recomputed. ``cpu_free`` is the
        free CPU after the pod. Tests hold the amounts equal to ``amount``.
        """
        width = left.shape[1]
        ranked = np.sort(left, axis=1)
        count, below = self._below(ranked)
        first = ranked >= milli
        first[:, 1:] &= ranked[:, 1:] != ranked[:, :-1]
        rows, cols = np.nonzero(first)
        free = ranked[rows, cols][:, None]
        after = free - milli
        need = self.milli
        hosts = width - count[rows] - (free >= need) + (after >= need)
        small = below[rows] - np.where(free < need, free, 0) + np.where(after < need, after, 0)
        idle = (left.sum(axis=1) - milli).astype(np.float64)[rows]
        fit_cpu = self.prefix[np.searchsorted(self.cpu_sorted, cpu_free[rows], side="right")]
        usable = (hosts >= self.num) & self.access[model[rows]]
        terms = usable * fit_cpu * (idle[:, None] - small)
        # The float sums of the former nodes x groups x GPUs form, kept so that scores do
        # not move: numpy added its groups one after the other, pairwise when a GPU axis
        # of length 1 collapsed.
        lost = terms.sum(axis=1) if width == 1 else np.add.accumulate(terms, axis=1)[:, -1]
        return rows, free[:, 0], np.asarray(idle * self.total_weight - lost, dtype=np.float64)

    def amount_row(self, left: Sequence[int], cpu_free: int, model: int) -> float:
        """``amount`` of one node (``left``: a row of its layout), equal to it bit for bit.

        Plain Python for the few nodes a cached score patches per cycle, where
        numpy's per-call overhead outweighs the work. The groups' terms are
        added in numpy's order (``_numpy_sum``): float addition is not associative.
        Memoised: nodes repeat a few layouts, and only the group weights that fit
        the free CPU (one of ``len(cpu_sorted) + 1`` rows) matter of it.
        """
        key = (tuple(sorted(left)), bisect.bisect_right(self._cpu, cpu_free), model)
        hit = self._amounts.get(key)
        if hit is None:
            hit = self._amounts[key] = self._amount_sorted(*key)
        return hit

    def _amount_sorted(self, ranked: tuple[int, ...], fit_index: int, model: int) -> float:
        below = list(accumulate(ranked, initial=0))  # below[i]: sum of the i smallest shares
        idle = float(below[-1])
        width = len(ranked)
        fit = self._prefix[fit_index]
        access = self._access[model]
        terms = [0.0] * len(self._groups)
        for k, (milli, num) in enumerate(self._groups):
            if access[k] and fit[k]:
                small = bisect.bisect_left(ranked, milli)  # GPUs with less than milli free
                if width - small >= num:
                    terms[k] = fit[k] * (idle - below[small])
        return idle * self.total_weight - _numpy_sum(terms)

    def amount_after_share_row(
        self, left: Sequence[int], cpu_free: int, model: int, milli: int
    ) -> list[float | None]:
        """``amount_after_share`` of one node per GPU, bit for bit; None for GPUs without room.

        The same patching per distinct free share, and the groups added in the same
        order; memoised as ``amount_row``.
        """
        key = (tuple(sorted(left)), bisect.bisect_right(self._cpu, cpu_free), model, milli)
        hit = self._after_share.get(key)
        if hit is None:
            hit = self._after_share[key] = self._after_share_sorted(*key)
        return [hit.get(free) for free in left]

    def _after_share_sorted(
        self, ranked: tuple[int, ...], fit_index: int, model: int, milli: int
    ) -> dict[int, float]:
        below = list(accumulate(ranked, initial=0))
        width = len(ranked)
        idle = float(below[-1] - milli)
        base = idle * self.total_weight
        fit = self._prefix[fit_index]
        access = self._access[model]
        groups = []  # (k, need, num, weight, hosts, small) of the groups that can count
        for k, (need, num) in enumerate(self._groups):
            if access[k] and fit[k]:
                i = bisect.bisect_left(ranked, need)
                groups.append((k, need, num, fit[k], width - i, below[i]))
        add = _numpy_sum if width == 1 else _sequential_sum
        amounts: dict[int, float] = {}
        for free in set(ranked):
            if free < milli:
                continue
            after = free - milli
            terms = [0.0] * len(self._groups)
            for k, need, num, weight, hosts, small in groups:
                if free >= need:
                    hosts -= 1
                else:
                    small -= free
                if after >= need:
                    hosts += 1
                else:
                    small += after
                if hosts >= num:
                    terms[k] = weight * (idle - small)
            amounts[free] = base - add(terms)
        return amounts

    def packed_amount(self, free: int, gpus: int, cpu_free: int, model: int) -> float:
        """``amount`` of one node in the packed layout of ``free`` idle milli on ``gpus`` GPUs.

        The hot path of a replay (one call per placement); tests hold it equal to
        ``amount(packed_layout(...))``.
        """
        if free <= 0:
            return 0.0
        whole = min(free // MILLI, gpus)
        part = free - whole * MILLI  # the one partly used GPU's free share, if any
        fit = self._prefix[bisect.bisect_right(self._cpu, cpu_free)]
        access = self._access[model]
        lost = 0.0
        for k, (milli, num) in enumerate(self._groups):
            if not access[k] or not fit[k]:
                continue
            if whole + (0 < milli <= part) >= num:
                lost += fit[k] * (free - (part if part < milli else 0))
        return free * self.total_weight - lost


class _Memo(dict[_K, _V]):
    """A dict that forgets everything once it holds ``limit`` entries: bounded, no bookkeeping."""

    limit: Final = 1 << 16

    def __setitem__(self, key: _K, value: _V) -> None:
        if len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)


def _numpy_sum(terms: Sequence[float]) -> float:
    """``np.add.reduce`` of a contiguous float64 row, in numpy's order, for exact equality.

    numpy's pairwise summation (``pairwise_sum`` in ``loops_utils.h.src``):
    under 8 terms one after the other; up to 128 eight running sums combined
    as a tree, the rest added after; beyond, halves (cut at a multiple of 8).
    """
    n = len(terms)
    if n < 8:
        return _sequential_sum(terms)
    if n <= 128:
        r = list(terms[:8])
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += terms[i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for x in terms[i:]:
            total += x
        return total
    half = n // 2
    half -= half % 8
    return _numpy_sum(terms[:half]) + _numpy_sum(terms[half:])


def _sequential_sum(terms: Iterable[float]) -> float:
    total = 0.0
    for x in terms:
        total += x
    return total


def packed_layout(
    gpu_count: NDArray[np.int64], gpu_used: NDArray[np.int64], width: int
) -> NDArray[np.int64]:
    """Free share per GPU when the used milli fill whole GPUs first (nodes x ``width``)."""
    free = gpu_count * MILLI - gpu_used
    slots = np.arange(width, dtype=np.int64) * MILLI
    left = np.clip(free[:, None] - slots[None, :], 0, MILLI)
    left[np.arange(width)[None, :] >= gpu_count[:, None]] = 0
    return np.asarray(left, dtype=np.int64)


class ClusterMetrics:
    """Capacity and use of CPU, memory and GPU per node, with running totals and fragmentation.

    Nodes are the rows of ``nodes`` (named ``names``); ``present`` says which
    are in the cluster at the start. Amounts are exact integers.
    """

    def __init__(
        self,
        nodes: NodeTable,
        names: Sequence[str],
        target: TargetWorkload | None = None,
        *,
        present: NDArray[np.bool_] | None = None,
    ) -> None:
        n = len(nodes)
        self.names = list(names)
        self.row = {name: i for i, name in enumerate(self.names)}
        self.cap_cpu = nodes.cpu_milli.astype(np.int64)
        self.cap_mem = nodes.memory_bytes.astype(np.int64)
        self.gpu_count = nodes.gpu_count.astype(np.int64)
        self.cap_gpu = self.gpu_count * MILLI
        self.used_cpu = np.zeros(n, dtype=np.int64)
        self.used_mem = np.zeros(n, dtype=np.int64)
        self.used_gpu = np.zeros(n, dtype=np.int64)
        self.alive = np.ones(n, dtype=bool) if present is None else present.astype(bool).copy()
        models = sorted({str(m) for m in nodes.gpu_model})
        self.model = np.asarray([models.index(str(m)) for m in nodes.gpu_model], dtype=np.intp)
        self.width = max(1, int(self.gpu_count.max(initial=0)))
        self.fragmentation = None if target is None else Fragmentation(target, models)
        self.frag = np.zeros(n)
        self.cap_total = [
            int(a[self.alive].sum()) for a in (self.cap_cpu, self.cap_mem, self.cap_gpu)
        ]
        self.used_total = [0, 0, 0]
        self.frag_total = 0.0
        self._refresh(np.flatnonzero(self.alive & (self.gpu_count > 0)))

    # -- changes ----------------------------------------------------------------------
    def place(self, node: int, cpu: int, mem: int, gpu: int) -> None:
        self.used_cpu[node] += cpu
        self.used_mem[node] += mem
        self.used_gpu[node] += gpu
        total = self.used_total
        total[0] += cpu
        total[1] += mem
        total[2] += gpu
        self._refresh_one(node)

    def release(self, node: int, cpu: int, mem: int, gpu: int) -> None:
        self.place(node, -cpu, -mem, -gpu)

    def add_node(self, node: int) -> None:
        """Node ``node`` joins the cluster, empty."""
        if self.alive[node]:
            return
        self.alive[node] = True
        for k, cap in enumerate((self.cap_cpu, self.cap_mem, self.cap_gpu)):
            self.cap_total[k] += int(cap[node])
        self._refresh_one(node)

    def remove_node(self, node: int) -> None:
        """Node ``node`` leaves; the caller has released its pods first."""
        if not self.alive[node]:
            return
        if self.used_cpu[node] or self.used_mem[node] or self.used_gpu[node]:
            raise RuntimeError(f"node {self.names[node]} still holds pods; release them first")
        self.alive[node] = False
        for k, cap in enumerate((self.cap_cpu, self.cap_mem, self.cap_gpu)):
            self.cap_total[k] -= int(cap[node])
        self.frag_total -= float(self.frag[node])
        self.frag[node] = 0.0

    def _refresh_one(self, node: int) -> None:
        frag = self.fragmentation
        if frag is None or not self.gpu_count[node] or not self.alive[node]:
            return
        new = frag.packed_amount(
            int(self.cap_gpu[node] - self.used_gpu[node]),
            int(self.gpu_count[node]),
            int(self.cap_cpu[node] - self.used_cpu[node]),
            int(self.model[node]),
        )
        self.frag_total += new - float(self.frag[node])
        self.frag[node] = new

    def _refresh(self, rows: NDArray[np.intp]) -> None:
        if self.fragmentation is None or len(rows) == 0:
            return
        left = packed_layout(self.gpu_count[rows], self.used_gpu[rows], self.width)
        cpu_free = self.cap_cpu[rows] - self.used_cpu[rows]
        new = self.fragmentation.amount(left, cpu_free, self.model[rows])
        self.frag_total += float(new.sum() - self.frag[rows].sum())
        self.frag[rows] = new

    # -- readings -----------------------------------------------------------------------
    @staticmethod
    def _pct(used: float, cap: int) -> float:
        return 100.0 * used / cap if cap else float("nan")

    @property
    def cpu_alloc_pct(self) -> float:
        return self._pct(self.used_total[0], self.cap_total[0])

    @property
    def mem_alloc_pct(self) -> float:
        return self._pct(self.used_total[1], self.cap_total[1])

    @property
    def gpu_alloc_pct(self) -> float:
        return self._pct(self.used_total[2], self.cap_total[2])

    @property
    def gpu_frag_pct(self) -> float:
        """Fragmented GPU milli as % of the cluster's GPU milli (FGD Fig. 7a)."""
        return self._pct(self.frag_total, self.cap_total[2])

    @property
    def gpu_frag_ratio_pct(self) -> float:
        """Fragmented GPU milli as % of the idle GPU milli (FGD Fig. 7b)."""
        return self._pct(self.frag_total, self.cap_total[2] - self.used_total[2])

    def fragment_now(self) -> float:
        """The fragment total recomputed from scratch (tests compare it with the running one)."""
        if self.fragmentation is None:
            return 0.0
        rows = np.flatnonzero(self.alive & (self.gpu_count > 0))
        left = packed_layout(self.gpu_count[rows], self.used_gpu[rows], self.width)
        cpu_free = self.cap_cpu[rows] - self.used_cpu[rows]
        return float(self.fragmentation.amount(left, cpu_free, self.model[rows]).sum())


class SeriesRecorder:
    """Rows of ``SERIES_COLUMNS`` in fixed-size float blocks, framed once at the end.

    Blocks, not one array grown by doubling: a million-pod time replay records
    millions of rows (72 bytes each), and doubling held up to twice that, plus
    the old copy while growing. ``frame`` moves the blocks into the columns one
    block at a time, so framing adds one block, not a second copy of the series.
    """

    BLOCK_ROWS: ClassVar[int] = 65_536

    def __init__(self, capacity: int = 1024) -> None:
        self._rows = max(1, min(capacity, self.BLOCK_ROWS))
        self._blocks: list[NDArray[np.float64]] = []
        self._block = self._new_block()
        self._i = 0  # rows used in ``_block``
        self.n = 0

    def _new_block(self) -> NDArray[np.float64]:
        block = np.empty((self._rows, len(SERIES_COLUMNS)))
        self._blocks.append(block)
        return block

    def record(
        self,
        time: float,
        metrics: ClusterMetrics,
        arrived_gpu_milli: int,
        running: int,
        pending: int,
    ) -> None:
        if self._i == self._rows:
            self._rows = self.BLOCK_ROWS  # small replays stay small; long ones grow in blocks
            self._block = self._new_block()
            self._i = 0
        self._block[self._i] = (
            time,
            metrics._pct(arrived_gpu_milli, metrics.cap_total[2]),
            metrics.gpu_alloc_pct,
            metrics.cpu_alloc_pct,
            metrics.mem_alloc_pct,
            metrics.gpu_frag_pct,
            metrics.gpu_frag_ratio_pct,
            running,
            pending,
        )
        self._i += 1
        self.n += 1

    def frame(self) -> pd.DataFrame:
        """The series as a frame; the recorder is empty afterwards (its blocks are freed)."""
        columns = [np.empty(self.n) for _ in SERIES_COLUMNS]
        start = 0
        blocks, self._blocks = self._blocks, []
        for k in range(len(blocks)):
            block = blocks[k]
            rows = min(len(block), self.n - start)
            for j, column in enumerate(columns):
                column[start : start + rows] = block[:rows, j]
            start += rows
            blocks[k] = _FREED  # drop the block now, not when the loop ends
        data: dict[str, NDArray[Any]] = dict(zip(SERIES_COLUMNS, columns, strict=True))
        for col in _COUNT_COLUMNS:
            data[col] = data[col].astype(np.int64)
        self.n = 0
        self._rows = 1
        self._block = self._new_block()
        self._i = 0
        # copy=False: one block per column, no consolidated 2-D copy.
        return pd.DataFrame(data, copy=False)


_FREED: Final[NDArray[np.float64]] = np.empty((0, len(SERIES_COLUMNS)))


_Pcts = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


class NodeUtilRecorder:
    """Per-node utilisation at sample times; ``gpu_pct`` is NaN on nodes without GPUs."""

    def __init__(self) -> None:
        # One (time, rows, names, cpu, mem, gpu) per sample, framed once at the end: a
        # DataFrame per sample cost more than the sampling.
        self._parts: list[tuple[float, NDArray[np.intp], NDArray[np.object_], *_Pcts]] = []

    def sample(self, time: float, metrics: ClusterMetrics) -> None:
        rows = np.flatnonzero(metrics.alive)
        with np.errstate(divide="ignore", invalid="ignore"):
            self._parts.append(
                (
                    time,
                    rows,
                    np.asarray(metrics.names, dtype=object)[rows],
                    100.0 * metrics.used_cpu[rows] / metrics.cap_cpu[rows],
                    100.0 * metrics.used_mem[rows] / metrics.cap_mem[rows],
                    np.where(
                        metrics.cap_gpu[rows] > 0,
                        100.0 * metrics.used_gpu[rows] / np.maximum(metrics.cap_gpu[rows], 1),
                        np.nan,
                    ),
                )
            )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame({c: pd.Series(dtype=float) for c in NODE_UTIL_COLUMNS}).astype(
                {"node": object}
            )
        times, rows, names, cpu, mem, gpu = zip(*self._parts, strict=True)
        return pd.DataFrame(
            {
                # np.full per sample keeps the times' type (the arrival protocol's are ints).
                "time": np.concatenate(
                    [np.full(len(r), t) for t, r in zip(times, rows, strict=True)]
                ),
                "node": np.concatenate(names),
                "cpu_pct": np.concatenate(cpu),
                "mem_pct": np.concatenate(mem),
                "gpu_pct": np.concatenate(gpu),
            }
        )


def percentiles(values: NDArray[np.float64], qs: Iterable[float]) -> list[float]:
    """Percentiles of the finite values; NaN for each when there are none."""
    finite = values[np.isfinite(values)]
    qs = list(qs)
    if len(finite) == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.percentile(finite, qs)]


def time_weighted_mean(series: pd.DataFrame, column: str, start: float, end: float) -> float:
    """Mean of a step series over [start, end]: each record holds until the next one."""
    times = series["time"].to_numpy(np.float64)
    values = series[column].to_numpy(np.float64)
    if end <= start or len(times) == 0:
        return float("nan")
    held_until = np.append(times[1:], end)
    weight = np.clip(np.minimum(held_until, end) - np.maximum(times, start), 0, None)
    ok = weight > 0
    total = float(weight[ok].sum())
    return float(np.dot(weight[ok], values[ok]) / total) if total else float("nan")


def arrival_window_means(series: pd.DataFrame, arrival: NDArray[np.float64]) -> dict[str, float]:
    """A time-based result's ``<column>_mean`` summaries, over [0, the last ``arrival``].

    Both replays in time (simulated and through the API) report these, so
    the window and the columns are fixed here once.
    """
    arrived = arrival[np.isfinite(arrival)]
    window = (0.0, float(arrived.max()) if len(arrived) else 0.0)
    columns = ("gpu_alloc_pct", "cpu_alloc_pct", "mem_alloc_pct", "gpu_frag_pct")
    return {f"{c}_mean": time_weighted_mean(series, c, *window) for c in columns}


def discrete_by_arrived(
    series: pd.DataFrame,
    columns: Sequence[str] = ("gpu_alloc_pct", "gpu_frag_pct", "gpu_frag_ratio_pct"),
) -> pd.DataFrame:
    """FGD's discrete curves (NOTES item 6): per integer arrived %, the mean of every record
    whose arrived % rounds to it, not the value when that % is crossed.

    Rounding is half-to-even (numpy and pandas); the index is the arrived %.
    """
    arrived = np.rint(series["arrived_gpu_pct"].to_numpy(np.float64)).astype(np.int64)
    grouped = series[list(columns)].groupby(arrived, sort=True).mean()
    grouped.index.name = "arrived_gpu_pct"
    return grouped
