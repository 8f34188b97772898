"""Every plot renders a real PNG, picks the results it applies to and refuses bad input by name."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pytest
from _reportdata import FakeResult, MakeResult, make_result
from matplotlib.figure import Figure
from matplotlib.image import imread

from ksched.report import (
    plot_alloc_vs_arrived,
    plot_alloc_vs_time,
    plot_delay_cdfs,
    plot_frag_vs_arrived,
    plot_node_heatmap,
    plot_sched_latency_cdf,
    plot_utilisation_over_time,
    png_bytes,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Plotter = Callable[[Sequence[FakeResult]], Figure]


def _mixed() -> list[FakeResult]:
    return [
        make_result("default-scheduler", "arrival", seed=1),
        make_result("fgd", "arrival", seed=2, quality=0.2),
        make_result("default-scheduler", "time", seed=3),
        make_result("fgd", "time", seed=4, quality=0.2),
    ]


def _cpu_only_nodes(result: FakeResult) -> FakeResult:
    """Half the nodes have no GPU: their ``gpu_pct`` is NaN, as the simulator writes it."""
    util = result.node_util
    cpu_only = util["node"].isin(sorted(set(util["node"]))[::2])
    return replace(result, node_util=util.assign(gpu_pct=util["gpu_pct"].where(~cpu_only)))


def _assert_png(png: bytes) -> None:
    assert png.startswith(PNG_SIGNATURE)
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert float(np.std(pixels)) > 0.01, "image is blank"


@pytest.mark.parametrize(
    "plot",
    [
        plot_alloc_vs_arrived,
        plot_frag_vs_arrived,
        plot_alloc_vs_time,
        plot_delay_cdfs,
        plot_sched_latency_cdf,
        lambda rs: plot_utilisation_over_time(rs, "time"),
        lambda rs: plot_utilisation_over_time(rs, "arrival"),
        lambda rs: plot_node_heatmap(rs[0]),
        lambda rs: plot_node_heatmap(make_result("big", "time", nodes=120, samples=50)),
        lambda rs: plot_node_heatmap(_cpu_only_nodes(rs[2])),
    ],
    ids=[
        "alloc_vs_arrived",
        "frag_vs_arrived",
        "alloc_vs_time",
        "delay_cdfs",
        "sched_latency_cdf",
        "utilisation_time",
        "utilisation_arrival",
        "node_heatmap",
        "node_heatmap_many_nodes",
        "node_heatmap_cpu_only_nodes",
    ],
)
def test_plot_renders_png(plot: Plotter) -> None:
    _assert_png(png_bytes(plot(_mixed())))


@pytest.mark.parametrize(
    ("plot", "protocol", "message"),
    [
        (
            plot_alloc_vs_arrived,
            "time",
            "plot_alloc_vs_arrived needs at least one 'arrival' result; got 'time'",
        ),
        (
            plot_frag_vs_arrived,
            "time",
            "plot_frag_vs_arrived needs at least one 'arrival' result; got 'time'",
        ),
        (
            plot_alloc_vs_time,
            "arrival",
            "plot_alloc_vs_time needs at least one 'time' result; got 'arrival'",
        ),
        (
            plot_delay_cdfs,
            "arrival",
            "plot_delay_cdfs needs at least one 'time' result; got 'arrival'",
        ),
    ],
    ids=["alloc_vs_arrived", "frag_vs_arrived", "alloc_vs_time", "delay_cdfs"],
)
def test_plot_refuses_results_of_other_protocol(plot: Plotter, protocol: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot([make_result("a", protocol)])


def test_plot_legend_has_only_applicable_profiles_in_list_colours() -> None:
    results = [
        make_result("default-scheduler", "arrival"),
        make_result("fgd", "arrival"),
        make_result("binpack", "time"),
        make_result("spread", "time"),
    ]
    fig = plot_alloc_vs_time(results)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["binpack", "spread"]
    assert [h.get_color() for h in legend.legend_handles] == ["C2", "C3"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "profile",
    ["_leading-underscore", "cost $5$ plan", "<script>alert(1)</script>", "ünïcødé"],
    ids=["underscore", "dollars", "markup", "unicode"],
)
def test_profile_name_is_shown_verbatim(profile: str, result: MakeResult) -> None:
    fig = plot_frag_vs_arrived([result(profile), result("other", seed=1)])
    png = png_bytes(fig)
    (legend,) = fig.legends
    assert [t.get_text().replace(r"\$", "$") for t in legend.get_texts()] == [profile, "other"]
    _assert_png(png)


def test_repeated_profile_is_told_apart_by_seed(result: MakeResult) -> None:
    fig = plot_sched_latency_cdf([result("fgd", seed=1), result("fgd", seed=2)])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["fgd (seed 1)", "fgd (seed 2)"]


def test_utilisation_over_time_refuses_mixed_protocols_without_choice() -> None:
    with pytest.raises(ValueError, match="results mix protocols 'arrival', 'time'; pass protocol="):
        plot_utilisation_over_time(_mixed())


def test_missing_column_is_named(result: MakeResult) -> None:
    fgd = result("fgd")
    broken = replace(fgd, series=fgd.series.drop(columns=["gpu_frag_pct"]))
    with pytest.raises(
        ValueError, match="result 'fgd': series is missing column\\(s\\) 'gpu_frag_pct'"
    ):
        plot_frag_vs_arrived([broken])


def test_heatmap_refuses_empty_node_util(result: MakeResult) -> None:
    fgd = result("fgd")
    empty = replace(fgd, node_util=fgd.node_util.iloc[:0])
    with pytest.raises(ValueError, match="result 'fgd' has no node_util samples"):
        plot_node_heatmap(empty)


def test_result_without_scheduled_pods_still_plots(result: MakeResult) -> None:
    busy = result("idle", "time")
    idle = replace(busy, pods=busy.pods.assign(queue_delay_s=np.nan, finish_time=np.nan))
    _assert_png(png_bytes(plot_delay_cdfs([idle, result("busy", "time", seed=1)])))


def test_png_is_deterministic(result: MakeResult) -> None:
    results = [result("a"), result("b", seed=1)]
    assert png_bytes(plot_alloc_vs_arrived(results)) == png_bytes(plot_alloc_vs_arrived(results))
