"""One self-contained HTML report: summary table, run parameters, plots as inline PNG.

Everything is in the file (inline CSS, ``data:`` images, no scripts or links)
so a report can be mailed, archived or opened offline and still show the
same thing. Every piece of text from a result passes through ``escape``:
profile and trace names come from user configuration.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from ksched.report.metrics import Better, Row, meta_rows, metric_rows, parameter_rows
from ksched.report.result import ResultLike, display_names

__all__ = ["Plot", "render_html"]

_CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
thead th { background: #f0f0f0; }
tbody th { text-align: left; font-weight: normal; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.best { background: #d7f2d7; font-weight: bold; }
.dir { color: #777; font-size: 0.85em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; }
"""
_ARROWS: Final = {
    Better.HIGHER: ("\u2191", "higher is better"),
    Better.LOWER: ("\u2193", "lower is better"),
}


@dataclass(frozen=True)
class Plot:
    """A rendered figure: ``name`` is its file stem, ``caption`` the text shown under it."""

    name: str
    caption: str
    png: bytes


def render_html(
    results: Sequence[ResultLike], plots: Sequence[Plot], *, title: str = "ksched replay report"
) -> str:
    if not results:
        raise ValueError("render_html needs at least one result")
    names = display_names(results)
    head = "".join(f'<th scope="col">{escape(n)}</th>' for n in names)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{len(results)} profile(s) compared: {escape(', '.join(names))}.</p>",
        "<h2>Summary</h2>",
        f'<table class="summary"><thead><tr><th scope="col">metric</th>{head}</tr></thead>',
        "<tbody>",
        *map(_row, metric_rows(results)),
        "</tbody></table>",
        "<p>Highlighted: the best value in the row.</p>",
        "<h2>Run parameters</h2>",
        f'<table class="params"><thead><tr><th scope="col">parameter</th>{head}</tr></thead>',
        "<tbody>",
        *map(_row, [*parameter_rows(results), *meta_rows(results)]),
        "</tbody></table>",
        "<h2>Plots</h2>",
        *map(_figure, plots),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _row(row: Row) -> str:
    label = escape(row.label)
    if row.better in _ARROWS:
        arrow, meaning = _ARROWS[row.better]
        label += f' <span class="dir" title="{meaning}">{arrow}</span>'
    cells = "".join(
        f'<td class="best">{escape(c)}</td>' if i in row.best else f"<td>{escape(c)}</td>"
        for i, c in enumerate(row.cells)
    )
    return f'<tr><th scope="row">{label}</th>{cells}</tr>'


def _figure(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    caption = escape(plot.caption)
    return (
        f'<figure id="{escape(plot.name)}"><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )
