"""Pod x node features for learned scorers, one vectorised pass over the candidate nodes.

The same function feeds the decision logs (training) and ``MLScore``
(inference), so a model always sees features computed one way. Every
feature depends only on the pod and on its own node's row, never on the
other candidates: a node's row does not change with the candidate set
(the tests hold this, and one node's row against hand-computed values).

GPUs are read per GPU when a GPU-share model keeps per-GPU state (see
``gpu_layout``); otherwise the free milli-GPU of the node's aggregate
``alibabacloud.com/gpu-milli`` column is laid out packed, as
``ksched.sim.metrics.packed_layout`` does for the replay's own measure.

Fragmentation features follow the FGD paper (Weng et al., ATC '23, sec. 3):
the node's fragment against a target workload now, after placing the pod
(best-fit GPUs), and the difference, which is FGD's score up to sign.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins.gpushare.state import GpuShareState
from ksched.framework.plugins.helper.taints import tolerates_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL, MEMORY_COL
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.sim.metrics import Fragmentation, TargetWorkload, packed_layout
from ksched.traces.workload import GPU_CARD_MODEL, GPU_COUNT, GPU_MILLI

__all__ = [
    "FEATURE_NAMES",
    "SCHEMA_VERSION",
    "FeatureExtractor",
    "GpuLayoutFn",
    "PodShape",
    "feature_schema_hash",
    "gpu_layout",
    "pod_shape",
    "target_from_dict",
    "target_to_dict",
]

MILLI: Final = 1000
SCHEMA_VERSION: Final = 1
FEATURE_NAMES: Final[tuple[str, ...]] = (
    "cpu_free_frac",
    "mem_free_frac",
    "gpu_free_frac",
    "cpu_after_frac",
    "mem_after_frac",
    "gpu_after_frac",
    "pod_cpu_share",
    "pod_mem_share",
    "pod_gpu_share",
    "node_gpus",
    "gpus_fully_free",
    "gpus_fitting",
    "max_gpu_free_share",
    "best_fit_leftover",
    "alignment",
    "frag_before",
    "frag_after",
    "frag_delta",
    "pod_num_gpu",
    "pod_gpu_milli",
    "pod_shares_gpu",
    "node_empty",
    "selector_match",
    "untolerated_taints",
)
"""Column order of every feature matrix; part of a saved model's schema."""


def feature_schema_hash(names: Sequence[str] = FEATURE_NAMES) -> str:
    """A short fingerprint of the schema (version and names), stored with each model."""
    text = f"v{SCHEMA_VERSION}:" + ",".join(names)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class PodShape:
    """What the features need of a pod: requests and its Open-Gpu-Share GPU demand."""

    cpu: int
    memory: int
    num_gpu: int
    gpu_milli: int  # per GPU
    gpu_models: tuple[str, ...]


