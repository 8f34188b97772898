"""Plain-text comparison of replays for the terminal: rows are metrics, columns are profiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ksched.report.metrics import Row, metric_rows, parameter_rows
from ksched.report.result import ResultLike, display_names

__all__ = ["format_table"]

_BEST: Final = "*"
_GAP: Final = "  "


def format_table(results: Sequence[ResultLike]) -> str:
    """Aligned table, best value per row starred; every line has the same width.

    Numbers are right-aligned and each cell keeps one trailing column for the
    star, so digits line up whether or not a cell is marked.
    """
    if not results:
        raise ValueError("format_table needs at least one result")
    names = display_names(results)
    params, metrics = parameter_rows(results), metric_rows(results)
    rows = [*params, *metrics]
    label_width = max(len("profile"), *(len(r.label) for r in rows))
    widths = [
        max(len(name), *(len(r.cells[i]) for r in rows)) + len(_BEST)
        for i, name in enumerate(names)
    ]

    def line(label: str, cells: Sequence[str]) -> str:
        return _GAP.join(
            [label.ljust(label_width), *(c.rjust(w) for c, w in zip(cells, widths, strict=True))]
        )

    def row_line(row: Row) -> str:
        marked = [c + (_BEST if i in row.best else " ") for i, c in enumerate(row.cells)]
        return line(row.label, marked)

    rule = line("-" * label_width, ["-" * w for w in widths])
    lines = [
        line("profile", [f"{n} " for n in names]),
        rule,
        *map(row_line, params),
        rule,
        *map(row_line, metrics),
    ]
    if any(r.best for r in metrics):
        lines.append(f"{_BEST} best value in the row")
    return "\n".join(lines)
