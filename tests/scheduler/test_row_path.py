"""Patching a cached pod class on a few changed nodes: row forms and vectorised forms agree.

``Framework`` re-evaluates the rows changed since a class was last seen with
the plugins' ``filter_row``/``score_row`` when they are few
(``ROW_PATH_MAX_ROWS``), else with ``filter_nodes``/``score_nodes``.  The same
workload is run both ways (and without the cache at all, in
``test_equivalence_cache``); every cycle must end the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from _plugins import node, pod, profile, scheduler

from ksched.framework import runtime
from ksched.framework.cycle_state import CycleState
from ksched.scheduler import Scheduler

TAINTS = [
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "flaky", "effect": "PreferNoSchedule"},
]
TEMPLATES: list[dict[str, Any]] = [
    {"cpu": "300m", "memory": "1Gi", "labels": {"app": "web"}},
    {"cpu": "1", "memory": "3Gi", "labels": {"app": "db"}, "priority": 10},
    {"cpu": "100m", "memory": None, "host_port": 8080},
    {
        "cpu": "700m",
        "memory": "512Mi",
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Exists"}],
    },
]
# Weights other than 1 on the plugins without NormalizeScore, whose sums the row path keeps.
WEIGHTED = profile(
    """
    score:
      disabled:
      - name: '*'
      enabled:
      - name: TaintToleration
        weight: 3
      - name: NodeResourcesFit
        weight: 3
      - name: NodeResourcesBalancedAllocation
        weight: 2
      - name: ImageLocality
        weight: 5
    """
)


# Pod-reading filters first: a node-only filter after them was never asked on rows they failed.
REORDERED = profile(
    """
    filter:
      disabled:
      - name: '*'
      enabled:
      - name: NodeResourcesFit
      - name: NodePorts
      - name: TaintToleration
      - name: NodeAffinity
      - name: NodeUnschedulable
      - name: NodeName
    """
)


def _run(
    seed: int, config: str, row_path_max: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[Scheduler, list[Any]]:
    monkeypatch.setattr(runtime, "ROW_PATH_MAX_ROWS", row_path_max)
    sched = scheduler(config, seed=seed)
    sched.add_nodes(
        node(
            f"node-{i:02d}",
            cpu=["2", "4"][i % 2],
            memory=["4Gi", "8Gi"][i % 2],
            labels={"disk": "ssd" if i % 3 else "hdd"},
            taints=[TAINTS[i % 2]] if i % 4 == 0 else None,
            images=[("registry.k8s.io/pause:3.10", 300 * 2**20)] if i % 3 == 0 else None,
        )
        for i in range(24)
    )
    calls = {"filter_row": 0, "score_row": 0}
    fwk = sched.profiles["default-scheduler"]
    for plugin in fwk.plugins.values():
        for method in calls:
            if hasattr(plugin, method):
                original = getattr(plugin, method)

                def counted(*args: Any, _m: str = method, _f: Any = original) -> Any:
                    calls[_m] += 1
                    return _f(*args)

                setattr(plugin, method, counted)
    outcomes = []
    for round_ in range(3):
        for k, template in enumerate(TEMPLATES):
            for j in range(12):
                sched.add_pod(pod(f"pod-{round_}-{k}-{j}", **template))
        outcomes += [(r.pod.key, r.node, r.scheduled, r.message) for r in sched.run()]
        for key in sorted(sched.bound)[::5]:
            sched.delete_pod(key)
    return sched, [outcomes, calls]


@pytest.mark.parametrize(
    ("seed", "config"),
    [(0, ""), (5, ""), (1, WEIGHTED)],
    ids=["default-seed-0", "default-seed-5", "weighted-seed-1"],
)
def test_row_forms_decide_as_vectorised_forms(
    seed: int, config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, (row_outcomes, row_calls) = _run(seed, config, runtime.ROW_PATH_MAX_ROWS, monkeypatch)
    vector, (vector_outcomes, vector_calls) = _run(seed, config, 0, monkeypatch)

    assert row_outcomes == vector_outcomes
    assert any(scheduled for _, _, scheduled, _ in row_outcomes)
    assert any(not scheduled for _, _, scheduled, _ in row_outcomes)
    assert list(rows.bound.items()) == list(vector.bound.items())
    assert rows.next_start_node_index == vector.next_start_node_index
    assert row_calls["filter_row"] > 0 and row_calls["score_row"] > 0
    assert vector_calls == {"filter_row": 0, "score_row": 0}


def _row_methods(plugin: Any) -> list[str]:
    return [m for m in ("filter_row", "score_row") if hasattr(plugin, m)]


def _node_object_only(sched: Scheduler) -> list[Any]:
    fwk = sched.profiles["default-scheduler"]
    return [p for p in fwk.plugins.values() if getattr(p, "node_object_only", False)]


def test_node_object_only_answers_do_not_move_with_the_pods_on_a_node() -> None:
    """The claim the row path relies on, checked for every in-tree plugin that makes it."""
    sched = scheduler(seed=2)
    sched.add_nodes(
        node(
            f"node-{i}",
            labels={"disk": "ssd" if i % 2 else "hdd"},
            taints=[TAINTS[i % 2]],
            images=[("registry.k8s.io/pause:3.10", 300 * 2**20)] if i % 3 == 0 else None,
        )
        for i in range(6)
    )
    fwk = sched.profiles["default-scheduler"]
    only = _node_object_only(sched)
    assert {p.name for p in only} >= {"NodeName", "TaintToleration", "ImageLocality"}
    pods = [sched.add_pod(pod(f"probe-{k}", **t)) for k, t in enumerate(TEMPLATES)]

    def answers() -> list[Any]:
        out = []
        for probe in pods:
            state = CycleState()
            fwk.run_pre_filter(state, probe)
            for info in sched.snapshot.nodes:
                out += [getattr(p, m)(state, probe, info) for p in only for m in _row_methods(p)]
        return out

    before = answers()
    for i, info in enumerate(sched.snapshot.nodes):
        sched.add_pod(pod(f"bound-{i}", cpu="1", host_port=8080, node_name=info.name))
    assert answers() == before


def test_changed_rows_are_not_asked_of_node_object_only_plugins() -> None:
    """Replicas of one template change only the pods of a node between cycles."""
    sched = scheduler(seed=3)
    sched.add_nodes(node(f"node-{i}", taints=[TAINTS[1]] if i % 2 else None) for i in range(8))
    asked: dict[str, int] = {}
    for plugin in sched.profiles["default-scheduler"].plugins.values():
        for method in _row_methods(plugin):
            original = getattr(plugin, method)

            def counted(*args: Any, _name: str = plugin.name, _f: Any = original) -> Any:
                asked[_name] = asked.get(_name, 0) + 1
                return _f(*args)

            setattr(plugin, method, counted)
    for j in range(10):
        sched.add_pod(pod(f"replica-{j}", cpu="100m", memory="100Mi"))
    assert all(r.scheduled for r in sched.run())
    # The default profile's other row plugins read only the node object, or skip these pods.
    assert set(asked) == {"NodeResourcesFit", "NodeResourcesBalancedAllocation"}


@pytest.mark.parametrize("cache", [True, False], ids=["cached", "uncached"])
def test_a_node_only_filter_after_one_reading_pods_is_not_trusted(cache: bool) -> None:
    """A row failed a node-only filter the pod-reading one before it passed; then pods filled
    the node. The pod-reading filter must now be the one named, as on a fresh evaluation."""
    sched = scheduler(REORDERED, equivalence_cache=cache)
    sched.add_nodes([node("node-a", cpu="2", taints=[TAINTS[0]]), node("node-b", cpu="1")])
    sched.add_pod(pod("first", cpu="600m"))
    assert [r.node for r in sched.run()] == ["node-b"]
    sched.add_pod(pod("filler", cpu="1800m", node_name="node-a"))
    sched.add_pod(pod("second", cpu="600m"))
    (result,) = sched.run()
    assert not result.scheduled
    assert result.message.startswith("0/2 nodes are available: 2 Insufficient cpu.")
