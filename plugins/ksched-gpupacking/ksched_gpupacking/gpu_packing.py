"""GpuPackingScore: fill partly used GPUs first, then used nodes, then empty nodes.

The FGD paper's GpuPacking baseline (Weng et al., ATC '23, section 6.1; the
simulator's ``gpu_packing_score.go``). The pod's GPUs are taken as best-fit
would take them (least free share first). In Go integer arithmetic:

    every GPU of the node is free        max(33 - free_gpus, free_gpus)
    it must use n fully free GPUs        max(50 - n, 33)
    it fits on partly used GPUs only     max(100 - sum(free_milli * 100 // 1000) // 10, 50)

where ``free_milli`` is the free share of each GPU it would use. A pod
without GPUs, or one the node cannot host, scores 0.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE
from ksched.framework.plugins.gpushare import MILLI, GpuRequest, GpuShareScore, NodeView
from ksched.framework.pod_info import PodInfo

__all__ = ["NAME", "GpuPackingScore", "new", "packing_scores"]

NAME: Final = "GpuPackingScore"


def packing_scores(
    free: NDArray[np.int64], gpus: NDArray[np.int64], request: GpuRequest
) -> NDArray[np.int64]:
    """Scores of nodes with ``free`` share per GPU (nodes x width) and ``gpus`` GPUs each."""
    width = free.shape[1]
    exists = np.arange(width)[None, :] < gpus[:, None]
    fully_free = ((free == MILLI) & exists).sum(axis=1)
    idle_node = np.maximum(MAX_NODE_SCORE // 3 - fully_free, fully_free)
    order = np.argsort(np.where(exists, free, MILLI + 1), axis=1, kind="stable")
    ranked = np.take_along_axis(free, order, axis=1)
    fits = np.take_along_axis(exists, order, axis=1) & (ranked >= request.milli)
    used = fits & (np.cumsum(fits, axis=1) <= request.count)
    enough = used.sum(axis=1) == request.count
    whole_used = (used & (ranked == MILLI)).sum(axis=1)
    on_whole = np.maximum(MAX_NODE_SCORE // 2 - whole_used, MAX_NODE_SCORE // 3)
    ratio = (np.where(used, ranked, 0) * 100 // MILLI).sum(axis=1)
    on_shared = np.maximum(MAX_NODE_SCORE - ratio // 10, MAX_NODE_SCORE // 2)
    score = np.where(whole_used > 0, on_whole, on_shared)
    score = np.where(enough, score, MIN_NODE_SCORE)
    return np.where(fully_free == gpus, idle_node, score).astype(np.int64)


class GpuPackingScore(GpuShareScore):
    plugin_name = NAME
    no_gpu_score = MIN_NODE_SCORE

    def formula(self, pod: PodInfo, gpu: GpuRequest | None, view: NodeView) -> NDArray[np.int64]:
        assert gpu is not None  # no_gpu_score answers for a pod without GPUs
        return packing_scores(view.free, view.gpus, gpu)


def new(args: None, handle: Any) -> GpuPackingScore:
    return GpuPackingScore(handle)
