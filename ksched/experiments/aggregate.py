"""Grid records as frames: one row per run, mean ± std over seeds, mean curves.

The spread is the sample standard deviation over seeds (ddof=1, NaN for a
single seed), as the paper's error bars over its ten seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ksched.experiments.cells import ARRIVED_MAX, CURVES, CellRecord
from ksched.experiments.grid import PAPER_POLICIES, PAPER_WORKLOADS, POLICY_TITLES

__all__ = [
    "KEYS",
    "format_grid_table",
    "mean_curves",
    "policy_order",
    "policy_title",
    "runs_frame",
    "summary_table",
    "workload_order",
]

KEYS = ("tune", "tie_break", "workload", "policy")


def runs_frame(records: Iterable[CellRecord], at: int = ARRIVED_MAX) -> pd.DataFrame:
    """One row per run: its keys, each curve's value at ``at`` %, the run's wall time."""
    rows = [
        {
            "tune": r.cell.tune,
            "tie_break": r.cell.tie_break,
            "workload": r.cell.workload,
            "policy": r.cell.policy,
            "seed": r.cell.seed,
            **{name: r.value_at(name, at) for name in CURVES.values()},
            "wall_seconds": float(r.timing.get("wall_seconds", math.nan)),
        }
        for r in records
    ]
    columns = [*KEYS, "seed", *CURVES.values(), "wall_seconds"]
    return pd.DataFrame(rows, columns=columns)


def summary_table(runs: pd.DataFrame, curve: str = "alloc") -> pd.DataFrame:
    """Per (tune, tie-break, workload, policy): seeds run, mean and std of ``curve``."""
    if runs.empty:
        return pd.DataFrame(columns=[*KEYS, "n", "mean", "std"])
    grouped = runs.groupby(list(KEYS), sort=True)[curve]
    table = grouped.agg(n="count", mean="mean", std="std").reset_index()
    return table


def mean_curves(records: Iterable[CellRecord]) -> pd.DataFrame:
    """Long form: keys, arrived %, and each curve's mean over seeds (NaN-skipping)."""
    parts = []
    for r in records:
        frame = pd.DataFrame(
            {name: np.asarray(r.curves[name], dtype=np.float64) for name in CURVES.values()}
        )
        frame["arrived"] = np.arange(len(frame))
        for key in KEYS:
            frame[key] = getattr(r.cell, key)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=[*KEYS, "arrived", *CURVES.values()])
    allruns = pd.concat(parts, ignore_index=True)
    means = allruns.groupby([*KEYS, "arrived"], sort=True)[list(CURVES.values())].mean()
    return means.reset_index()


def policy_title(name: str) -> str:
    return POLICY_TITLES.get(name, name)


def _ordered(names: Iterable[str], known: Sequence[str]) -> list[str]:
    present = set(names)
    return [n for n in known if n in present] + sorted(present - set(known))


def policy_order(names: Iterable[str]) -> list[str]:
    """The paper's policy order, then any others by name."""
    return _ordered(names, PAPER_POLICIES)


def workload_order(names: Iterable[str]) -> list[str]:
    return _ordered(names, PAPER_WORKLOADS)


def mean_std(mean: float, std: float, n: int) -> str:
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.2f}" if n < 2 or not math.isfinite(std) else f"{mean:.2f} ± {std:.2f}"


def format_grid_table(table: pd.DataFrame, title: str = "GPU allocation (%) at 130%") -> str:
    """Terminal table: a block per (tune, tie-break), policies as rows, workloads as columns."""
    if table.empty:
        return f"{title}: no results"
    blocks = []
    for (tune, tie_break), part in table.groupby(["tune", "tie_break"], sort=True):
        workloads = workload_order(part["workload"])
        cells = {
            (p, w): mean_std(float(m), float(s), int(n))
            for p, w, m, s, n in zip(
                part["policy"], part["workload"], part["mean"], part["std"], part["n"], strict=True
            )
        }
        header = ["policy", *workloads]
        rows = [
            [policy_title(p), *(cells.get((p, w), "-") for w in workloads)]
            for p in policy_order(part["policy"])
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            for r in [header, *rows]
        ]
        n = int(part["n"].max())
        blocks.append(
            f"{title}, tune {tune:g}, tie-break {tie_break}, mean ± std over up to {n} seeds\n"
            + "\n".join(lines)
        )
    return "\n\n".join(blocks)
