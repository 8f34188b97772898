"""Invariants of the default profile on random clusters and workloads (hypothesis).

After the scheduler has run (advancing the SimClock through backoffs a few
times), whatever it decided must hold up when checked from first principles:

- no node is over-committed: the bound pods' own requests, recomputed from
  their specs, and their count fit the node's allocatable;
- every bound pod passes every Filter plugin of the profile on its node,
  re-checked with that pod taken off the node;
- pods are conserved: each is bound, or pending in the queue with a failure
  message, or was evicted by preemption (deleted), and exactly one of these.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from _plugins import node, pod, scheduler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksched.api import node_allocatable, pod_requests
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.snapshot import NodeSet
from ksched.framework.status import Code
from ksched.scheduler import Scheduler

TAINTS = [
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "spot", "value": "true", "effect": "NoExecute"},
    {"key": "flaky", "effect": "PreferNoSchedule"},
]
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "spot", "operator": "Exists"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
    {"operator": "Exists"},
]
ROUNDS = 4


@dataclass(frozen=True)
class Workload:
    """Nodes, then pods in waves: later waves find the cluster full and may preempt."""

    nodes: list[dict[str, Any]]
    waves: list[list[dict[str, Any]]]


@st.composite
def node_specs(draw: st.DrawFn, index: int) -> dict[str, Any]:
    return {
        "name": f"node-{index}",
        "cpu": draw(st.sampled_from(["500m", "1", "2", "4"])),
        "memory": draw(st.sampled_from(["1Gi", "2Gi", "4Gi"])),
        "pods": draw(st.integers(1, 6)),
        "taints": draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique_by=lambda t: t["key"]))
        or None,
        "labels": {"disk": draw(st.sampled_from(["ssd", "hdd"]))},
        "unschedulable": draw(st.sampled_from([False, False, False, True])),
    }


@st.composite
def pod_specs(draw: st.DrawFn, index: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": f"pod-{index}",
        "cpu": draw(st.sampled_from([None, "100m", "500m", "1", "2"])),
        "memory": draw(st.sampled_from([None, "128Mi", "512Mi", "1Gi", "3Gi"])),
        "host_port": draw(st.sampled_from([None, None, 80, 443])),
        "priority": draw(st.sampled_from([None, 0, 10, 100])),
    }
    tolerations = draw(st.lists(st.sampled_from(TOLERATIONS), max_size=2, unique_by=str))
    if tolerations:
        spec["tolerations"] = tolerations
    if draw(st.booleans()):
        spec["nodeSelector"] = {"disk": draw(st.sampled_from(["ssd", "hdd"]))}
    return spec


@st.composite
def workloads(draw: st.DrawFn) -> Workload:
    n_nodes = draw(st.integers(1, 8))
    sizes = draw(st.lists(st.integers(0, 12), min_size=1, max_size=3))
    starts = [sum(sizes[:w]) for w in range(len(sizes))]
    return Workload(
        [draw(node_specs(i)) for i in range(n_nodes)],
        [[draw(pod_specs(s + i)) for i in range(n)] for s, n in zip(starts, sizes, strict=True)],
    )


def run_to_quiet(workload: Workload, seed: int) -> tuple[Scheduler, set[str]]:
    clock = SimClock()
    sched = scheduler(clock=clock, seed=seed)
    sched.add_nodes(node(**spec) for spec in workload.nodes)
    keys: set[str] = set()
    for wave in workload.waves:
        keys |= {sched.add_pod(pod(**spec)).key for spec in wave}
        sched.run()
        for _ in range(ROUNDS):
            wakeup = sched.next_wakeup()
            if wakeup is None:
                break
            clock.set(max(clock.now(), wakeup))
            sched.run()
    return sched, keys


def assert_no_overcommit(sched: Scheduler) -> None:
    used: dict[str, Counter[str]] = {}
    for key, node_name in sched.bound.items():
        requests = Counter(pod_requests(sched.pods[key].pod))
        requests["pods"] += 1
        used.setdefault(node_name, Counter()).update(requests)
    for node_name, amounts in used.items():
        allocatable = node_allocatable(sched.snapshot[node_name].node)
        for resource, amount in amounts.items():
            assert amount <= allocatable.get(resource, 0), (node_name, resource, amount)


def assert_bound_pods_pass_every_filter(sched: Scheduler) -> None:
    fwk = sched.profiles["default-scheduler"]
    for key, node_name in sched.bound.items():
        info = sched.pods[key]
        sched.snapshot.remove_pod(info)
        try:
            state = CycleState()
            _, status = fwk.run_pre_filter(state, info)
            assert status is None, (key, node_name, status)
            node_info = sched.snapshot[node_name]
            one = NodeSet(sched.snapshot, np.array([node_info.index], dtype=np.intp))
            for plugin in fwk.filters:
                if plugin.name in state.skip_filter_plugins:
                    continue
                if hasattr(plugin, "filter"):
                    verdict = plugin.filter(state, info, node_info)
                    assert verdict is None or verdict.code == Code.SUCCESS, (
                        key,
                        node_name,
                        plugin.name,
                        verdict,
                    )
                if hasattr(plugin, "filter_nodes"):
                    fits = np.asarray(plugin.filter_nodes(state, info, one))
                    ok = bool(fits[0]) if fits.dtype == np.bool_ else int(fits[0]) == 0
                    assert ok, (key, node_name, plugin.name, "filter_nodes")
            assert fwk.run_filters_on_node(state, info, node_info) is None
        finally:
            sched.snapshot.add_pod(info, node_name)


def assert_pods_conserved(sched: Scheduler, keys: set[str]) -> None:
    evicted = set(sched.client.evicted)  # type: ignore[attr-defined]
    assert sched.queue.in_flight() == []
    assert len(sched.waiting_pods) == 0
    for key in keys:
        bound = key in sched.bound
        pending = key in sched.queue
        gone = key in evicted
        assert bound + pending + gone == 1, (key, bound, pending, gone)
        if bound:
            assert sched.snapshot.node_of(key) == sched.bound[key]
            assert sched.pods[key].node_name == sched.bound[key]
            assert key not in sched.failures
        if pending:
            assert sched.snapshot.node_of(key) is None
            assert sched.failures.get(key), key
        if gone:
            assert key not in sched.pods
            assert sched.snapshot.node_of(key) is None
    assert set(sched.bound) <= keys


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(workload=workloads(), seed=st.integers(0, 2**16))
def test_default_profile_invariants(workload: Workload, seed: int) -> None:
    sched, keys = run_to_quiet(workload, seed)

    assert_no_overcommit(sched)
    assert_bound_pods_pass_every_filter(sched)
    assert_pods_conserved(sched, keys)
