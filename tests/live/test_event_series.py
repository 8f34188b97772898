"""Repeated events become one Event with a series, as client-go's events library makes them.

The cache's rules on a fake clock, then ``ApiClusterClient`` writing the
series to a real kube-apiserver, whose validation of events.k8s.io/v1
(series count >= 2, lastObservedTime set) is the one that counts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from live_support import events

from ksched.api import Pod
from ksched.framework.pod_info import PodInfo
from ksched.live.client import ApiClusterClient
from ksched.live.event_series import FINISH_SECONDS, EventSeriesCache
from ksched.live.kube import KubeClient
from ksched.testing.k8s import RealControlPlane


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "metadata": {"name": "p.1", "namespace": "default"},
        "type": "Warning",
        "action": "Scheduling",
        "reason": "FailedScheduling",
        "reportingController": "ksched",
        "reportingInstance": "ksched-host",
        "note": "0/3 nodes are available",
        "regarding": {"kind": "Pod", "name": "p", "uid": "u", "resourceVersion": "7"},
    }
    event.update(changes)
    return event


def test_second_repeat_writes_a_series_and_later_ones_only_count() -> None:
    clock = _Clock()
    cache = EventSeriesCache(clock, lambda: f"t{clock.t:g}")
    first = cache.record(_event())
    assert first is not None and "series" not in first
    clock.t = 1
    second = cache.record(_event(note="another note: not part of the key"))
    assert second is not None
    assert second["series"] == {"count": 2, "lastObservedTime": "t1"}
    assert second["note"] == "0/3 nodes are available"  # the first event's, patched
    assert second["metadata"]["name"] == "p.1"
    for t in (2, 3, 4):
        clock.t = t
        assert cache.record(_event()) is None
    assert len(cache) == 1
    assert [e["series"] for e in cache.open_series()] == [{"count": 5, "lastObservedTime": "t4"}]


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "Preempted"},
        {"type": "Normal"},
        {"action": "Binding"},
        {"reportingInstance": "ksched-other"},
        {"regarding": {"kind": "Pod", "name": "p", "uid": "u", "resourceVersion": "8"}},
        {"related": {"kind": "Node", "name": "n1"}},
    ],
    ids=["reason", "type", "action", "instance", "regarding-rv", "related"],
)
def test_events_differing_in_a_key_field_are_separate(change: dict[str, Any]) -> None:
    cache = EventSeriesCache(_Clock(), str)
    assert cache.record(_event()) is not None
    other = cache.record(_event(**change))
    assert other is not None and "series" not in other
    assert len(cache) == 2


def test_finish_writes_idle_series_once_and_forgets_idle_events() -> None:
    clock = _Clock()
    cache = EventSeriesCache(clock, lambda: f"t{clock.t:g}")
    lone = _event(regarding={"kind": "Pod", "name": "q", "uid": "v"})
    cache.record(lone)
    for _ in range(3):
        cache.record(_event())
    clock.t = FINISH_SECONDS / 2
    cache.record(_event())  # the series is observed again: not idle yet
    clock.t = FINISH_SECONDS + 1
    assert cache.finish() == []  # only the lone event is idle: it leaves, unwritten
    assert len(cache) == 1
    clock.t = 2 * FINISH_SECONDS
    (final,) = cache.finish()
    assert final["series"]["count"] == 4
    assert len(cache) == 0
    again = cache.record(_event())
    assert again is not None and "series" not in again  # a new event after the series ended


def test_returned_events_are_copies() -> None:
    cache = EventSeriesCache(_Clock(), str)
    mine = _event()
    written = cache.record(mine)
    assert written is mine
    before = copy.deepcopy(mine)
    second = cache.record(_event())
    assert second is not None
    second["series"]["count"] = 99
    assert mine == before
    assert cache.open_series()[0]["series"]["count"] == 2


# -- against a real kube-apiserver ------------------------------------------------------


@pytest.fixture
def client(cluster: RealControlPlane) -> Iterator[ApiClusterClient]:
    kube = KubeClient.connect(str(cluster.kubeconfig), qps=-1, burst=0)
    out = ApiClusterClient(kube, pdbs=list, on_bind_failed=lambda *_: None)
    yield out
    out.close()
    kube.close()


def _pod(name: str, namespace: str) -> PodInfo:
    pod = Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
            "spec": {"schedulerName": "ksched"},
        }
    )
    return PodInfo.from_pod(pod)


def _namespace(cluster: RealControlPlane, name: str) -> str:
    cluster.api.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    return name


def _failed(client: ApiClusterClient, pod: PodInfo, times: int) -> None:
    for i in range(times):
        client.event(pod, "Warning", "FailedScheduling", "Scheduling", f"attempt {i}")
    assert client.wait_idle(30)


def test_a_pod_failing_five_times_is_one_event_with_a_series(
    cluster: RealControlPlane, client: ApiClusterClient
) -> None:
    ns = _namespace(cluster, "series-five")
    pod = _pod("p", ns)
    client.event(pod, "Warning", "FailedScheduling", "Scheduling", "attempt 0")
    assert client.wait_idle(30)  # created before the repeats, so the patch finds it
    _failed(client, pod, 4)
    (event,) = events(cluster.api, ns)
    assert event["note"] == "attempt 0"
    assert event["series"]["count"] == 2  # counted on in memory until the series finishes
    assert event["series"]["lastObservedTime"]
    (final,) = client._series.open_series()
    assert final["series"]["count"] == 5
    client._write_event(final)  # what finishSeries writes once the series is idle
    (event,) = events(cluster.api, ns)
    assert event["series"]["count"] == 5


def test_a_series_whose_event_is_gone_is_created_again(
    cluster: RealControlPlane, client: ApiClusterClient
) -> None:
    ns = _namespace(cluster, "series-gone")
    pod = _pod("p", ns)
    _failed(client, pod, 1)
    (first,) = events(cluster.api, ns)
    name = first["metadata"]["name"]
    cluster.api.call("DELETE", f"/apis/events.k8s.io/v1/namespaces/{ns}/events/{name}")
    _failed(client, pod, 1)
    (event,) = events(cluster.api, ns)
    assert event["metadata"]["name"] == first["metadata"]["name"]
    assert event["series"]["count"] == 2


def test_distinct_pods_each_get_their_event(
    cluster: RealControlPlane, client: ApiClusterClient
) -> None:
    ns = _namespace(cluster, "series-distinct")
    for name in ("a", "b", "c"):
        _failed(client, _pod(name, ns), 1)
    assert sorted(e["regarding"]["name"] for e in events(cluster.api, ns)) == ["a", "b", "c"]
    assert all("series" not in e or e["series"] is None for e in events(cluster.api, ns))
