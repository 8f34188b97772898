"""The cluster client of an in-process scheduler: writes go straight to its own state."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from ksched.api import PodDisruptionBudget
from ksched.framework.pod_info import PodInfo

if TYPE_CHECKING:
    from ksched.scheduler.scheduler import Scheduler


class LocalClient:
    """Binding sets ``spec.nodeName``; eviction deletes the pod, as an API server would."""

    def __init__(self, scheduler: Scheduler) -> None:
        # The scheduler owns this client; a strong reference back would make a
        # cycle that only the cyclic collector frees (slowly, for a big cluster).
        self._scheduler = weakref.proxy(scheduler)
        self.pdb_list: list[PodDisruptionBudget] = []
        self.evicted: list[str] = []

    def bind(self, pod: PodInfo, node_name: str) -> None:
        if node_name not in self._scheduler.snapshot.index:
            raise LookupError(f'node "{node_name}" not found')
        pod.pod.spec.node_name = node_name

    def delete_pod(self, pod: PodInfo, reason: str) -> None:
        self.evicted.append(pod.key)
        self._scheduler.delete_pod(pod.key)

    def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        pod.pod.status.nominated_node_name = node_name or None

    def pdbs(self) -> list[PodDisruptionBudget]:
        return self.pdb_list
