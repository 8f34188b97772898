"""Failed scheduling attempts on 5,000 full nodes, with their FailedScheduling messages.

A live scheduler with a backlog of pods that fit nowhere retries them on
every cluster event (up to the 10 s backoff); each failure builds the
``0/N nodes are available: ...`` message from every node's reasons, as
upstream's ``FitError.Error``. Default profile without preemption (no
victims exist: every node is empty), 200 pods of 5 CPU on 4-CPU nodes.
``extra_info``: failed attempts per second.
"""

from __future__ import annotations

import os
from typing import Any

from ksched.api import Node, Pod
from ksched.config.load import load_config_text
from ksched.scheduler import Scheduler
from ksched.testing.scenarios import node_json, pod_json

N_NODES = 5_000
PODS = 200
# Nothing to preempt on empty nodes; upstream's DefaultPreemption would say so per node.
NO_PREEMPTION = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins: {postFilter: {disabled: [{name: DefaultPreemption}]}}
"""


def _prepared() -> tuple[tuple[Scheduler, list[Pod]], dict[str, Any]]:
    sched = Scheduler(load_config_text(NO_PREEMPTION))
    sched.add_nodes([Node.model_validate(node_json(f"node-{i}", cpu="4")) for i in range(N_NODES)])
    pods = [Pod.model_validate(pod_json(f"big-{i}", cpu="5")) for i in range(PODS)]
    return (sched, pods), {}


def _fail_all(sched: Scheduler, pods: list[Pod]) -> None:
    sched.add_pods(pods)
    results = sched.run()
    assert sched.metrics.attempts["unschedulable"] == PODS
    assert results[0].message == f"0/{N_NODES} nodes are available: {N_NODES} Insufficient cpu."


def test_unschedulable_backlog(benchmark: Any) -> None:
    benchmark.pedantic(_fail_all, setup=_prepared, rounds=3, iterations=1)
    benchmark.extra_info.update(
        nodes=N_NODES,
        failed_attempts_per_second=round(PODS / benchmark.stats.stats.min, 1),
        cores=os.cpu_count(),
    )
