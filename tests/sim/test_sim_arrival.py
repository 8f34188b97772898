"""The FGD arrival-only protocol through the full scheduler."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _simdata import (
    assert_no_overcommit,
    collector_off,
    comparable,
    nodes,
    pods,
    workload,
)

from ksched.sim import ArrivalReplay, PodConversion, discrete_by_arrived, fgd_node_names
from ksched.traces import Workload, load_openb, synthetic


def small() -> Workload:
    return synthetic(n_nodes=25, n_pods=300, seed=5, gpu_nodes_only=True)


def check_invariants(replay: ArrivalReplay) -> None:
    counts = replay.counts()
    assert counts["arrived"] == counts["running"] + counts["failed"] + counts["pending"]
    assert counts["pending"] == 0
    assert len(replay.scheduler.queue) == 0  # a failed pod is deleted, never requeued
    assert_no_overcommit(replay.scheduler)
    m = replay.metrics
    assert (m.used_cpu <= m.cap_cpu).all()
    assert (m.used_mem <= m.cap_mem).all()
    assert (m.used_gpu <= m.cap_gpu).all()


def test_pods_are_conserved_and_nothing_is_overcommitted_after_every_pod() -> None:
    calls: list[int] = []

    def observe(replay: ArrivalReplay) -> None:
        check_invariants(replay)
        calls.append(1)

    result = ArrivalReplay(small(), seed=1, observer=observe).run()
    s: dict[str, Any] = dict(result.summary)
    assert len(calls) == s["pods_total"] == len(result.pods) == len(result.series)
    assert s["pods_total"] == s["pods_placed"] + s["pods_failed"]
    assert s["pods_failed"] > 0  # tuned to 130% of GPU capacity: some must fail
    assert result.series["arrived_gpu_pct"].is_monotonic_increasing
    assert s["arrived_gpu_pct_final"] == pytest.approx(130, abs=1.5)
    failed = result.pods[result.pods["failed"]]
    assert (failed["node"] == "").all() and failed["scheduled_time"].isna().all()
    assert (result.pods["attempts"] == 1).all()


def test_the_same_seed_gives_the_same_replay() -> None:
    a = ArrivalReplay(small(), seed=3).run()
    b = ArrivalReplay(small(), seed=3).run()
    pd.testing.assert_frame_equal(comparable(a.pods), comparable(b.pods))
    pd.testing.assert_frame_equal(a.series, b.series)
    pd.testing.assert_frame_equal(a.node_util, b.node_util)
    c = ArrivalReplay(small(), seed=4).run()
    assert list(c.pods["name"]) != list(a.pods["name"])


def test_an_earlier_replay_is_freed_by_the_next_run() -> None:
    # run() freezes what exists as it starts: an earlier replay's garbage frozen
    # with it was never scanned, and a grid worker ran out of memory.
    first = ArrivalReplay(small(), seed=1)
    first.run()
    gone = weakref.ref(first.scheduler.snapshot)
    del first
    ArrivalReplay(small(), seed=2).run()
    assert gone() is None


def test_a_finished_replay_is_freed_without_the_cyclic_collector() -> None:
    # Cycles (scheduler <-> its client, snapshot <-> its nodes, framework <-> its
    # handle) cost each openb cell of a grid worker a full collection.
    replay = ArrivalReplay(small(), seed=1)
    replay.run()
    gone = weakref.ref(replay.scheduler), weakref.ref(replay.scheduler.snapshot)
    with collector_off():
        del replay
        assert [ref() for ref in gone] == [None, None]


def test_a_pod_that_does_not_fit_is_dropped_after_one_attempt() -> None:
    wl = workload(nodes([4000]), pods([2000, 3000, 2000]))
    result = ArrivalReplay(wl, tune=0, shuffle=False).run()
    assert result.pods[["name", "failed", "node"]].values.tolist() == [
        ["p0", False, "n0"],
        ["p1", True, ""],
        ["p2", False, "n0"],
    ]
    assert result.series["cpu_alloc_pct"].tolist() == [50.0, 50.0, 100.0]


def test_largest_first_places_the_same_pods_by_decreasing_request() -> None:
    wl = workload(nodes([4000]), pods([2000, 3000, 2000]))
    result = ArrivalReplay(wl, tune=0, shuffle=False, largest_first=True).run()
    assert result.pods[["name", "failed", "node"]].values.tolist() == [
        ["p1", False, "n0"],  # the biggest request goes first, then ties in arrival order
        ["p0", True, ""],
        ["p2", True, ""],
    ]
    arrival = ArrivalReplay(small(), seed=2).run()
    offline = ArrivalReplay(small(), seed=2, largest_first=True).run()
    assert sorted(offline.pods["name"]) == sorted(arrival.pods["name"])  # same tuned pods
    gpu = (offline.pods["num_gpu"] * offline.pods["gpu_milli"]).to_numpy()
    assert (np.diff(gpu) <= 0).all() and gpu[0] > gpu[-1]


@pytest.mark.parametrize(
    ("extended", "placed"), [(True, 2), (False, 3)], ids=["converted", "annotations-only"]
)
def test_gpu_shares_become_an_extended_resource_for_the_default_profile(
    extended: bool, placed: int
) -> None:
    wl = workload(nodes([32_000], gpus=[1]), pods([1000] * 3, num_gpu=[1] * 3, gpu_milli=[500] * 3))
    conversion = PodConversion(gpu_as_extended_resource=extended)
    result = ArrivalReplay(wl, tune=0, shuffle=False, conversion=conversion).run()
    assert result.summary["pods_placed"] == placed
    # Without the request NodeResourcesFit sees no GPU: 1.5 GPUs end up on one GPU.
    assert result.summary["gpu_alloc_pct_final"] == pytest.approx(50.0 * placed)


def test_gpu_model_constraints_become_node_affinity() -> None:
    wl = workload(
        nodes([8000, 8000], gpus=[1, 1], models=["T4", "V100M32"]),
        pods([1000] * 2, num_gpu=[1, 1], gpu_milli=[300, 300], gpu_specs=["V100M32", "T4"]),
    )
    result = ArrivalReplay(wl, tune=0, shuffle=False).run()
    assert result.pods["node"].tolist() == ["n1", "n0"]


def test_fgd_node_names_sort_then_prefix_with_a_seeded_permutation() -> None:
    names = np.asarray(["b", "a", "c"], dtype=object)
    order, renamed = fgd_node_names(names, seed=9)
    assert order.tolist() == [1, 0, 2]
    assert sorted(r.split("-", 1)[0] for r in renamed) == ["0000", "0001", "0002"]
    assert [r.split("-", 1)[1] for r in renamed] == ["a", "b", "c"]
    assert fgd_node_names(names, seed=9)[1] == renamed


def test_smallest_name_tie_break_follows_the_seeded_node_order() -> None:
    wl = workload(nodes([8000] * 6, gpus=[1] * 6), pods([1000], num_gpu=[1], gpu_milli=[500]))
    for seed in (1, 2):
        result = ArrivalReplay(wl, tune=0, tie_break="smallest-name", node_order_seed=seed).run()
        # Six empty, equal nodes tie: the pod goes to the one whose prefix is 0000.
        assert result.pods["node"].iloc[0].startswith("0000-")
        assert set(result.node_util["node"].str.split("-").str[0]) == {f"{i:04d}" for i in range(6)}


def test_openb_subset_curves(openb_dir: Path) -> None:
    full = load_openb(openb_dir)
    wl = Workload("openb-subset", full.nodes.subset(slice(0, 120)), full.pods.subset(slice(0, 700)))
    result = ArrivalReplay(wl, seed=42, tie_break="smallest-name").run()
    curve = discrete_by_arrived(result.series)
    assert curve.index[0] == 0 and curve.index[-1] == 130
    assert (curve["gpu_alloc_pct"] <= 100).all()
    assert float(result.summary["gpu_alloc_pct_final"]) > 80
    assert result.meta["tune_direction"] == "up"


@pytest.mark.parametrize(
    ("pct", "used"), [(100, 100), (None, 0), (30, 30)], ids=["paper", "config", "explicit"]
)
def test_percentage_of_nodes_to_score_is_the_papers_unless_told(pct: int | None, used: int) -> None:
    wl = workload(nodes([4000]), pods([1000]))
    result = ArrivalReplay(wl, tune=0, percentage_of_nodes_to_score=pct).run()
    assert result.meta["percentage_of_nodes_to_score"] == used
