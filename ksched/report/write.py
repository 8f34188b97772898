"""A comparison report on disk: every plot that applies, as PNG files and in one HTML page."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from matplotlib.figure import Figure

from ksched.report.html import Plot, render_html
from ksched.report.plots import (
    ARRIVAL,
    TIME,
    plot_alloc_vs_arrived,
    plot_alloc_vs_time,
    plot_delay_cdfs,
    plot_frag_vs_arrived,
    plot_node_heatmap,
    plot_sched_latency_cdf,
    plot_utilisation_over_time,
    png_bytes,
    protocol_name,
)
from ksched.report.result import ResultLike, display_names

__all__ = ["REPORT_FILE", "report_plots", "write_report"]

REPORT_FILE: Final = "report.html"

# (file stem, caption, protocol the plot needs or None for any, plot)
_COMPARISONS: Final[
    tuple[tuple[str, str, str | None, Callable[[Sequence[ResultLike]], Figure]], ...]
] = (
    (
        "alloc_vs_arrived",
        "Allocation rate vs arrived workload (arrival-only).",
        ARRIVAL,
        plot_alloc_vs_arrived,
    ),
    (
        "frag_vs_arrived",
        "GPU fragmentation vs arrived workload (arrival-only).",
        ARRIVAL,
        plot_frag_vs_arrived,
    ),
    (
        "alloc_vs_time",
        "Allocation rate and GPU fragmentation over time (time-based).",
        TIME,
        plot_alloc_vs_time,
    ),
    (
        "delay_cdfs",
        "CDFs of queueing delay and job completion time (time-based).",
        TIME,
        plot_delay_cdfs,
    ),
    ("sched_latency_cdf", "CDF of per-pod scheduling latency.", None, plot_sched_latency_cdf),
)


def report_plots(results: Sequence[ResultLike]) -> list[Plot]:
    """Each plot the results support, in reading order; heat maps last, one per profile.

    Protocol-specific plots are left out when no result uses that protocol,
    and node plots when there are no ``node_util`` samples.
    """
    protocols = {r.protocol for r in results}
    plots = [
        Plot(name, caption, png_bytes(plot(results)))
        for name, caption, protocol, plot in _COMPARISONS
        if protocol is None or protocol in protocols
    ]
    for protocol in sorted(protocols):
        if any(r.protocol == protocol and not r.node_util.empty for r in results):
            caption = f"Mean node utilisation over time ({protocol_name(protocol)})."
            figure = plot_utilisation_over_time(results, protocol)
            plots.append(Plot(f"utilisation_{protocol}", caption, png_bytes(figure)))
    for i, (name, result) in enumerate(zip(display_names(results), results, strict=True)):
        if not result.node_util.empty:
            figure = plot_node_heatmap(result, name)
            stem = f"node_util_{i + 1}_{_slug(name)}"
            plots.append(Plot(stem, f"Per-node utilisation: {name}.", png_bytes(figure)))
    return plots


def write_report(
    results: Sequence[ResultLike], out_dir: Path, *, title: str = "ksched replay report"
) -> Path:
    """Write ``report.html`` and every plot as ``<name>.png`` in ``out_dir``; return the HTML."""
    if not results:
        raise ValueError("write_report needs at least one result")
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = report_plots(results)
    for plot in plots:
        (out_dir / f"{plot.name}.png").write_bytes(plot.png)
    path = out_dir / REPORT_FILE
    path.write_text(render_html(results, plots, title=title), encoding="utf-8")
    return path


def _slug(name: str) -> str:
    """A file-name-safe stem: profile names may hold slashes, spaces or markup."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "profile"
