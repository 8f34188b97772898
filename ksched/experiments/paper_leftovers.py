"""The solver section's account of where the GPU goes at the end of a run.

Each arrival cell's summary splits the GPU left unallocated (idle cards,
idle cards on CPU-exhausted nodes, the rest of shared cards) and the GPU
that failed pods asked for (``ksched.sim.leftovers``); a batch cell also
records that split for its offline largest-first placement. Set side by
side, FGD and the offline placement show what the arrival order costs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Final

import numpy as np

from ksched.experiments.aggregate import policy_title
from ksched.experiments.cells import ARRIVED_MAX, CellRecord
from ksched.experiments.paper_format import md_table
from ksched.sim.leftovers import LEFTOVER_KEYS

__all__ = ["leftover_parts"]

_OFFLINE: Final = "offline_largest_first_"
_HEADER: Final = (
    "placement",
    "seeds",
    "GPU allocated at the end",
    "idle cards",
    "idle cards, node CPU used up",
    "rest of shared cards",
    "whole-GPU pods failed",
    "share pods failed",
)

Reader = Callable[[CellRecord, str], float]


def _summary(record: CellRecord, key: str) -> float:
    v = record.summary.get(key)
    return math.nan if v is None else float(v)


def _offline(record: CellRecord, key: str) -> float:
    v = record.meta.get(_OFFLINE + ("pct" if key == "gpu_alloc_pct_final" else key))
    return math.nan if v is None else float(v)


def _means(records: Sequence[CellRecord], read: Reader) -> dict[str, float] | None:
    """Mean over ``records`` of the allocation and each leftover key; None if none has them."""
    keys = ("gpu_alloc_pct_final", *LEFTOVER_KEYS)
    values = np.array([[read(r, k) for k in keys] for r in records], dtype=np.float64)
    complete = values[~np.isnan(values).any(axis=1)] if len(values) else values
    if not len(complete):
        return None
    return {"seeds": float(len(complete)), **dict(zip(keys, complete.mean(axis=0), strict=True))}


def leftover_parts(
    fgd: Mapping[int, CellRecord], batch: Mapping[str, Mapping[int, CellRecord]]
) -> dict[str, str]:
    """The table and the paragraph; ``fgd`` and each batch policy's records by seed."""
    rows: list[tuple[str, dict[str, float]]] = []
    base = _means([*fgd.values()], _summary)
    if base is not None:
        rows.append((policy_title("fgd"), base))
    for policy, runs in batch.items():
        m = _means([*runs.values()], _summary)
        if m is not None:
            rows.append((policy_title(policy), m))
    offline = _means([r for runs in batch.values() for r in runs.values()], _offline)
    if offline is not None:
        rows.append(("offline, largest first (FGD's ranking)", offline))
    if not rows:
        return {"leftover_table": "", "leftover_text": "No run recorded where its GPU went."}
    table = md_table(
        [*_HEADER[:2], *(f"{h} (% of GPU)" for h in _HEADER[2:])],
        [
            [
                name,
                f"{m['seeds']:.0f}",
                *(f"{m[k]:.2f}" for k in ("gpu_alloc_pct_final", *LEFTOVER_KEYS)),
            ]
            for name, m in rows
        ],
    )
    return {"leftover_table": table, "leftover_text": _text(base, offline)}


def _text(fgd: dict[str, float] | None, offline: dict[str, float] | None) -> str:
    if fgd is None or offline is None:
        return "FGD's runs or the offline placement lack the split; the table shows what there is."
    idle = fgd["gpu_left_idle_pct"] + fgd["gpu_left_idle_stranded_pct"]
    return (
        f"At {ARRIVED_MAX}% arrived, FGD leaves {100 - fgd['gpu_alloc_pct_final']:.2f}% of the "
        f"cluster's GPU unallocated: {idle:.2f}% as idle cards "
        f"({fgd['gpu_left_idle_stranded_pct']:.2f}% on nodes whose CPU no GPU pod of the target "
        f"workload fits into) and {fgd['gpu_left_share_pct']:.2f}% as the rest of shared cards. "
        f"Meanwhile whole-GPU pods asking for {fgd['gpu_failed_whole_pct']:.2f}% of the "
        f"cluster's GPU failed. Placed largest first, the same pods and ranking leave "
        f"{offline['gpu_left_share_pct']:.2f}% in shared cards, and the pods turned away ask for "
        f"{offline['gpu_failed_whole_pct']:.2f}% in whole GPUs and "
        f"{offline['gpu_failed_share_pct']:.2f}% in shares. That order gives whole-GPU pods "
        f"their cards before any share pod comes; in arrival order, a policy that places every "
        f"pod that fits when it arrives must give a share pod an idle card whenever no partly "
        f"used card has room for it, whatever whole-GPU pods come later."
    )
