"""Where a finished replay's unallocated GPU sits, and whose GPU demand failed.

A GPU allocation rate says how much is left, not why. What is left is idle
whole cards (usable by the next whole-GPU pod unless the node's CPU is used
up) or the rest of a shared card (usable only by a share pod small enough; Weng
et al., ATC '23, section 2.2, call it a fragment). Set against the GPU that
failed pods asked for, whole-GPU or shared, the split shows which demand a
policy turned away while it left which capacity unused.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ksched.framework.plugins.gpushare.state import GpuShareState
from ksched.framework.snapshot import ClusterSnapshot
from ksched.sim.metrics import MILLI, ClusterMetrics, TargetWorkload, packed_layout

__all__ = ["LEFTOVER_KEYS", "gpu_leftovers"]

LEFTOVER_KEYS = (
    "gpu_left_idle_pct",
    "gpu_left_idle_stranded_pct",
    "gpu_left_share_pct",
    "gpu_failed_whole_pct",
    "gpu_failed_share_pct",
)


def _card_free(snapshot: ClusterSnapshot, metrics: ClusterMetrics) -> NDArray[np.int64]:
    """Free milli per card, rows in ``metrics`` order: the GPU-share model's layout when a
    plugin kept one, else whole GPUs used first (``packed_layout``, as the replay's measure)."""
    width = metrics.width
    state = GpuShareState.existing(snapshot)
    if state is None:
        return packed_layout(metrics.gpu_count, metrics.used_gpu, width)
    state.sync()
    rows = np.asarray([metrics.row[name] for name in snapshot.names], dtype=np.intp)
    free = np.zeros((len(metrics.names), width), dtype=np.int64)
    k = min(width, state.free.shape[1])
    free[rows, :k] = state.free[:, :k]
    return free


def gpu_leftovers(
    snapshot: ClusterSnapshot,
    metrics: ClusterMetrics,
    target: TargetWorkload,
    failed_gpu_milli: NDArray[np.int64],
    failed_share: NDArray[np.bool_],
) -> dict[str, float]:
    """The unallocated GPU split three ways, and the failed pods' GPU, as % of cluster GPU.

    Idle cards are *stranded* on a node whose free CPU is below every GPU shape
    of ``target`` (no popular GPU pod fits there); the share leftover is what
    partly used cards have left. The three leftover terms add up to 100 minus
    the GPU allocation rate. ``failed_gpu_milli``/``failed_share``: per failed
    pod (preemption victims included), its total GPU request and whether it
    asks for part of one card.
    """
    capacity = float(metrics.cap_gpu[metrics.alive].sum())
    if capacity <= 0:
        return dict.fromkeys(LEFTOVER_KEYS, 0.0)
    free = _card_free(snapshot, metrics)
    free[~metrics.alive] = 0
    cards = np.arange(free.shape[1])[None, :] < metrics.gpu_count[:, None]
    has_gpu = target.num_gpu > 0
    cpu_need = int(target.cpu_milli[has_gpu].min()) if has_gpu.any() else 0
    stranded = (metrics.cap_cpu - metrics.used_cpu) < cpu_need
    idle = np.where(cards & (free >= MILLI), free, 0).sum(axis=1)
    part = np.where(cards & (free < MILLI), free, 0).sum()

    def pct(milli: float) -> float:
        return 100.0 * float(milli) / capacity

    return {
        "gpu_left_idle_pct": pct(idle[~stranded].sum()),
        "gpu_left_idle_stranded_pct": pct(idle[stranded].sum()),
        "gpu_left_share_pct": pct(part),
        "gpu_failed_whole_pct": pct(failed_gpu_milli[~failed_share].sum()),
        "gpu_failed_share_pct": pct(failed_gpu_milli[failed_share].sum()),
    }
