"""Time-based replay: arrivals, departures, kube-scheduler retries, node events, invariants."""

from __future__ import annotations

import gc
import math
import weakref
from typing import Any

import _simdata
import pandas as pd
import pytest
from _simdata import assert_no_overcommit, comparable, nodes, pods, workload

from ksched.sim import NodeEvent, ReplayResult, TimeReplay, time_replay
from ksched.traces import synthetic

FULL = 4000  # a pod of FULL millicores fills a default test node


def row(result: ReplayResult, name: str) -> dict[str, Any]:
    return dict(result.pods.set_index("name").loc[name])


def test_a_pod_waits_in_the_queue_until_another_leaves() -> None:
    wl = workload(nodes([FULL]), pods([FULL, FULL], created=[0, 1], duration=[10, 5]))
    result = TimeReplay(wl).run()
    first, second = row(result, "p0"), row(result, "p1")
    assert (first["scheduled_time"], first["finish_time"]) == (0, 10)
    # Rejected at t=1, parked as unschedulable; p0's deletion at t=10 wakes it.
    assert (second["scheduled_time"], second["finish_time"]) == (10, 15)
    assert second["attempts"] == 2
    assert second["queue_delay_s"] == 9
    s = result.summary
    assert (s["queue_delay_p50_s"], s["jct_mean_s"], s["makespan_s"]) == (4.5, 12.0, 15)
    assert s["cpu_alloc_pct_mean"] == 100.0  # the node is full over the arrivals' span [0, 1]


def test_a_step_whose_cycles_all_fail_adds_no_series_row() -> None:
    wl = workload(nodes([FULL]), pods([FULL, FULL], created=[0, 1], duration=[1000, 5]))
    result = TimeReplay(wl).run()
    # p1 is also retried when the unschedulable pool's 5-minute flush frees it, in vain.
    assert row(result, "p1")["attempts"] == 5
    series = result.series
    assert list(series["time"]) == [0, 1, 1000, 1005]  # not 301, 601, 901
    values = series.drop(columns="time").to_numpy()
    assert not (values[1:] == values[:-1]).all(axis=1).any()


def test_time_compression_divides_every_time() -> None:
    wl = workload(nodes([FULL]), pods([FULL, FULL], created=[100, 101], duration=[10, 5]))
    result = TimeReplay(wl, time_compression=2).run()
    assert row(result, "p1")["scheduled_time"] == 5
    assert row(result, "p1")["finish_time"] == 7.5


def test_an_added_node_wakes_the_waiting_pods() -> None:
    wl = workload(nodes([1000, FULL]), pods([FULL], created=[0], duration=[3]))
    result = TimeReplay(wl, node_events=[NodeEvent(5.0, "add", "n1")]).run()
    assert row(result, "p0")["scheduled_time"] == 5
    assert row(result, "p0")["node"] == "n1"


@pytest.mark.parametrize("resubmit", [True, False], ids=["resubmitted", "failed"])
def test_a_failed_node_evicts_its_pods(resubmit: bool) -> None:
    wl = workload(nodes([FULL, FULL]), pods([FULL], created=[0], duration=[100]))
    result = TimeReplay(
        wl,
        tie_break="smallest-name",
        resubmit_evicted=resubmit,
        node_events=[NodeEvent(10.0, "remove", "n0")],
    ).run()
    pod = row(result, "p0")
    assert pod["evictions"] == 1
    assert result.summary["pods_evicted"] == 1
    if resubmit:
        # Submitted again at once; it restarts on the other node and runs its full duration.
        assert (pod["node"], pod["finish_time"], pod["failed"]) == ("n1", 110, False)
        assert pod["scheduled_time"] == 0  # the first placement
    else:
        assert pod["failed"] and math.isnan(pod["finish_time"])
        assert result.summary["pods_failed"] == 1
    assert result.node_util["node"].iloc[-1] == "n1"  # n0 is gone from the last sample


def test_lifetime_deletion_deletes_pending_pods_too() -> None:
    wl = workload(
        nodes([FULL]), pods([FULL, FULL], created=[0, 1], deleted=[50, 20], duration=[1, 1])
    )
    result = TimeReplay(wl, lifetime="deletion").run()
    assert row(result, "p0")["finish_time"] == 50
    pending_deleted = row(result, "p1")
    assert pending_deleted["failed"] and math.isnan(pending_deleted["scheduled_time"])


def test_a_pod_that_can_never_fit_ends_the_replay_pending() -> None:
    wl = workload(nodes([1000]), pods([FULL, 500], created=[0, 0], duration=[math.nan, 5]))
    result = TimeReplay(wl).run()
    s = result.summary
    assert (s["pods_pending_at_end"], s["pods_placed"]) == (1, 1)
    assert row(result, "p1")["finish_time"] == 5


def test_preempted_pods_are_evicted_and_resubmitted() -> None:
    wl = workload(
        nodes([FULL]),
        pods([FULL, FULL], created=[0, 1], duration=[100, 10], priority=[0, 100]),
    )
    result = TimeReplay(wl).run()
    low, high = row(result, "p0"), row(result, "p1")
    assert low["evictions"] == 1
    assert high["scheduled_time"] >= 1 and high["finish_time"] == high["scheduled_time"] + 10
    assert low["finish_time"] == high["finish_time"] + 100  # restarted after p1 left
    assert result.summary["pods_placed"] == 2


