"""Which GPUs of a node a pod gets (Open-Gpu-Share's ``allocateGpuId`` methods).

Each method sees one node's free share per GPU and returns GPU indices, or
None when the node cannot host the request. Whole GPUs always go to the
lowest-index fully free GPUs (``AllocateExclusiveGpuId``); the methods
differ for a pod sharing a GPU (NOTES-fgd-experiments.md, item 4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ksched.framework.plugins.gpushare.request import GpuRequest
    from ksched.framework.plugins.gpushare.state import GpuShareState
    from ksched.framework.pod_info import PodInfo

__all__ = ["GpuSelector", "best_fit", "first_free", "random_fit"]


class GpuSelector(Protocol):
    """A score plugin that also says which GPUs a pod should get on a node (FGD does).

    OpenGpuShare with ``gpuSelection: score`` (or ``auto``) asks the profile's
    highest-weight score plugin, when it has this method.
    """

    def select_gpus(
        self, pod: PodInfo, request: GpuRequest, row: int, state: GpuShareState
    ) -> tuple[int, ...] | None: ...


def first_free(free: NDArray[np.int64], gpus: int, count: int) -> tuple[int, ...] | None:
    """The ``count`` lowest-index fully free GPUs."""
    # A node has a handful of GPUs: plain Python beats numpy's per-call cost (once per Reserve).
    whole = [g for g, left in enumerate(free[:gpus].tolist()) if left >= 1000]
    return tuple(whole[:count]) if len(whole) >= count else None


def best_fit(free: NDArray[np.int64], gpus: int, request: GpuRequest) -> tuple[int, ...] | None:
    """The tightest GPUs that fit, lowest index first on ties."""
    if not request.shares_a_gpu:
        return first_free(free, gpus, request.count)
    row: list[int] = free[:gpus].tolist()
    fits = [g for g, left in enumerate(row) if left >= request.milli]
    if len(fits) < request.count:
        return None
    chosen = sorted(fits, key=row.__getitem__)[: request.count]  # stable: lowest index on ties
    return tuple(sorted(chosen))


def random_fit(
    free: NDArray[np.int64], gpus: int, request: GpuRequest, rng: np.random.Generator
) -> tuple[int, ...] | None:
    """GPUs drawn uniformly among those with room (the Random policy's ``-gpusel random``)."""
    if not request.shares_a_gpu:
        return first_free(free, gpus, request.count)
    fits = np.flatnonzero(free[:gpus] >= request.milli)
    if len(fits) < request.count:
        return None
    chosen = rng.choice(fits, size=request.count, replace=False)
    return tuple(sorted(int(g) for g in chosen))
