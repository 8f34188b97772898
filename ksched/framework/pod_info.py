"""Pods as the framework sees them: the API object plus what every cycle needs.

Computed once per pod (upstream ``framework.PodInfo``) so that a scheduling
cycle never re-parses quantities or affinity terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ksched.api import Pod, non_zero_requests, pod_requests
from ksched.api.quantity import Quantity
from ksched.api.resources import (
    CPU,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    MEMORY,
    resource_amount,
)
from ksched.framework.resources import PODS, ResourceIndex

# Request shapes whose vectors are kept (a replay has a few hundred; past this all are dropped).
MAX_SHARED_VECTORS = 4096


@dataclass(slots=True, eq=False)
class PodInfo:
    """A pod with its requests pre-computed.

    ``cache`` holds per-pod values that plugins derive from the spec alone
    (parsed selectors, say), keyed by plugin name; it lives as long as the pod.
    """

    pod: Pod
    key: str
    uid: str
    namespace: str
    name: str
    priority: int
    labels: dict[str, str]
    requests: dict[str, int]
    non_zero_cpu: int
    non_zero_memory: int
    cache: dict[str, Any] = field(default_factory=dict)
    _vector: NDArray[np.int64] | None = None
    _vector_version: int = -1

    @classmethod
    def from_pod(cls, pod: Pod) -> PodInfo:
        meta = pod.metadata
        namespace = meta.namespace or "default"
        name = meta.name or ""
        requests, (cpu, memory) = _requests_of(pod)
        return cls(
            pod=pod,
            key=f"{namespace}/{name}",
            uid=meta.uid or f"{namespace}/{name}",
            namespace=namespace,
            name=name,
            priority=pod.spec.priority or 0,
            labels=meta.labels,
            requests=dict(requests),
            non_zero_cpu=cpu,
            non_zero_memory=memory,
        )

    def request_vector(self, resources: ResourceIndex) -> NDArray[np.int64]:
        """Requests laid out as the snapshot's columns, the pod itself counted in ``pods``."""
        if self._vector is None or self._vector_version != resources.version:
            # Replicas share one read-only vector (building one costs more than the lookup).
            key = tuple(self.requests.items())
            vec = resources.vectors.get(key)
            if vec is None:
                # The snapshot adds the columns first (ClusterSnapshot.pod_vector).
                vec = np.zeros(len(resources), dtype=np.int64)
                for name, amount in key:
                    vec[resources.column(name)] = amount
                vec[resources.column(PODS)] = 1
                vec.flags.writeable = False
                if len(resources.vectors) >= MAX_SHARED_VECTORS:
                    resources.vectors.clear()
                resources.vectors[key] = vec
            self._vector = vec
            self._vector_version = resources.version
        return self._vector

    @property
    def node_name(self) -> str:
        return self.pod.spec.node_name or ""

    @property
    def scheduler_name(self) -> str:
        return self.pod.spec.scheduler_name or "default-scheduler"

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class _Separator:
    raw = "|"


_SEPARATOR: Any = _Separator()
_REQUESTS_CACHE: dict[tuple[object, ...], tuple[dict[str, int], tuple[int, int]]] = {}


def _requests_of(pod: Pod) -> tuple[dict[str, int], tuple[int, int]]:
    """pod_requests and non_zero_requests, memoised on the containers' request texts.

    Exact quantity arithmetic costs far more than a pod's scheduling cycle, and
    replayed workloads repeat a few request shapes, so identical shapes are
    computed once.  Init containers, overhead and pod-level resources take the
    exact path every time.
    """
    spec = pod.spec
    if spec.init_containers or spec.overhead or getattr(spec, "resources", None) is not None:
        return pod_requests(pod), non_zero_requests(pod)
    key = tuple(
        (k, q.raw)
        for c in spec.containers
        for k, q in (("|", _SEPARATOR), *c.resources.requests.items())
    )
    hit = _REQUESTS_CACHE.get(key)
    if hit is None:
        if len(_REQUESTS_CACHE) > 65536:
            _REQUESTS_CACHE.clear()
        if len(spec.containers) == 1:
            hit = _one_container_requests(spec.containers[0].resources.requests)
        else:
            hit = (pod_requests(pod), non_zero_requests(pod))
        _REQUESTS_CACHE[key] = hit
    return hit


def _one_container_requests(
    requests: Mapping[str, Quantity],
) -> tuple[dict[str, int], tuple[int, int]]:
    """``_requests_of`` for a lone container: its requests, each rounded on its own (there is
    no sum to round), and the scheduler's defaults where cpu or memory is missing."""
    amounts = {name: resource_amount(name, q) for name, q in requests.items()}
    cpu = amounts.get(CPU, DEFAULT_MILLI_CPU_REQUEST)
    memory = amounts.get(MEMORY, DEFAULT_MEMORY_REQUEST)
    return amounts, (cpu, memory)
