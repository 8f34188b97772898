"""Comparison reports of replays: plots, a self-contained HTML page, a terminal table.

Input is a sequence of replay results in the format of ``ksched.sim``'s
``ReplayResult`` (``/work/notes/sim-results.md``), described here by the
``ResultLike`` protocol so the report never depends on the simulator.
Submodules are implementation detail: import from here.
"""

from ksched.report.html import Plot, render_html
from ksched.report.metrics import METRICS, Better, Metric
from ksched.report.plots import (
    plot_alloc_vs_arrived,
    plot_alloc_vs_time,
    plot_delay_cdfs,
    plot_frag_vs_arrived,
    plot_node_heatmap,
    plot_sched_latency_cdf,
    plot_utilisation_over_time,
    png_bytes,
    save_png,
)
from ksched.report.result import ResultLike
from ksched.report.table import format_table
from ksched.report.write import REPORT_FILE, report_plots, write_report

__all__ = [
    "METRICS",
    "REPORT_FILE",
    "Better",
    "Metric",
    "Plot",
    "ResultLike",
    "format_table",
    "plot_alloc_vs_arrived",
    "plot_alloc_vs_time",
    "plot_delay_cdfs",
    "plot_frag_vs_arrived",
    "plot_node_heatmap",
    "plot_sched_latency_cdf",
    "plot_utilisation_over_time",
    "png_bytes",
    "render_html",
    "report_plots",
    "save_png",
    "write_report",
]
