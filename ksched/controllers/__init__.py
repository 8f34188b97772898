"""Kubernetes controllers (ReplicaSet, Deployment, Job, garbage collection) over the REST API.

They talk to any server speaking the Kubernetes API (``ksched apiserver``
or a real kube-apiserver) through ``KubeClient``, built on the official
client's kubeconfig handling; ``Informer`` and ``WorkQueue`` are the small
shared core (list + watch with resourceVersion, relist on 410, rate-limited
requeue) that the simulated kubelets and the cluster replay also use.
"""

from ksched.controllers.client import (
    DEPLOYMENTS,
    EVENTS,
    JOBS,
    LEASES,
    NODES,
    PODS,
    REPLICASETS,
    ApiError,
    ClientConfigError,
    KubeClient,
    Obj,
    Resource,
)
from ksched.controllers.controller import Controller
from ksched.controllers.deployment import DeploymentController
from ksched.controllers.garbage import GarbageCollector
from ksched.controllers.informer import Informer, key_of, wait_until
from ksched.controllers.job import JobController
from ksched.controllers.manager import CONTROLLERS, ControllerManager
from ksched.controllers.replicaset import ReplicaSetController
from ksched.controllers.workqueue import WorkQueue

__all__ = [
    "CONTROLLERS",
    "DEPLOYMENTS",
    "EVENTS",
    "JOBS",
    "LEASES",
    "NODES",
    "PODS",
    "REPLICASETS",
    "ApiError",
    "ClientConfigError",
    "Controller",
    "ControllerManager",
    "DeploymentController",
    "GarbageCollector",
    "Informer",
    "JobController",
    "KubeClient",
    "Obj",
    "ReplicaSetController",
    "Resource",
    "WorkQueue",
    "key_of",
    "wait_until",
]
