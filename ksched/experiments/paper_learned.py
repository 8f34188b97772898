"""The paper's "Learned policies" section, from ``results/learned/`` (optional).

Two files feed it, each written by a ``ksched evaluate`` command and copied
there: ``scorer.csv`` (a distilled scorer against its teacher on held-out
workloads) and ``queue.csv`` with ``duration_model.json`` (learned
shortest-job-first against FIFO and the oracle on a time-based replay). A
missing file leaves its part saying so; the grid's part of the paper does
not depend on them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ksched.experiments.aggregate import policy_title
from ksched.experiments.paper_format import PaperError, empty_panel, md_table, pp, save_figure

__all__ = ["DISTILL_PP", "LEARNED_FIGURES", "learned_parts"]

# The learned-scorer issue's tolerance: within this many points of the teacher's allocation.
DISTILL_PP: Final = 0.3
LEARNED_FIGURES: Final = ("queue_jct",)
_QUEUE_TITLES: Final = {"fifo": "FIFO", "learned-sjf": "learned SJF", "oracle-sjf": "oracle SJF"}


def _read_csv(path: Path, needed: tuple[str, ...]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as exc:
        raise PaperError(f"{path}: {exc}") from None
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise PaperError(f"{path}: columns {missing} are missing")
    return frame


def _scorer(learned: Path, tables: Path) -> dict[str, str]:
    path = learned / "scorer.csv"
    frame = _read_csv(path, ("workload", "seed", "profile", "gpu_alloc_pct"))
    if frame is None:
        text = f"No distilled-scorer results (`{path.name}` is absent)."
        return {"learned_scorer_table": "", "learned_scorer_summary": text}
    wide = frame.pivot_table(
        index=["workload", "seed"], columns="profile", values="gpu_alloc_pct"
    ).reset_index()
    learned_col = "mlscore"
    teachers = [c for c in wide.columns if c not in ("workload", "seed", learned_col, "default")]
    if learned_col not in wide.columns or len(teachers) != 1:
        raise PaperError(f"{path}: expected profiles 'mlscore' and one teacher")
    teacher = str(teachers[0])
    wide["diff"] = wide[learned_col] - wide[teacher]
    wide.to_csv(tables / "distilled_scorer.csv", index=False)
    rows = [
        [str(w), str(s), f"{t:.2f}", f"{m:.2f}", pp(d)]
        for w, s, t, m, d in zip(
            wide["workload"],
            wide["seed"],
            wide[teacher],
            wide[learned_col],
            wide["diff"],
            strict=True,
        )
    ]
    diff = wide["diff"].to_numpy(np.float64)
    rows.append(
        [
            "mean",
            "",
            f"{wide[teacher].mean():.2f}",
            f"{wide[learned_col].mean():.2f}",
            pp(float(diff.mean())),
        ]
    )
    header = [
        "held-out workload",
        "seed",
        f"{policy_title(teacher)} (%)",
        "distilled (%)",
        "difference",
    ]
    within = int(np.sum(diff >= -DISTILL_PP))
    summary = (
        f"Over {len(diff)} held-out runs the distilled scorer's allocation is within "
        f"{DISTILL_PP:g} points of (or above) its teacher's in {within}; the mean difference is "
        f"{pp(float(diff.mean()))} and the worst {pp(float(diff.min()))}."
    )
    return {"learned_scorer_table": md_table(header, rows), "learned_scorer_summary": summary}


def _queue_figure(frame: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(9, 3.6))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, policy in enumerate(_QUEUE_TITLES):
        part = frame[frame["policy"] == policy].sort_values("offered_gpu_load")
        if part.empty:
            continue
        label, color = _QUEUE_TITLES[policy], f"C{i}"
        right.plot(
            part["offered_gpu_load"], part["jct_mean_s"] / 3600, "o-", label=label, color=color
        )
        if policy != "fifo":
            left.plot(
                part["offered_gpu_load"],
                part["jct_reduction_vs_fifo_pct"],
                "o-",
                label=label,
                color=color,
            )
    left.axhline(0, color="0.3", lw=0.8)
    left.set_xlabel("offered GPU load")
    left.set_ylabel("mean JCT reduction vs FIFO (%)")
    right.set_xlabel("offered GPU load")
    right.set_ylabel("mean JCT (hours)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    save_figure(fig, path)


def _queue(learned: Path, figures: Path, tables: Path) -> dict[str, str]:
    path = learned / "queue.csv"
    needed = (
        "nodes",
        "arrival_speedup",
        "offered_gpu_load",
        "policy",
        "jct_mean_s",
        "queue_delay_mean_s",
        "jct_reduction_vs_fifo_pct",
        "jct_above_oracle_pct",
    )
    frame = _read_csv(path, needed)
    figure = figures / "queue_jct.png"
    if frame is None:
        fig = Figure(figsize=(9, 3.6))
        empty_panel(fig.add_subplot(), f"no queue-order results ({path.name} is absent)")
        save_figure(fig, figure)
        text = f"No learned queue-order results (`{path.name}` is absent)."
        return {"learned_queue_table": "", "learned_queue_summary": text, "learned_model": ""}
    frame.to_csv(tables / "queue_order.csv", index=False)
    _queue_figure(frame, figure)
    rows = []
    for nodes, load, policy, jct, delay, cut, above in zip(
        frame["nodes"],
        frame["offered_gpu_load"],
        frame["policy"],
        frame["jct_mean_s"],
        frame["queue_delay_mean_s"],
        frame["jct_reduction_vs_fifo_pct"],
        frame["jct_above_oracle_pct"],
        strict=True,
    ):
        rows.append(
            [
                str(nodes),
                f"{load:.2f}",
                _QUEUE_TITLES.get(str(policy), str(policy)),
                f"{jct / 3600:.2f}",
                f"{delay / 60:.1f}",
                f"{cut:+.1f}%",
                f"{above:+.1f}%",
            ]
        )
    header = [
        "nodes",
        "offered GPU load",
        "queue order",
        "mean JCT (h)",
        "mean queueing (min)",
        "JCT vs FIFO",
        "JCT vs oracle",
    ]
    speedups = ", ".join(f"{v:g}" for v in sorted(set(frame["arrival_speedup"])))
    cut = {
        (str(p), int(n)): float(v)
        for p, n, v in zip(
            frame["policy"], frame["nodes"], frame["jct_reduction_vs_fifo_pct"], strict=True
        )
    }
    above = {
        int(n): float(v)
        for p, n, v in zip(
            frame["policy"], frame["nodes"], frame["jct_above_oracle_pct"], strict=True
        )
        if p == "learned-sjf"
    }
    load = {
        int(n): float(v) for n, v in zip(frame["nodes"], frame["offered_gpu_load"], strict=True)
    }
    heaviest = max(load, key=lambda n: load[n])
    summary = (
        f"Arrivals ran {speedups} times faster than in the trace, on {len(load)} cluster sizes. "
        f"Under the heaviest load ({heaviest} nodes, offered GPU load {load[heaviest]:.2f}) "
        f"learned SJF cuts mean JCT by {cut.get(('learned-sjf', heaviest), math.nan):.1f}% "
        f"against FIFO and the oracle by {cut.get(('oracle-sjf', heaviest), math.nan):.1f}%; "
        f"learned SJF's mean JCT is {above.get(heaviest, math.nan):.1f}% above the oracle's."
    )
    model = ""
    quality_path = learned / "duration_model.json"
    if quality_path.is_file():
        try:
            q = json.loads(quality_path.read_text())
            model = (
                f"On the {int(q['pods']):,} held-out pods the duration model's rank correlation "
                f"with the true durations (Spearman) is {q['spearman']:.2f}; its mean absolute "
                f"error is {q['mae_log']:.2f} in log(1 + seconds), against "
                f"{q['mae_log_median']:.2f} for always predicting the held-out median."
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PaperError(f"{quality_path}: {exc}") from None
    return {
        "learned_queue_table": md_table(header, rows),
        "learned_queue_summary": summary,
        "learned_model": model,
    }


def learned_parts(results: Path, figures: Path, tables: Path) -> dict[str, str]:
    """Placeholders of the learned-policies section; its figure is always written."""
    learned = results / "learned"
    values = {**_scorer(learned, tables), **_queue(learned, figures, tables)}
    values["distill_pp"] = f"{DISTILL_PP:g}"
    return values
