"""GPU sharing with Open-Gpu-Share semantics: the per-GPU state and the OpenGpuShare plugin.

Score plugins of GPU-sharing policies (``plugins/`` packages) read the same
state through ``GpuShareState.of(handle.snapshot)`` (``GpuShareScore`` does it
for them) and may choose GPUs at Reserve by implementing
``GpuSelector.select_gpus``.
"""

from ksched.framework.plugins.gpushare.request import (
    GPU_ANNOTATIONS,
    GPU_CARD_MODEL,
    GPU_COUNT,
    GPU_INDEX,
    GPU_MILLI,
    MILLI,
    GpuRequest,
    GpuRequestError,
    format_gpu_index,
    gpu_request,
    parse_gpu_index,
)
from ksched.framework.plugins.gpushare.score import GpuShareScore
from ksched.framework.plugins.gpushare.selection import (
    GpuSelector,
    best_fit,
    first_free,
    random_fit,
)
from ksched.framework.plugins.gpushare.state import GpuShareState, Holding, NodeView

__all__ = [
    "GPU_ANNOTATIONS",
    "GPU_CARD_MODEL",
    "GPU_COUNT",
    "GPU_INDEX",
    "GPU_MILLI",
    "MILLI",
    "GpuRequest",
    "GpuRequestError",
    "GpuSelector",
    "GpuShareScore",
    "GpuShareState",
    "Holding",
    "NodeView",
    "best_fit",
    "first_free",
    "format_gpu_index",
    "gpu_request",
    "parse_gpu_index",
    "random_fit",
]