def pod_shape(pod: PodInfo) -> PodShape:
    """From the annotations the trace loaders write; else from the aggregate gpu-milli request."""
    hit = pod.cache.get("_ml_shape")
    if isinstance(hit, PodShape):
        return hit
    notes = pod.pod.metadata.annotations
    num = int(notes.get(GPU_COUNT, 0) or 0)
    milli = int(notes.get(GPU_MILLI, 0) or 0)
    if not num:
        total = pod.requests.get(GPU_MILLI, 0)
        num, milli = (-(-total // MILLI), min(total, MILLI)) if total else (0, 0)
    models = tuple(m for m in notes.get(GPU_CARD_MODEL, "").split("|") if m)
    shape = PodShape(pod.requests.get("cpu", 0), pod.requests.get("memory", 0), num, milli, models)
    pod.cache["_ml_shape"] = shape
    return shape


GpuLayoutFn = Callable[[NodeSet], NDArray[np.int64]]
"""``layout(nodes) -> free milli per GPU`` (nodes x width; absent GPUs read 0)."""


def gpu_layout(nodes: NodeSet, width: int = 8) -> NDArray[np.int64]:
    """Free milli per GPU: the GPU-share model's when a profile keeps one, else packed.

    Without per-GPU state the aggregate ``gpu-milli`` column is laid out with
    whole GPUs used first (``packed_layout``), as the replay's own measure does.
    """
    snap = nodes.snapshot
    # Only a state some plugin made: one made here would not see Reserve's choices.
    state = GpuShareState.existing(snap)
    if state is not None:
        state.sync()
        free = state.free[nodes.idx]
        if free.shape[1] < width:
            free = np.pad(free, ((0, 0), (0, width - free.shape[1])))
        return np.asarray(free, dtype=np.int64)
    count = _gpu_count(nodes)
    col = snap.resources.get(GPU_MILLI)
    used = nodes.requested[:, col] if col is not None else np.zeros(len(nodes), dtype=np.int64)
    width = max(width, int(count.max()) if len(count) else 0)
    return packed_layout(count, np.asarray(used, dtype=np.int64), width)


def _gpu_count(nodes: NodeSet) -> NDArray[np.int64]:
    """GPUs per node: the gpu-count resource, else whole GPUs of the gpu-milli one."""
    snap = nodes.snapshot
    col = snap.resources.get(GPU_COUNT)
    if col is not None:
        return np.asarray(nodes.allocatable[:, col], dtype=np.int64)
    col = snap.resources.get(GPU_MILLI)
    if col is not None:
        return np.asarray(nodes.allocatable[:, col] // MILLI, dtype=np.int64)
    return np.zeros(len(nodes), dtype=np.int64)


def target_to_dict(target: TargetWorkload) -> dict[str, Any]:
    return {
        "cpu_milli": target.cpu_milli.tolist(),
        "gpu_milli": target.gpu_milli.tolist(),
        "num_gpu": target.num_gpu.tolist(),
        "gpu_models": [list(m) for m in target.gpu_models],
        "weight": target.weight.tolist(),
    }


def target_from_dict(d: dict[str, Any]) -> TargetWorkload:
    return TargetWorkload(
        cpu_milli=np.asarray(d["cpu_milli"], dtype=np.int64),
        gpu_milli=np.asarray(d["gpu_milli"], dtype=np.int64),
        num_gpu=np.asarray(d["num_gpu"], dtype=np.int64),
        gpu_models=tuple(tuple(m) for m in d["gpu_models"]),
        weight=np.asarray(d["weight"], dtype=np.float64),
    )


def _frac(num: NDArray[Any], den: NDArray[Any]) -> NDArray[np.float64]:
    out = np.zeros(len(num), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


class FeatureExtractor:
    """``extract(pod, nodes)``: the (nodes x FEATURE_NAMES) float64 matrix, aligned with nodes.idx.

    ``target``: the workload whose fragmentation the features measure.
    ``layout``: per-GPU free shares (default: packed from the aggregate column).
    Per-node label and taint answers are cached until a node changes.
    """

    names: tuple[str, ...] = FEATURE_NAMES

    def __init__(self, target: TargetWorkload, layout: GpuLayoutFn | None = None) -> None:
        self.target = target
        self.layout = layout or gpu_layout
        self._frag: tuple[tuple[str, ...], Fragmentation] | None = None
        self._models: tuple[int, NDArray[np.intp], Fragmentation] | None = None
        self._selector: dict[tuple[tuple[str, str], ...], tuple[int, NDArray[np.float64]]] = {}
        self._taints: dict[str, tuple[int, NDArray[np.float64]]] = {}

    # -- cached per-node answers --------------------------------------------------------
    def _fragmentation(self, snap: ClusterSnapshot) -> tuple[NDArray[np.intp], Fragmentation]:
        if self._models is not None and self._models[0] == snap.node_generation:
            return self._models[1], self._models[2]
        codes, table = snap.label_codes(GPU_CARD_MODEL)
        models = (*table, "")  # code -1 (no label) reads as the last, unnamed model
        if self._frag is None or self._frag[0] != models:
            self._frag = (models, Fragmentation(self.target, models))
        index = np.where(codes < 0, len(models) - 1, codes).astype(np.intp)
        self._models = (snap.node_generation, index, self._frag[1])
        return index, self._frag[1]

    def _selector_match(self, pod: PodInfo, snap: ClusterSnapshot) -> NDArray[np.float64]:
        selector = tuple(sorted(pod.pod.spec.node_selector.items()))
        if not selector:
            return np.ones(snap.n)
        hit = self._selector.get(selector)
        if hit is None or hit[0] != snap.node_generation:
            match = np.asarray(
                [all(ni.labels.get(k) == v for k, v in selector) for ni in snap.nodes], dtype=float
            )
            hit = (snap.node_generation, match)
            self._selector[selector] = hit
        return hit[1]

    def _untolerated(self, pod: PodInfo, snap: ClusterSnapshot) -> NDArray[np.float64]:
        tolerations = pod.pod.spec.tolerations
        key = repr(tolerations)
        hit = self._taints.get(key)
        if hit is None or hit[0] != snap.node_generation:
            counts = np.asarray(
                [sum(not tolerates_taint(tolerations, t) for t in ni.taints) for ni in snap.nodes],
                dtype=float,
            )
            hit = (snap.node_generation, counts)
            self._taints[key] = hit
        return hit[1]

    # -- the matrix ---------------------------------------------------------------------
    def extract(self, pod: PodInfo, nodes: NodeSet) -> NDArray[np.float64]:
        snap = nodes.snapshot
        shape = pod_shape(pod)
        n = len(nodes)
        alloc, req = nodes.allocatable, nodes.requested
        cpu_a, mem_a = alloc[:, CPU_COL], alloc[:, MEMORY_COL]
        cpu_f, mem_f = cpu_a - req[:, CPU_COL], mem_a - req[:, MEMORY_COL]
        left = self.layout(nodes)
        gpu_count = _gpu_count(nodes)
        gpu_cap = gpu_count * MILLI
        gpu_free = left.sum(axis=1)
        pod_gpu = shape.num_gpu * shape.gpu_milli
        exists = np.arange(left.shape[1])[None, :] < gpu_count[:, None]
        # Absent GPUs sort first and are never eligible.
        masked = np.where(exists, left, -1)
        ordered = np.sort(masked, axis=1)
        need = shape.gpu_milli
        eligible = (ordered >= need) & (ordered >= 0) if shape.num_gpu else ordered < -1
        fitting = eligible.sum(axis=1)
        rank = np.cumsum(eligible, axis=1)
        take = eligible & (rank <= shape.num_gpu)
        after = np.clip(ordered - take * need, 0, None)
        before = np.clip(ordered, 0, None)
        leftover = np.where(eligible, ordered - need, MILLI).min(axis=1) if left.shape[1] else 0
        index, frag = self._fragmentation(snap)
        model = index[nodes.idx]
        frag_before = frag.amount(before, cpu_f, model)
        fits = fitting >= shape.num_gpu
        frag_after = np.where(fits, frag.amount(after, cpu_f - shape.cpu, model), frag_before)
        # Cosine between the pod's request and the node's free vector, both in node-capacity
        # units (the "alignment" heuristic of Tetris, Grandl et al., SIGCOMM '14).
        pv = np.stack(
            [_frac(np.full(n, shape.cpu), cpu_a), _frac(np.full(n, shape.memory), mem_a),
             _frac(np.full(n, pod_gpu), gpu_cap)], axis=1,
        )  # fmt: skip
        fv = np.stack([_frac(cpu_f, cpu_a), _frac(mem_f, mem_a), _frac(gpu_free, gpu_cap)], axis=1)
        norm = np.linalg.norm(pv, axis=1) * np.linalg.norm(fv, axis=1)
        dot = (pv * fv).sum(axis=1)
        alignment = np.zeros(n)
        np.divide(dot, norm, out=alignment, where=norm > 0)
        idx = nodes.idx
        out = np.empty((n, len(FEATURE_NAMES)), dtype=np.float64)
        out[:, 0] = fv[:, 0]
        out[:, 1] = fv[:, 1]
        out[:, 2] = fv[:, 2]
        out[:, 3] = _frac(cpu_f - shape.cpu, cpu_a)
        out[:, 4] = _frac(mem_f - shape.memory, mem_a)
        out[:, 5] = _frac(gpu_free - pod_gpu, gpu_cap)
        out[:, 6] = pv[:, 0]
        out[:, 7] = pv[:, 1]
        out[:, 8] = pv[:, 2]
        out[:, 9] = gpu_count
        out[:, 10] = (masked == MILLI).sum(axis=1)
        out[:, 11] = fitting
        out[:, 12] = before.max(axis=1) / MILLI if left.shape[1] else 0.0
        out[:, 13] = np.asarray(leftover, dtype=np.float64) / MILLI
        out[:, 14] = alignment
        out[:, 15] = frag_before / MILLI
        out[:, 16] = frag_after / MILLI
        out[:, 17] = (frag_after - frag_before) / MILLI
        out[:, 18] = shape.num_gpu
        out[:, 19] = shape.gpu_milli / MILLI
        out[:, 20] = float(shape.num_gpu == 1 and 0 < shape.gpu_milli < MILLI)
        out[:, 21] = req[:, CPU_COL] == 0
        out[:, 22] = self._selector_match(pod, snap)[idx]
        out[:, 23] = self._untolerated(pod, snap)[idx]
        return out

    def extract_one(self, pod: PodInfo, node: NodeInfo) -> NDArray[np.float64]:
        """One node's row (the per-node form the runtime calls when asked about one node)."""
        one = NodeSet(node.snapshot, np.asarray([node.index], dtype=np.intp))
        row: NDArray[np.float64] = self.extract(pod, one)[0]
        return row
