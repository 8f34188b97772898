"""PodTopologySpread against kube-scheduler's documented behaviour (per-node and vectorised agree)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ksched.api import Node, Pod
from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins.podtopologyspread import plugin as pts
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.framework.status import Code
from ksched.testing import node_json, pod_json

U, R = int(Code.UNSCHEDULABLE), int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
ZONE = "topology.kubernetes.io/zone"


def _spread(
    when: str = "DoNotSchedule", key: str = ZONE, skew: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "maxSkew": skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"app": "web"}},
        **extra,
    }


def _cluster(zones: list[str | None], bound: dict[int, int]) -> ClusterSnapshot:
    snap = ClusterSnapshot()
    for i, z in enumerate(zones):
        n = node_json(f"n{i}", zone=z or "")
        if z is None:
            del n["metadata"]["labels"][ZONE]
        snap.add_node(Node.model_validate(n))
    k = 0
    for node, count in bound.items():
        for _ in range(count):
            p = PodInfo.from_pod(
                Pod.model_validate(pod_json(f"w{k}", labels={"app": "web"}, node_name=f"n{node}"))
            )
            snap.add_pod(p, f"n{node}")
            k += 1
    return snap


def _filter(snap: ClusterSnapshot, pod: dict[str, Any]) -> list[int]:
    plugin = pts.new(None, None)
    info = PodInfo.from_pod(Pod.model_validate(pod))
    state = CycleState()
    _, status = plugin.pre_filter(state, info, snap.all_nodes())
    if status is not None:
        assert status.code == Code.SKIP
        return [0] * snap.n
    scalar = [
        0 if (s := plugin.filter(state, info, n)) is None else int(s.code) for n in snap.nodes
    ]
    assert scalar == plugin.filter_nodes(state, info, snap.all_nodes()).tolist()
    return scalar


WEB = {"labels": {"app": "web"}}


@pytest.mark.parametrize(
    ("zones", "bound", "constraint", "expected"),
    [
        pytest.param(["a", "a", "b"], {0: 1}, _spread(), [U, U, 0], id="only-the-lighter-zone"),
        pytest.param(["a", "b"], {0: 1, 1: 1}, _spread(), [0, 0], id="balanced-both-pass"),
        pytest.param(["a", "b"], {0: 2}, _spread(skew=2), [U, 0], id="max-skew-2"),
        pytest.param(["a", None], {}, _spread(), [0, R], id="missing-label-unresolvable"),
        pytest.param(
            ["a", "b"],
            {0: 1, 1: 1},
            _spread(minDomains=3),
            [U, U],
            id="min-domains-global-min-zero",
        ),
        pytest.param(
            ["a", "b"],
            {0: 1},
            _spread(when="ScheduleAnyway"),
            [0, 0],
            id="schedule-anyway-never-filters",
        ),
    ],
)
def test_filter(
    zones: list[str | None], bound: dict[int, int], constraint: dict[str, Any], expected: list[int]
) -> None:
    pod = pod_json("new", **WEB, topologySpreadConstraints=[constraint])
    assert _filter(_cluster(zones, bound), pod) == expected


def test_pod_not_matching_its_own_selector_adds_no_self_count() -> None:
    pod = pod_json("other", labels={"app": "db"}, topologySpreadConstraints=[_spread()])
    assert _filter(_cluster(["a", "b"], {0: 1}), pod) == [0, 0]


def test_match_label_keys_narrow_the_selector() -> None:
    snap = _cluster(["a", "b"], {0: 2})  # bound pods have no "version" label
    pod = pod_json(
        "v2",
        labels={"app": "web", "version": "2"},
        topologySpreadConstraints=[_spread(matchLabelKeys=["version"])],
    )
    assert _filter(snap, pod) == [0, 0]


def test_node_affinity_policy_honor_ignores_excluded_nodes() -> None:
    snap = _cluster(["a", "b"], {1: 3})
    spec = {"nodeSelector": {"kubernetes.io/hostname": "n0"}}
    honour = pod_json("p", **WEB, topologySpreadConstraints=[_spread()], **spec)
    ignore = pod_json(
        "q", **WEB, topologySpreadConstraints=[_spread(nodeAffinityPolicy="Ignore")], **spec
    )
    assert _filter(snap, honour)[0] == 0  # zone b does not count: n1 fails the selector
    assert _filter(snap, ignore)[0] == 0  # zone a has 0, min over {a:0, b:3} is 0: 0+1-0 <= 1
    assert _filter(_cluster(["a", "b"], {0: 1}), ignore)[0] == U


def test_add_and_remove_pod_match_a_fresh_prefilter() -> None:
    snap = _cluster(["a", "a", "b"], {0: 1, 2: 1})
    plugin = pts.new(None, None)
    pod = PodInfo.from_pod(
        Pod.model_validate(pod_json("new", **WEB, topologySpreadConstraints=[_spread()]))
    )
    victim = next(iter(snap.nodes[0].pods.values()))
    state = CycleState()
    plugin.pre_filter(state, pod, snap.all_nodes())
    clone = state.clone()
    plugin.remove_pod(clone, pod, victim, snap.nodes[0])
    snap.remove_pod(victim)
    fresh = CycleState()
    plugin.pre_filter(fresh, pod, snap.all_nodes())
    assert (
        clone.read("PreFilterPodTopologySpread").domain_counts[0].tolist()
        == fresh.read("PreFilterPodTopologySpread").domain_counts[0].tolist()
    )
    plugin.add_pod(clone, pod, victim, snap.nodes[0])
    assert (
        clone.read("PreFilterPodTopologySpread").domain_counts[0].tolist()
        == state.read("PreFilterPodTopologySpread").domain_counts[0].tolist()
    )


def test_score_prefers_the_emptier_domain() -> None:
    snap = _cluster(["a", "a", "b", "c"], {0: 2, 2: 1})
    plugin = pts.new(None, None)
    pod = PodInfo.from_pod(
        Pod.model_validate(
            pod_json("new", **WEB, topologySpreadConstraints=[_spread("ScheduleAnyway")])
        )
    )
    state = CycleState()
    nodes = snap.all_nodes()
    assert plugin.pre_score(state, pod, nodes) is None
    scalar = np.array([plugin.score(state, pod, n) for n in snap.nodes], dtype=np.int64)
    vector = plugin.score_nodes(state, pod, nodes)
    assert scalar.tolist() == vector.tolist()
    plugin.normalize_score(state, pod, vector)
    assert vector[3] == 100 and vector[2] > vector[0] and vector[0] == vector[1]