def test_the_horizon_stops_the_replay() -> None:
    wl = synthetic(n_nodes=10, n_pods=200, seed=1)
    horizon = float(wl.pods.creation_time[99] - wl.pods.creation_time[0])
    result = TimeReplay(wl, horizon=horizon).run()
    s = result.summary
    assert s["pods_arrived"] == 99  # arrivals strictly before the horizon
    assert s["end_time_s"] == horizon
    assert (result.series["time"] <= horizon).all()


def test_a_replay_cut_by_its_horizon_is_freed_without_the_cyclic_collector() -> None:
    # The events left past the horizon referred to the replay through its engine.
    wl = synthetic(n_nodes=10, n_pods=200, seed=1)
    replay = TimeReplay(wl, horizon=float(wl.pods.creation_time[99] - wl.pods.creation_time[0]))
    replay.run()
    gone = weakref.ref(replay), weakref.ref(replay.scheduler)
    with _simdata.collector_off():
        del replay
        assert [ref() for ref in gone] == [None, None]


def test_invariants_hold_after_every_event() -> None:
    wl = synthetic(n_nodes=12, n_pods=400, seed=2)
    events = [
        NodeEvent(600.0, "remove", "syn-node-00003"),
        NodeEvent(4000.0, "add", "syn-node-00003"),
    ]
    seen = []

    def check(replay: TimeReplay) -> None:
        c = replay.counts()
        assert c["arrived"] == c["running"] + c["finished"] + c["failed"] + c["pending"]
        sched = replay.scheduler
        assert c["pending"] == len(sched.queue) + len(sched.queue.in_flight())
        assert c["running"] == len(sched.bound)
        assert_no_overcommit(sched)
        m = replay.metrics
        assert (m.used_gpu <= m.cap_gpu).all() and (m.used_cpu <= m.cap_cpu).all()
        assert m.frag_total == pytest.approx(m.fragment_now(), abs=1e-6)
        seen.append(c["arrived"])

    result = TimeReplay(wl, seed=2, node_events=events, observer=check).run()
    assert seen and seen[-1] == 400
    s: dict[str, Any] = dict(result.summary)
    assert s["pods_total"] == s["pods_placed"] + s["pods_failed"] + s["pods_pending_at_end"]
    assert s["pods_evicted"] >= 1  # the removed node held a pod
    assert result.series["time"].is_monotonic_increasing


def test_the_same_seed_gives_the_same_replay() -> None:
    wl = synthetic(n_nodes=8, n_pods=300, seed=3)
    a, b = TimeReplay(wl, seed=5).run(), TimeReplay(wl, seed=5).run()
    pd.testing.assert_frame_equal(comparable(a.pods), comparable(b.pods))
    pd.testing.assert_frame_equal(a.series, b.series)
    pd.testing.assert_frame_equal(a.node_util, b.node_util)


@pytest.mark.parametrize("lifetime", ["duration", "deletion"])
def test_pods_built_in_batches_replay_as_pods_built_on_arrival(
    lifetime: time_replay.Lifetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    wl = synthetic(n_nodes=6, n_pods=300, seed=4)
    horizon = float(wl.pods.creation_time[250] - wl.pods.creation_time[0])
    runs = []
    for batch in (1, 7):
        monkeypatch.setattr(time_replay, "_BUILD_BATCH", batch)
        runs.append(TimeReplay(wl, seed=4, horizon=horizon, lifetime=lifetime).run())
        assert gc.get_freeze_count() == 0  # the replay unfroze what it froze
    (a, b) = runs
    pd.testing.assert_frame_equal(comparable(a.pods), comparable(b.pods))
    pd.testing.assert_frame_equal(a.series, b.series)
    pd.testing.assert_frame_equal(a.node_util, b.node_util)


def test_a_workload_without_times_is_refused() -> None:
    wl = workload(nodes([FULL]), pods([1000]))
    with pytest.raises(ValueError, match="arrival protocol"):
        TimeReplay(wl).run()


def test_the_collector_thresholds_are_restored_even_on_failure() -> None:
    before = gc.get_threshold()
    TimeReplay(synthetic(n_nodes=4, n_pods=20, seed=0)).run()
    assert gc.get_threshold() == before
    with pytest.raises(ValueError, match="arrival protocol"):
        TimeReplay(workload(nodes([FULL]), pods([1000]))).run()
    assert gc.get_threshold() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_compression": 0}, "'time_compression' parameter of TimeReplay must be"),
        ({"horizon": -1}, "'horizon' parameter"),
        ({"lifetime": "forever"}, "'lifetime' parameter"),
        ({"node_events": [NodeEvent(1, "remove", "nope")]}, "'node_events' parameter"),
    ],
    ids=["compression", "horizon", "lifetime", "unknown-node"],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    wl = workload(nodes([FULL]), pods([1000], created=[0]))
    with pytest.raises(ValueError, match=message):
        TimeReplay(wl, **kwargs)  # type: ignore[arg-type]
