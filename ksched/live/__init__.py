"""ksched as a live scheduler: informers, API writes, leader election and metrics.

``LiveScheduler`` runs the framework's ``Scheduler`` against a Kubernetes API
server (``ksched run``); the other classes are its parts.
"""

from ksched.live.client import ApiClusterClient
from ksched.live.informer import Informer, Resource
from ksched.live.kube import ApiError, KubeClient, RateLimiter
from ksched.live.leader import LeaderElector, LeaseSettings
from ksched.live.metrics import HealthServer, SchedulerMetrics
from ksched.live.runner import LiveScheduler

__all__ = [
    "ApiClusterClient",
    "ApiError",
    "HealthServer",
    "Informer",
    "KubeClient",
    "LeaderElector",
    "LeaseSettings",
    "LiveScheduler",
    "RateLimiter",
    "Resource",
    "SchedulerMetrics",
]
