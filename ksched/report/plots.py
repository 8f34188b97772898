"""Comparison plots of replays, one line (or panel) per profile.

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas and never
through ``pyplot``, so nothing opens a display, no global figure registry
leaks memory in long sessions, and plotting is safe off the main thread.
A profile keeps its colour in every figure because colours follow the
position in the list given, and each plot picks the results it applies to
from that same list.

Plots against ``arrived workload`` follow the arrival-only protocol of
Weng et al., "Beware of Fragmentation", USENIX ATC '23 (Fig. 7/9).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TypedDict

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import NDArray

from ksched.report.result import (
    NODE_UTIL_COLUMNS,
    PODS_COLUMNS,
    SERIES_COLUMNS,
    ResultLike,
    display_names,
    require_columns,
)

__all__ = [
    "plot_alloc_vs_arrived",
    "plot_alloc_vs_time",
    "plot_delay_cdfs",
    "plot_frag_vs_arrived",
    "plot_node_heatmap",
    "plot_sched_latency_cdf",
    "plot_utilisation_over_time",
    "png_bytes",
    "protocol_name",
    "save_png",
]

ARRIVAL: Final = "arrival"
TIME: Final = "time"

_COLOURS: Final = tuple(f"C{i}" for i in range(10))
_DASHES: Final = ("-", "--", "-.", ":")
_PANEL: Final = (4.6, 3.6)
_NO_RESOURCE: Final = "0.85"  # heat-map background: NaN cells, e.g. GPU of a CPU-only node
_ARRIVED_LABEL: Final = "arrived workload (GPU requested, % of cluster GPU)"
_ALLOC_PANELS: Final = (
    ("gpu_alloc_pct", "GPU allocated (% of cluster)"),
    ("cpu_alloc_pct", "CPU allocated (% of cluster)"),
    ("mem_alloc_pct", "memory allocated (% of cluster)"),
)
_UTIL_PANELS: Final = (
    ("gpu_pct", "GPU"),
    ("cpu_pct", "CPU"),
    ("mem_pct", "memory"),
)
# (upper bound in seconds, divisor, unit): long traces read in hours or days.
_TIME_UNITS: Final = ((180.0, 1.0, "s"), (3 * 3600.0, 60.0, "min"), (3 * 86400.0, 3600.0, "h"))

Picked = list[tuple[int, str, ResultLike]]


def plot_alloc_vs_arrived(results: Sequence[ResultLike]) -> Figure:
    """GPU, CPU and memory allocation rate against arrived workload (arrival-only results)."""
    picked = _pick(results, ARRIVAL, "plot_alloc_vs_arrived")
    fig, axes = _figure(len(_ALLOC_PANELS))
    handles: list[Line2D] = []
    for i, _, result in picked:
        series = require_columns(result, "series", SERIES_COLUMNS)
        x = _column(series, "arrived_gpu_pct")
        for ax, (column, _) in zip(axes, _ALLOC_PANELS, strict=True):
            (line,) = ax.plot(x, _column(series, column), **_style(i))
        handles.append(line)
    top = min(100.0, max(_max(_column(r.series, "arrived_gpu_pct")) for _, _, r in picked))
    (ideal,) = axes[0].plot([0.0, top], [0.0, top], color="0.6", linestyle=":", linewidth=1)
    for ax, (_, ylabel) in zip(axes, _ALLOC_PANELS, strict=True):
        _labels(ax, _ARRIVED_LABEL, ylabel)
    _legend(fig, [*handles, ideal], [*(n for _, n, _ in picked), "all arrived GPU allocated"])
    fig.suptitle("Allocation rate vs arrived workload (arrival-only)")
    return fig


def plot_frag_vs_arrived(results: Sequence[ResultLike]) -> Figure:
    """GPU fragmentation against arrived workload (arrival-only results)."""
    picked = _pick(results, ARRIVAL, "plot_frag_vs_arrived")
    fig, (ax,) = _figure(1, width=1.6)
    handles = []
    for i, _, result in picked:
        series = require_columns(result, "series", SERIES_COLUMNS)
        x, y = _column(series, "arrived_gpu_pct"), _column(series, "gpu_frag_pct")
        handles += ax.plot(x, y, **_style(i))
    _labels(ax, _ARRIVED_LABEL, "GPU fragmentation (% of cluster GPU)")
    _legend(fig, handles, [n for _, n, _ in picked])
    fig.suptitle("GPU fragmentation vs arrived workload (arrival-only)")
    return fig


def plot_alloc_vs_time(results: Sequence[ResultLike]) -> Figure:
    """GPU, CPU and memory allocation rate and GPU fragmentation over time (time-based results)."""
    picked = _pick(results, TIME, "plot_alloc_vs_time")
    panels = (*_ALLOC_PANELS, ("gpu_frag_pct", "GPU fragmentation (% of cluster GPU)"))
    frames = [require_columns(r, "series", SERIES_COLUMNS) for _, _, r in picked]
    divisor, unit = _time_unit(frames)
    fig, axes = _figure(len(panels), columns=2)
    handles: list[Line2D] = []
    for (i, _, _), series in zip(picked, frames, strict=True):
        t = _column(series, "time") / divisor
        for ax, (column, _) in zip(axes, panels, strict=True):
            (line,) = ax.plot(t, _column(series, column), **_style(i))
        handles.append(line)
    for ax, (_, ylabel) in zip(axes, panels, strict=True):
        _labels(ax, f"simulated time ({unit})", ylabel)
    _legend(fig, handles, [n for _, n, _ in picked])
    fig.suptitle("Allocation rate and fragmentation over time (time-based)")
    return fig


def plot_utilisation_over_time(
    results: Sequence[ResultLike], protocol: str | None = None
) -> Figure:
    """Mean per-node utilisation of GPU, CPU and memory over time, from ``node_util``.

    One protocol per figure, since arrival-only time is a pod index and cannot
    share an axis with seconds; ``protocol`` may be omitted when the results
    all share one.
    """
    if protocol is None:
        protocols = sorted({r.protocol for r in results})
        if len(protocols) > 1:
            raise ValueError(
                "plot_utilisation_over_time: results mix protocols "
                f"{', '.join(map(repr, protocols))}; pass protocol= to choose one"
            )
        protocol = protocols[0] if protocols else TIME
    picked = _pick(results, protocol, "plot_utilisation_over_time")
    frames = [require_columns(r, "node_util", NODE_UTIL_COLUMNS) for _, _, r in picked]
    divisor, xlabel = _time_axis(protocol, frames)
    fig, axes = _figure(len(_UTIL_PANELS))
    handles: list[Line2D] = []
    for (i, _, _), util in zip(picked, frames, strict=True):
        mean = util.groupby("time", sort=True)[[c for c, _ in _UTIL_PANELS]].mean()
        t = mean.index.to_numpy(dtype=float) / divisor
        for ax, (column, _) in zip(axes, _UTIL_PANELS, strict=True):
            (line,) = ax.plot(t, mean[column].to_numpy(dtype=float), **_style(i))
        handles.append(line)
    for ax, (_, resource) in zip(axes, _UTIL_PANELS, strict=True):
        _labels(ax, xlabel, f"{resource} utilisation, mean over nodes (%)")
    _legend(fig, handles, [n for _, n, _ in picked])
    fig.suptitle(f"Node utilisation over time ({protocol_name(protocol)})")
    return fig


def plot_delay_cdfs(results: Sequence[ResultLike]) -> Figure:
    """CDFs of queueing delay and job completion time over pods (time-based results).

    Pods never scheduled, or never finished, have no delay or JCT and are left
    out; the legend says how many pods each curve covers.
    """
    picked = _pick(results, TIME, "plot_delay_cdfs")
    fig, (delay_ax, jct_ax) = _figure(2)
    handles, labels = [], []
    for i, name, result in picked:
        pods = require_columns(result, "pods", PODS_COLUMNS)
        delay = _finite(_column(pods, "queue_delay_s"))
        jct = _finite(_column(pods, "finish_time") - _column(pods, "arrival_time"))
        handles.append(_cdf(delay_ax, delay, i))
        _cdf(jct_ax, jct, i)
        labels.append(f"{name} ({delay.size:,} / {jct.size:,} pods)")
    _cdf_axes(delay_ax, "queueing delay (s)", [h.get_xdata() for h in delay_ax.lines])
    _cdf_axes(jct_ax, "job completion time (s)", [h.get_xdata() for h in jct_ax.lines])
    _legend(fig, handles, labels, "profile (pods scheduled / finished)")
    fig.suptitle("Queueing delay and job completion time (time-based)")
    return fig


def plot_sched_latency_cdf(results: Sequence[ResultLike]) -> Figure:
    """CDF of per-pod scheduling latency (algorithm wall time), every protocol."""
    picked = _pick(results, None, "plot_sched_latency_cdf")
    fig, (ax,) = _figure(1, width=1.6)
    handles = []
    for i, _, result in picked:
        pods = require_columns(result, "pods", PODS_COLUMNS)
        handles.append(_cdf(ax, _finite(_column(pods, "sched_latency_us")), i))
    _cdf_axes(ax, "scheduling latency per pod (µs)", [h.get_xdata() for h in ax.lines])
    _legend(fig, handles, [n for _, n, _ in picked])
    fig.suptitle("Scheduling latency per pod")
    return fig


def plot_node_heatmap(result: ResultLike, name: str | None = None) -> Figure:
    """Per-node GPU, CPU and memory utilisation over time for one profile.

    Nodes are rows, sorted by mean GPU then CPU utilisation so the busy part of
    the cluster forms one band; every panel uses that same order.
    """
    util = require_columns(result, "node_util", NODE_UTIL_COLUMNS)
    if util.empty:
        raise ValueError(f"plot_node_heatmap: result {result.profile!r} has no node_util samples")
    columns = [c for c, _ in _UTIL_PANELS]
    divisor, xlabel = _time_axis(result.protocol, [util])
    order = util.groupby("node")[columns].mean().fillna(-1.0)
    nodes = order.sort_values(columns, ascending=False, kind="stable").index
    height = max(3.6, min(9.0, 1.5 + 0.12 * len(nodes)))
    fig, axes = _figure(len(_UTIL_PANELS), height=height, sharey=True)
    rows = np.arange(len(nodes))
    for ax, (column, resource) in zip(axes, _UTIL_PANELS, strict=True):
        grid = util.pivot_table(index="node", columns="time", values=column, aggfunc="mean")
        grid = grid.reindex(nodes)
        t = grid.columns.to_numpy(dtype=float) / divisor
        mesh = ax.pcolormesh(
            t,
            rows,
            grid.to_numpy(dtype=float),
            shading="nearest",
            vmin=0.0,
            vmax=100.0,
            cmap="viridis",
        )
        ax.set_title(resource)
        ax.set_xlabel(xlabel)
        ax.set_facecolor(_NO_RESOURCE)
    axes[0].invert_yaxis()  # shared: once flips every panel, top row = busiest node
    if len(nodes) <= 40:
        axes[0].set_yticks(rows, labels=[_text(str(n)) for n in nodes], fontsize=7)
        axes[0].set_ylabel("node")
    else:
        axes[0].set_ylabel(f"node rank by mean utilisation ({len(nodes):,} nodes)")
    fig.colorbar(
        mesh, ax=axes, label="utilisation (% of node capacity; grey: node has none)", shrink=0.9
    )
    fig.suptitle(_text(f"Per-node utilisation: {name or result.profile}"))
    return fig


def protocol_name(protocol: str) -> str:
    """How captions name a protocol: the terms of the replay documentation."""
    return {ARRIVAL: "arrival-only", TIME: "time-based"}.get(protocol, protocol)


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG; without matplotlib's version stamp so equal plots give equal bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def save_png(fig: Figure, path: Path, dpi: int = 110) -> Path:
    path.write_bytes(png_bytes(fig, dpi))
    return path


def _pick(results: Sequence[ResultLike], protocol: str | None, plot: str) -> Picked:
    """The results a plot applies to, each with its list position (its colour) and name."""
    names = display_names(results)
    picked = [
        (i, _text(names[i]), r)
        for i, r in enumerate(results)
        if protocol is None or r.protocol == protocol
    ]
    if not picked:
        wanted = "any" if protocol is None else repr(protocol)
        found = ", ".join(sorted({repr(r.protocol) for r in results})) or "no results"
        raise ValueError(f"{plot} needs at least one {wanted} result; got {found}")
    return picked


def _figure(
    panels: int,
    *,
    columns: int = 3,
    width: float = 1.0,
    height: float = _PANEL[1],
    sharey: bool = False,
) -> tuple[Figure, list[Axes]]:
    cols = min(panels, columns)
    rows = -(-panels // cols)
    fig = Figure(figsize=(_PANEL[0] * cols * width, height * rows + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=sharey).ravel().tolist()
    return fig, axes


class _Style(TypedDict):
    color: str
    linestyle: str
    linewidth: float


def _style(index: int) -> _Style:
    """Colour by list position; past ten profiles the dash pattern changes too."""
    return _Style(
        color=_COLOURS[index % len(_COLOURS)],
        linestyle=_DASHES[(index // len(_COLOURS)) % len(_DASHES)],
        linewidth=1.6,
    )


def _labels(ax: Axes, xlabel: str, ylabel: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def _legend(
    fig: Figure, handles: Sequence[Artist], labels: Sequence[str], title: str = "profile"
) -> None:
    # Explicit labels: matplotlib would silently drop a profile named "_x" if it collected them.
    fig.legend(handles, labels, title=title, loc="outside lower center", ncols=min(len(labels), 4))


def _text(text: str) -> str:
    """Shown as written: a ``$`` in a profile name must not start mathtext."""
    return text.replace("$", r"\$")


def _column(df: pd.DataFrame, column: str) -> NDArray[np.float64]:
    return df[column].to_numpy(dtype=np.float64, na_value=np.nan)


def _max(values: NDArray[np.float64]) -> float:
    """Largest finite value, 0 for none (an empty replay still gets an axis)."""
    finite = _finite(values)
    return float(finite.max()) if finite.size else 0.0


def _finite(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return values[np.isfinite(values)]


def _cdf(ax: Axes, values: NDArray[np.float64], index: int) -> Line2D:
    x = np.sort(values)
    y = np.arange(1, x.size + 1, dtype=np.float64) / max(x.size, 1)
    (line,) = ax.step(x, y, where="post", **_style(index))
    return line


def _cdf_axes(ax: Axes, xlabel: str, data: Sequence[object]) -> None:
    """Log x past a decade of spread (latency tails); symlog when some are zero (never waited)."""
    values = np.concatenate([np.asarray(d, dtype=np.float64) for d in data] or [np.zeros(0)])
    if values.size and values.max() > 0:
        positive = values[values > 0]
        if positive.size < values.size:
            # Linear up to the decade of the smallest positive value: zeros stay visible
            # and the log part starts on a round tick.
            decade = 10.0 ** np.floor(np.log10(float(positive.min())))
            ax.set_xscale("symlog", linthresh=float(decade))
        elif positive.max() / positive.min() > 10:
            ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    _labels(ax, xlabel, "fraction of pods")


def _time_unit(frames: Sequence[pd.DataFrame]) -> tuple[float, str]:
    end = max(_max(_column(f, "time")) for f in frames)
    return next(((d, u) for bound, d, u in _TIME_UNITS if end <= bound), (86400.0, "d"))


def _time_axis(protocol: str, frames: Sequence[pd.DataFrame]) -> tuple[float, str]:
    if protocol == ARRIVAL:
        return 1.0, "pods arrived"
    divisor, unit = _time_unit(frames)
    return divisor, f"simulated time ({unit})"
