"""A pod's GPU demand as Open-Gpu-Share annotates it, parsed once per pod.

Annotations (the Alibaba/FGD simulator's spelling, ``ksched.traces.workload``):
``alibabacloud.com/gpu-milli`` is the share of each GPU (1..1000, 1000 =
whole GPUs), ``alibabacloud.com/gpu-count`` the number of GPUs and
``alibabacloud.com/gpu-card-model`` an optional ``|``-separated list of
allowed GPU models. A pod whose share or count is 0 asks for no GPU, as
Open-Gpu-Share reads it. ``alibabacloud.com/gpu-index`` holds the GPUs a
scheduler chose ("0" or "0-1-2"), written at Reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ksched.framework.pod_info import PodInfo
from ksched.traces.workload import GPU_CARD_MODEL, GPU_COUNT, GPU_MILLI

__all__ = [
    "GPU_CARD_MODEL",
    "GPU_COUNT",
    "GPU_INDEX",
    "GPU_MILLI",
    "MILLI",
    "GpuRequest",
    "GpuRequestError",
    "format_gpu_index",
    "gpu_request",
    "parse_gpu_index",
]

GPU_INDEX: Final = "alibabacloud.com/gpu-index"
# Every pod annotation of Open-Gpu-Share that scheduling reads (``pod_annotations`` of a plugin).
GPU_ANNOTATIONS: Final = frozenset({GPU_MILLI, GPU_COUNT, GPU_CARD_MODEL, GPU_INDEX})
MILLI: Final = 1000
INDEX_SEPARATOR: Final = "-"
_CACHE_KEY: Final = "gpushare/request"


class GpuRequestError(ValueError):
    """A pod's GPU annotations cannot be read; the message names pod, annotation and value."""


@dataclass(frozen=True, slots=True)
class GpuRequest:
    """``count`` GPUs with ``milli`` free each, of one of ``models`` (empty: any)."""

    milli: int
    count: int
    models: frozenset[str] = frozenset()

    @property
    def shares_a_gpu(self) -> bool:
        """Less than a whole GPU: Open-Gpu-Share's share-GPU pod."""
        return self.milli < MILLI

    @property
    def total_milli(self) -> int:
        return self.milli * self.count

    @property
    def tag(self) -> int:
        """GpuClustering's affinity class: 0 for a shared GPU, else the whole-GPU count."""
        return 0 if self.shares_a_gpu else self.count


def _integer(pod: PodInfo, key: str, low: int, high: int) -> int:
    raw = pod.pod.metadata.annotations.get(key)
    if raw is None:
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise GpuRequestError(
            f"pod {pod.key}: annotation {key} must be an integer in [{low}, {high}], got {raw!r}"
        )
    return value


def gpu_request(pod: PodInfo) -> GpuRequest | None:
    """The pod's GPU demand, or None when it asks for no GPU (cached on the pod)."""
    if _CACHE_KEY in pod.cache:
        hit: GpuRequest | None = pod.cache[_CACHE_KEY]
        return hit
    milli = _integer(pod, GPU_MILLI, 0, MILLI)
    count = _integer(pod, GPU_COUNT, 0, 1 << 16)
    request = None
    if milli > 0 and count > 0:
        spec = pod.pod.metadata.annotations.get(GPU_CARD_MODEL, "")
        models = frozenset(m.strip() for m in spec.split("|") if m.strip())
        request = GpuRequest(milli, count, models)
    pod.cache[_CACHE_KEY] = request
    return request


def format_gpu_index(indices: tuple[int, ...]) -> str:
    return INDEX_SEPARATOR.join(str(i) for i in indices)


def parse_gpu_index(pod: PodInfo) -> tuple[int, ...] | None:
    """The GPUs named by the pod's ``gpu-index`` annotation, or None when it has none."""
    raw = pod.pod.metadata.annotations.get(GPU_INDEX)
    if raw is None or not raw.strip():
        return None
    try:
        indices = tuple(int(part) for part in raw.split(INDEX_SEPARATOR))
    except ValueError:
        indices = (-1,)
    if any(i < 0 for i in indices) or len(set(indices)) != len(indices):
        raise GpuRequestError(
            f"pod {pod.key}: annotation {GPU_INDEX} must be distinct GPU indices joined by "
            f"'{INDEX_SEPARATOR}' (e.g. '0-1'), got {raw!r}"
        )
    return indices
