"""Formatting shared by the paper's sections: numbers, Markdown tables, figure files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["PaperError", "empty_panel", "md_table", "pp", "save_figure"]


class PaperError(ValueError):
    """The template or the results cannot make the paper (the message says where and why)."""


def pp(v: float) -> str:
    # round first: a difference of -0.004 reads "+0.00", not "-0.00"
    return "n/a" if not math.isfinite(v) else f"{round(v, 2) + 0.0:+.2f} pp"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    align = align or "l" + "r" * (len(header) - 1)
    marks = [":--" if a == "l" else "--:" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def save_figure(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def empty_panel(ax: Axes, why: str) -> None:
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
