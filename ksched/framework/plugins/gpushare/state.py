"""Every node's free share per GPU, as numpy arrays, kept in step with the snapshot.

One ``GpuShareState`` per ``ClusterSnapshot`` (``GpuShareState.of``), shared
by the OpenGpuShare plugin that places pods on GPUs and by the score
plugins that read the layout. ``free[row, g]`` is the milli-GPU left on GPU
``g`` of snapshot row ``row`` (0 past the node's GPU count), so a Filter or
Score over many nodes is a few array operations.

Pods reach the arrays two ways: Reserve holds the GPUs it chose; a pod
added to the snapshot already bound (``spec.nodeName`` set: start-up state,
a preemption dry run putting victims back) is held on the GPUs its
``gpu-index`` annotation names, or best-fit ones when it has none. A pod the
snapshot forgets (deleted, or forgotten after a failed cycle) releases its
GPUs, so a time-based replay that deletes pods keeps the layout right.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins.gpushare.request import (
    GPU_CARD_MODEL,
    GPU_COUNT,
    MILLI,
    GpuRequest,
    GpuRequestError,
    gpu_request,
    parse_gpu_index,
)
from ksched.framework.plugins.gpushare.selection import best_fit
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet

__all__ = ["GpuShareState", "Holding", "NodeView"]

_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True, slots=True)
class Holding:
    """GPUs ``indices`` of ``node`` each give ``milli`` to one pod.

    ``written``: Reserve wrote the pod's ``gpu-index`` annotation, so
    Unreserve takes it away again.
    """

    node: str
    indices: tuple[int, ...]
    milli: int
    tag: int
    written: bool


@dataclass(frozen=True, slots=True)
class NodeView:
    """The GPU side of some nodes, aligned with a NodeSet: copies, safe to modify."""

    free: NDArray[np.int64]
    gpus: NDArray[np.int64]
    model: NDArray[np.intp]
    cpu_free: NDArray[np.int64]
    tags: NDArray[np.int64]


class GpuShareState:
    """Per-GPU free milli of all nodes (rows of the snapshot x the widest node's GPUs)."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        # Weak: the snapshot holds this state among its listeners, and a strong
        # reference back would leave both to the cyclic collector.
        self._snapshot = weakref.ref(snapshot)
        self.holdings: dict[str, Holding] = {}
        self.models: list[str] = [""]
        self.width = 1
        self.free = np.zeros((0, 1), dtype=np.int64)
        self.gpus = np.zeros(0, dtype=np.int64)
        self.model = np.zeros(0, dtype=np.intp)
        self.tags = np.zeros((0, 2), dtype=np.int64)
        self.generation = 0
        self._node_generation = -1
        snapshot.pod_listeners.append(self)

    @property
    def snapshot(self) -> ClusterSnapshot:
        snapshot = self._snapshot()
        if snapshot is None:
            raise ReferenceError("the snapshot of this GPU-share state was freed")
        return snapshot

    @classmethod
    def of(cls, snapshot: ClusterSnapshot) -> GpuShareState:
        """The state of ``snapshot``, made on first use and shared by every plugin."""
        state = cls.existing(snapshot)
        if state is None:
            state = cls(snapshot)  # registers itself as the snapshot's pod listener
        state.sync()
        return state

    @classmethod
    def existing(cls, snapshot: ClusterSnapshot) -> GpuShareState | None:
        """The state of ``snapshot`` if a plugin made one (else no pod was ever held on a GPU).

        Found among the snapshot's pod listeners, so it lives as long as the snapshot
        and no longer: a class-level map from snapshot to state, whose values refer to
        their keys, kept every replay's cluster alive (about 50 MB per openb cell).
        """
        for listener in snapshot.pod_listeners:
            if isinstance(listener, cls):
                return listener
        return None

    # -- nodes ------------------------------------------------------------------------
    def sync(self) -> None:
        """Rebuild the arrays when nodes were added, removed or changed since the last call."""
        if self._node_generation != self.snapshot.node_generation:
            self._rebuild()

    def _rebuild(self) -> None:
        snap = self.snapshot
        col = snap.resources.get(GPU_COUNT)
        gpus = (
            np.zeros(snap.n, dtype=np.int64)
            if col is None
            else snap.allocatable[:, col].astype(np.int64)
        )
        codes, table = snap.label_codes(GPU_CARD_MODEL)
        self.models = [*table, ""]
        self.model = np.where(codes < 0, len(table), codes).astype(np.intp)
        self.width = max(1, int(gpus.max(initial=0)))
        self.gpus = gpus
        slots = np.arange(self.width)
        self.free = np.where(slots[None, :] < gpus[:, None], MILLI, 0).astype(np.int64)
        self.tags = np.zeros((snap.n, self.width + 1), dtype=np.int64)
        self._node_generation = snap.node_generation
        self.generation += 1
        kept = {}
        for key, held in self.holdings.items():
            row = snap.index.get(held.node)
            if row is None or snap.pod_nodes.get(key) != held.node:
                continue
            if not self._room(row, held.indices, held.milli):
                continue  # the node shrank under the pod: it no longer counts
            self._apply(row, held, -1)
            kept[key] = held
        self.holdings = kept
        for info in snap.nodes:  # bound pods the snapshot held before this state existed
            for pod in list(info.pods.values()):
                if pod.key not in kept:
                    self.pod_added(pod, info)

    # _room and _apply touch a GPU or two per call: scalar indexing beats numpy's fancy indexing.
    def _room(self, row: int, indices: tuple[int, ...], milli: int) -> bool:
        gpus = int(self.gpus[row])
        if not all(0 <= g < gpus for g in indices):
            return False
        free: list[int] = self.free[row].tolist()
        return all(free[g] >= milli for g in indices)

    def _apply(self, row: int, held: Holding, sign: int) -> None:
        free = self.free[row]
        for g in held.indices:  # distinct: parse_gpu_index and the selections ensure it
            free[g] += sign * held.milli
        self.tags[row, min(held.tag, self.width)] -= sign

    # -- reading ----------------------------------------------------------------------
    def model_codes(self, models: frozenset[str]) -> NDArray[np.intp]:
        return np.asarray([i for i, m in enumerate(self.models) if m in models], dtype=np.intp)

    def feasible(self, request: GpuRequest, idx: NDArray[np.intp] | slice) -> NDArray[np.bool_]:
        """Open-Gpu-Share's Filter on rows ``idx``: enough GPUs with room, of an allowed model."""
        ok: NDArray[np.bool_] = (self.free[idx] >= request.milli).sum(axis=1) >= request.count
        if request.models:
            ok &= np.isin(self.model[idx], self.model_codes(request.models))
        return ok

    def view(self, nodes: NodeSet) -> NodeView:
        snap = nodes.snapshot
        idx = nodes.idx
        cpu_free = snap.allocatable[idx, CPU_COL] - snap.requested[idx, CPU_COL]
        return NodeView(
            free=_copied_rows(self.free, idx),
            gpus=_copied_rows(self.gpus, idx),
            model=_copied_rows(self.model, idx),
            cpu_free=np.asarray(cpu_free, dtype=np.int64),
            tags=_copied_rows(self.tags, idx),
        )

    # -- pods -------------------------------------------------------------------------
    def hold(
        self,
        pod: PodInfo,
        node: str,
        indices: tuple[int, ...],
        request: GpuRequest,
        *,
        written: bool,
    ) -> None:
        """Give ``request.milli`` of each GPU ``indices`` of ``node`` to ``pod``."""
        self.sync()
        row = self.snapshot.index[node]
        if len(indices) != request.count or not self._room(row, indices, request.milli):
            raise ValueError(
                f"pod {pod.key}: GPUs {list(indices)} of node {node} cannot give "
                f"{request.count} x {request.milli} milli-GPU (free: "
                f"{self.free[row, : int(self.gpus[row])].tolist()})"
            )
        self.release(pod.key)
        held = Holding(node, indices, request.milli, request.tag, written)
        self._apply(row, held, -1)
        self.holdings[pod.key] = held

    def release(self, pod_key: str) -> Holding | None:
        """Give the pod's GPUs back; a pod holding none is ignored (idempotent)."""
        held = self.holdings.pop(pod_key, None)
        if held is None:
            return None
        row = self.snapshot.index.get(held.node)
        if row is not None and self._node_generation == self.snapshot.node_generation:
            self._apply(row, held, +1)
        return held

    def pod_added(self, pod: PodInfo, node: NodeInfo) -> None:
        if not pod.node_name or pod.key in self.holdings:
            return  # an assumed pod: its Reserve chooses the GPUs
        try:
            request = gpu_request(pod)
            indices = parse_gpu_index(pod) if request is not None else None
        except GpuRequestError:
            return  # unreadable annotations: no plugin can account this pod's GPUs
        if request is None:
            return
        self.sync()
        row = node.index
        if indices is None or not self._room(row, indices, request.milli):
            indices = best_fit(self.free[row], int(self.gpus[row]), request)
        if indices is not None and len(indices) == request.count:
            self.hold(pod, node.name, indices, request, written=False)

    def pod_removed(self, pod: PodInfo, node: NodeInfo) -> None:
        self.release(pod.key)


def _copied_rows(table: NDArray[_T], idx: NDArray[np.intp] | slice) -> NDArray[_T]:
    """``table[idx]``, never a view (``take`` copies an index array's rows the cheapest)."""
    return table[idx].copy() if isinstance(idx, slice) else table.take(idx, axis=0)
