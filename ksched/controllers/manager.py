"""``ControllerManager``: controllers on shared informers, as kube-controller-manager."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from ksched.controllers.client import DEPLOYMENTS, JOBS, PODS, REPLICASETS, KubeClient
from ksched.controllers.controller import Controller
from ksched.controllers.deployment import DeploymentController
from ksched.controllers.garbage import GarbageCollector, Owned
from ksched.controllers.index import OwnerIndex
from ksched.controllers.informer import Informer
from ksched.controllers.job import JobController
from ksched.controllers.replicaset import ReplicaSetController

__all__ = ["CONTROLLERS", "ControllerManager"]

log = logging.getLogger(__name__)

CONTROLLERS: Final = ("replicaset", "deployment", "job", "garbage-collector")


class ControllerManager:
    """Start ``controllers`` (names from ``CONTROLLERS``) against the server ``client`` talks to."""

    def __init__(
        self,
        client: KubeClient,
        controllers: Sequence[str] = CONTROLLERS,
        *,
        workers: int = 2,
    ) -> None:
        unknown = sorted(set(controllers) - set(CONTROLLERS))
        if unknown:
            raise ValueError(
                f"unknown controller(s) {', '.join(unknown)}; known: {', '.join(CONTROLLERS)}"
            )
        self.client = client
        pods = Informer(client, PODS)
        replicasets = Informer(client, REPLICASETS)
        deployments = Informer(client, DEPLOYMENTS)
        jobs = Informer(client, JOBS)
        pods_by_owner = OwnerIndex(pods)
        rs_by_owner = OwnerIndex(replicasets)
        self.controllers: list[Controller] = []
        wanted = set(controllers)
        needed: set[str] = set()
        if "replicaset" in wanted:
            self.controllers.append(
                ReplicaSetController(client, replicasets, pods, pods_by_owner, workers=workers)
            )
            needed |= {"pods", "replicasets"}
        if "deployment" in wanted:
            self.controllers.append(
                DeploymentController(client, deployments, replicasets, rs_by_owner, workers=workers)
            )
            needed |= {"deployments", "replicasets"}
        if "job" in wanted:
            self.controllers.append(
                JobController(client, jobs, pods, pods_by_owner, workers=workers)
            )
            needed |= {"jobs", "pods"}
        if "garbage-collector" in wanted:
            kinds = {
                "ReplicaSet": Owned(replicasets, PODS, pods_by_owner, pods),
                "Job": Owned(jobs, PODS, pods_by_owner, pods),
                "Deployment": Owned(deployments, REPLICASETS, rs_by_owner, replicasets),
            }
            self.controllers.append(GarbageCollector(client, kinds))
            needed |= {"pods", "replicasets", "deployments", "jobs"}
        by_name = {
            "pods": pods,
            "replicasets": replicasets,
            "deployments": deployments,
            "jobs": jobs,
        }
        self.informers = [by_name[n] for n in sorted(needed)]

    def start(self, sync_timeout: float = 60.0) -> None:
        """Start informers, wait for their first lists, then start the controllers' workers."""
        for informer in self.informers:
            informer.start()
        for informer in self.informers:
            if not informer.wait_synced(sync_timeout):
                raise TimeoutError(
                    f"{informer.resource.plural}: no list from {self.client.host} "
                    f"within {sync_timeout:g} s"
                )
        for controller in self.controllers:
            controller.start()
        log.info("controllers started: %s", ", ".join(c.name for c in self.controllers))

    def stop(self) -> None:
        for controller in self.controllers:
            controller.stop()
        for informer in self.informers:
            informer.stop()
