"""GpuClusteringScore: keep pods of one GPU demand class together, prefer fuller nodes.

The FGD paper's GpuClustering baseline (Weng et al., ATC '23, section 6.1;
the simulator's ``gpu_clustering_score.go``). A GPU pod's class is
"share-gpu" (under one GPU) or "k-gpu" (k whole GPUs); a node's classes are
those of its GPU pods. With ``fill = 25 * (8000 - free_gpu_milli) // 8000``
(Go integer arithmetic; 8000 = the largest node's GPU milli):

    the node holds only the pod's class      75 + fill
    it holds the pod's class and others      50 + fill
    it holds no GPU pod                      25 + fill
    it holds only other classes               0 + fill

A pod without GPUs scores 0 everywhere. GPUs are chosen best-fit by
OpenGpuShare.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE
from ksched.framework.plugins.gpushare import GpuRequest, GpuShareScore, NodeView
from ksched.framework.pod_info import PodInfo

__all__ = ["MAX_SPEC_GPU", "NAME", "GpuClusteringScore", "new"]

NAME: Final = "GpuClusteringScore"
MAX_SPEC_GPU: Final = 8000
_QUARTER: Final = MAX_NODE_SCORE // 4


class GpuClusteringScore(GpuShareScore):
    plugin_name = NAME
    no_gpu_score = MIN_NODE_SCORE

    def formula(self, pod: PodInfo, gpu: GpuRequest | None, view: NodeView) -> NDArray[np.int64]:
        assert gpu is not None  # no_gpu_score answers for a pod without GPUs
        fill = _QUARTER * (MAX_SPEC_GPU - view.free.sum(axis=1)) // MAX_SPEC_GPU
        classes = (view.tags > 0).sum(axis=1)
        tag = min(gpu.tag, view.tags.shape[1] - 1)
        mine = view.tags[:, tag] > 0
        base = np.where(
            mine,
            np.where(classes == 1, 3 * _QUARTER, 2 * _QUARTER),
            np.where(classes == 0, _QUARTER, 0),
        )
        return np.asarray(base + fill, dtype=np.int64)


def new(args: None, handle: Any) -> GpuClusteringScore:
    return GpuClusteringScore(handle)
