"""scheduler_perf's SchedulingBasic shape, in process, default profile.

Upstream (test/integration/scheduler_perf/config/performance-config.yaml):
nodes of 4 CPU / 32 GiB / 110 pods, 1,000 initial pods, then measured pods
of 100m CPU / 500 MiB.  Its regression floor at 5,000 nodes is 680 pods/s;
ksched's target is 10,000 pods/s.  pods/s is put in ``extra_info``.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from ksched.api import Pod
from ksched.cli.schedule_cmd import generated_cluster
from ksched.scheduler import Scheduler
from ksched.testing.scenarios import pod_json

INITIAL_PODS = 1_000
MEASURED_PODS = 10_000


def _prepared(n_nodes: int) -> tuple[tuple[Scheduler, list[Pod]], dict[str, Any]]:
    nodes, initial = generated_cluster(n_nodes, INITIAL_PODS)
    sched = Scheduler(explain_messages=False)
    sched.add_nodes(nodes)
    sched.add_pods(initial)
    sched.run()
    measured = [
        Pod.model_validate(pod_json(f"measured-{i}", cpu="100m", memory="500Mi"))
        for i in range(MEASURED_PODS)
    ]
    # Long-lived API objects need no cyclic GC scans while the scheduler runs.
    gc.collect()
    gc.freeze()
    return (sched, measured), {}


def _schedule(sched: Scheduler, pods: list[Pod]) -> None:
    sched.add_pods(pods)
    sched.run()
    assert sched.metrics.attempts["scheduled"] == INITIAL_PODS + MEASURED_PODS


@pytest.mark.parametrize("n_nodes", [5_000, 15_000], ids=["5000-nodes", "15000-nodes"])
def test_scheduling_basic(benchmark: Any, n_nodes: int) -> None:
    benchmark.pedantic(_schedule, setup=lambda: _prepared(n_nodes), rounds=3, iterations=1)
    gc.unfreeze()
    seconds = benchmark.stats.stats.min
    benchmark.extra_info["pods_per_second"] = round(MEASURED_PODS / seconds, 1)
    benchmark.extra_info["nodes"] = n_nodes
