"""DotProductScore: Tetris's alignment of the pod's demand with the node's free resources.

Grandl et al., "Multi-resource packing for cluster schedulers" (SIGCOMM '14),
as the FGD paper's simulator scores it (``dot_product_score.go`` with
``-dimext merge -norm max``, NOTES-fgd-experiments.md):

    node = (cpu_free / 128000, gpu_free_total / 8000)
    pod  = (cpu_req  / 128000, gpu_req_total  / 8000)
    score = int(100 * (1 - (node . pod) / 2))

"merge" adds up a node's free GPU share over its GPUs, so the score does not
choose GPUs: OpenGpuShare's best-fit selection places the pod (the paper's
setting). ``cpu_req`` is the pod's non-zero CPU request; a node without the
CPU scores 0. The float operations follow the simulator's order, so scores
truncate the same way.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE
from ksched.framework.plugins.gpushare import GpuRequest, GpuShareScore, NodeView
from ksched.framework.pod_info import PodInfo

__all__ = ["MAX_SPEC_CPU", "MAX_SPEC_GPU", "NAME", "DotProductScore", "new"]

NAME: Final = "DotProductScore"
# The simulator's MaxSpecCpu / MaxSpecGpu (-norm max): the largest node of the trace.
MAX_SPEC_CPU: Final = 128000.0
MAX_SPEC_GPU: Final = 8000.0


def dot_product_scores(
    cpu_free: NDArray[np.int64],
    gpu_free: NDArray[np.int64],
    cpu_req: int,
    gpu_req: int,
) -> NDArray[np.int64]:
    """Scores of nodes with ``cpu_free`` milli-CPU and ``gpu_free`` milli-GPU left in all."""
    dot = (cpu_free / MAX_SPEC_CPU) * (cpu_req / MAX_SPEC_CPU) + (gpu_free / MAX_SPEC_GPU) * (
        gpu_req / MAX_SPEC_GPU
    )
    score = np.trunc(MAX_NODE_SCORE * (1 - dot / 2)).astype(np.int64)
    return np.where(cpu_free < cpu_req, MIN_NODE_SCORE, score)


class DotProductScore(GpuShareScore):
    plugin_name = NAME

    def formula(self, pod: PodInfo, gpu: GpuRequest | None, view: NodeView) -> NDArray[np.int64]:
        gpu_req = 0 if gpu is None else gpu.total_milli
        return dot_product_scores(view.cpu_free, view.free.sum(axis=1), pod.non_zero_cpu, gpu_req)


def new(args: None, handle: Any) -> DotProductScore:
    return DotProductScore(handle)
