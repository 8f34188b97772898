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
