"""BestFitScore: the node left with the least free CPU and GPU after placing the pod.

The FGD paper's BestFit baseline (Weng et al., ATC '23, section 6.1; the
simulator's ``best_fit_score.go``):

    left  = 0.5 * (cpu_free - cpu_req) / 128000 + 0.5 * (gpu_free - gpu_req) / 8000
    score = int((1 - left) * 100)

then min-max normalised over the feasible nodes (Go integer arithmetic; all
equal: every node scores 0). ``gpu_free``/``gpu_req`` are totals over the
node's GPUs and the pod's GPUs; ``cpu_req`` is the non-zero CPU request. A
node that cannot hold the request scores 0 before normalising (the filters
keep such nodes out of a real cycle). GPUs are chosen best-fit by OpenGpuShare.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE
from ksched.framework.plugins.gpushare import GpuRequest, GpuShareScore, NodeView, gpu_request
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL
from ksched.framework.snapshot import NodeInfo
from ksched.framework.status import Status

__all__ = ["NAME", "BestFitScore", "best_fit_scores", "min_max_normalize", "new"]

NAME: Final = "BestFitScore"
MAX_SPEC_CPU: Final = 128000.0
MAX_SPEC_GPU: Final = 8000.0
WEIGHT: Final = 0.5


def best_fit_scores(
    cpu_free: NDArray[np.int64], gpu_free: NDArray[np.int64], cpu_req: int, gpu_req: int
) -> NDArray[np.int64]:
    left = (cpu_free - cpu_req) / MAX_SPEC_CPU * WEIGHT
    left = left + (gpu_free - gpu_req) / MAX_SPEC_GPU * WEIGHT
    score = np.trunc((1.0 - left) * MAX_NODE_SCORE).astype(np.int64)
    fits = (cpu_free >= cpu_req) & (gpu_free >= gpu_req)
    return np.where(fits, score, MIN_NODE_SCORE)


def min_max_normalize(scores: NDArray[np.int64]) -> None:
    """The simulator's NormalizeScore, in place: lowest -> 0, highest -> 100, all equal -> 0."""
    if not len(scores):
        return
    # argmin/argmax: cheaper than min()/max() on a cycle's few hundred scores.
    low, high = int(scores[scores.argmin()]), int(scores[scores.argmax()])
    if high == low:
        scores[:] = MIN_NODE_SCORE
        return
    span = MAX_NODE_SCORE - MIN_NODE_SCORE
    scores[:] = (scores - low) * span // (high - low) + MIN_NODE_SCORE


class BestFitScore(GpuShareScore):
    plugin_name = NAME

    def formula(self, pod: PodInfo, gpu: GpuRequest | None, view: NodeView) -> NDArray[np.int64]:
        gpu_req = 0 if gpu is None else gpu.total_milli
        return best_fit_scores(view.cpu_free, view.free.sum(axis=1), pod.non_zero_cpu, gpu_req)

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score_nodes`` for one node in plain Python, for the few rows a cached class patches.

        The same float operations in the same order as ``best_fit_scores``, so equal bit for bit.
        """
        gpu = gpu_request(pod)
        gpu_req = 0 if gpu is None else gpu.total_milli
        cpu_req = pod.non_zero_cpu
        gpus = self.gpus
        gpus.sync()
        row = node.index
        snap = gpus.snapshot
        cpu_free = int(snap.allocatable[row, CPU_COL] - snap.requested[row, CPU_COL])
        gpu_free = sum(gpus.free[row].tolist())
        if cpu_free < cpu_req or gpu_free < gpu_req:
            return MIN_NODE_SCORE
        left = (cpu_free - cpu_req) / MAX_SPEC_CPU * WEIGHT
        left = left + (gpu_free - gpu_req) / MAX_SPEC_GPU * WEIGHT
        return int((1.0 - left) * MAX_NODE_SCORE)

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        min_max_normalize(scores)
        return None


def new(args: None, handle: Any) -> BestFitScore:
    return BestFitScore(handle)
