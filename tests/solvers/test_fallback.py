"""SolverPreemption: the cheapest PDB-respecting eviction plan, carried out through the scheduler."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched.api import PodDisruptionBudget
from ksched.config import PluginSpec, load_config
from ksched.framework.clock import SimClock
from ksched.framework.plugins.registry import default_registry
from ksched.scheduler import Scheduler
from ksched.scheduler.local_client import LocalClient
from ksched.solvers import fallback
from ksched.testing.builders import make_node, make_pod

CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
    plugins:
      postFilter:
        disabled:
          - name: DefaultPreemption
        enabled:
          - name: SolverPreemption
    pluginConfig:
      - name: SolverPreemption
        args:
          timeLimit: 5
"""


def _pdb(match: dict[str, str], allowed: int) -> PodDisruptionBudget:
    return PodDisruptionBudget.model_validate(
        {
            "metadata": {"name": "pdb", "namespace": "default"},
            "spec": {"selector": {"matchLabels": match}},
            "status": {"disruptionsAllowed": allowed},
        }
    )


def _scheduler(tmp_path: Path, pdbs: list[PodDisruptionBudget]) -> Scheduler:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    registry = default_registry(entry_points=False)
    registry.register(PluginSpec.from_module(fallback))
    sched = Scheduler(load_config(path), registry=registry)
    assert isinstance(sched.client, LocalClient)
    sched.client.pdb_list.extend(pdbs)
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    sched.add_nodes([make_node("n1", allocatable=alloc), make_node("n2", allocatable=alloc)])
    running = [
        ("a1", "n1", "2", 1, "a"),
        ("a2", "n1", "2", 1, "a"),
        ("mid", "n2", "3", 5, "b"),
        ("b1", "n2", "1", 1, "b"),
    ]
    for name, node, cpu, prio, app in running:
        sched.add_pod(
            make_pod(
                name, node_name=node, requests={"cpu": cpu}, priority=prio, labels={"app": app}
            )
        )
    return sched


CASES = [
    # Two priority-1 pods on n1 (cost 2) beat the priority-5 pod on n2 (cost 5).
    ("cheapest", [], "n1", ["default/a1", "default/a2"], 2),
    # A PDB protecting app=a leaves n2's priority-5 pod as the only way.
    ("pdb-forces-n2", [_pdb({"app": "a"}, 0)], "n2", ["default/mid"], 5),
    # One disruption allowed on app=a is not enough on n1 (it needs both).
    ("pdb-one-allowed", [_pdb({"app": "a"}, 1)], "n2", ["default/mid"], 5),
]


@pytest.mark.parametrize(
    ("pdbs", "node", "victims", "cost"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan_is_cheapest_and_respects_pdbs(
    tmp_path: Path, pdbs: list[PodDisruptionBudget], node: str, victims: list[str], cost: int
) -> None:
    sched = _scheduler(tmp_path, pdbs)
    sched.add_pod(make_pod("urgent", requests={"cpu": "3"}, priority=10))
    result = sched.schedule_one()
    assert result is not None and not result.scheduled
    assert result.nominated_node == node
    plugin = next(iter(sched.profiles.values())).post_filter[0]
    assert isinstance(plugin, fallback.SolverPreemption)
    plan = plugin.last_plan
    assert plan is not None and plan.optimal
    assert (plan.node, sorted(plan.victims), plan.cost) == (node, victims, cost)
    assert isinstance(sched.client, LocalClient)
    assert sorted(sched.client.evicted) == victims
    # The victims are gone: after its backoff the pod binds to its nominated node.
    clock = sched.clock
    assert isinstance(clock, SimClock)
    retry = sched.run()
    for _ in range(5):
        wake = sched.next_wakeup()
        if wake is None:
            break
        clock.set(max(wake, clock.now()))
        retry += sched.run()
    assert [(r.pod.key, r.node) for r in retry if r.scheduled] == [("default/urgent", node)]


def test_no_plan_when_nothing_is_lower_priority(tmp_path: Path) -> None:
    sched = _scheduler(tmp_path, [])
    sched.add_pod(make_pod("meek", requests={"cpu": "3"}, priority=0))
    result = sched.schedule_one()
    assert result is not None and not result.scheduled and not result.nominated_node
    assert isinstance(sched.client, LocalClient)
    assert sched.client.evicted == []


def test_args_are_validated() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        fallback.SolverPreemptionArgs(timeLimit=0)
