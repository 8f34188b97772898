"""Scheduling-queue throughput on the ``sort_key`` fast path: add, pop and done per pod."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from ksched.api import Pod
from ksched.framework.clock import SimClock
from ksched.framework.pod_info import PodInfo
from ksched.framework.queue import SchedulingQueue, priority_sort_key

N = 100_000


def _pods() -> list[PodInfo]:
    base = PodInfo.from_pod(
        Pod.model_validate(
            {
                "metadata": {"name": "base", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "pause"}]},
            }
        )
    )
    return [
        dataclasses.replace(base, key=f"default/p{i}", name=f"p{i}", priority=i % 7)
        for i in range(N)
    ]


def test_add_pop_done(benchmark: Any) -> None:
    pods = _pods()

    def cycle() -> None:
        q = SchedulingQueue(SimClock(), sort_key=priority_sort_key)
        for pod in pods:
            q.add(pod)
            qpi = q.pop()
            assert qpi is not None
            q.done(qpi.key)

    benchmark.pedantic(cycle, rounds=3, iterations=1)
    benchmark.extra_info.update(
        pods=N, pods_per_second=round(N / benchmark.stats.stats.min), cores=os.cpu_count()
    )
