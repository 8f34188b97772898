"""Shared by the resource scorers: which (requested, allocatable) pairs a score sees.

Follows upstream ``resource_allocation.go``: CPU and memory use the node's
non-zero requests unless ``use_requested``; an extended resource the pod does
not ask for, or the node does not have, is left out of the score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU, CPU_COL, MEMORY, MEMORY_COL, is_scalar_resource
from ksched.framework.snapshot import NodeSet


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    weight: int


def pod_request_list(
    pod: PodInfo, resources: tuple[ResourceSpec, ...], use_requested: bool
) -> list[int]:
    """The pod's request per scored resource; defaults fill in unless ``use_requested``."""
    out = []
    for spec in resources:
        if not use_requested and spec.name == CPU:
            out.append(pod.non_zero_cpu)
        elif not use_requested and spec.name == MEMORY:
            out.append(pod.non_zero_memory)
        else:
            out.append(pod.requests.get(spec.name, 0))
    return out


def allocation_matrix(
    nodes: NodeSet,
    resources: tuple[ResourceSpec, ...],
    pod_requests: list[int],
    use_requested: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(requested incl. the pod, allocatable) per node and scored resource; zeros mean 'skip'."""
    snap = nodes.snapshot
    k = len(nodes)
    req = np.zeros((k, len(resources)), dtype=np.int64)
    alloc = np.zeros((k, len(resources)), dtype=np.int64)
    node_alloc = nodes.allocatable
    node_req = nodes.requested
    nz = None if use_requested else nodes.non_zero_requested
    for j, spec in enumerate(resources):
        col = snap.resources.get(spec.name)
        if col is None:
            continue
        pod_req = pod_requests[j]
        if pod_req == 0 and is_scalar_resource(spec.name):
            continue
        if nz is not None and col == CPU_COL:
            used = nz[:, 0]
        elif nz is not None and col == MEMORY_COL:
            used = nz[:, 1]
        else:
            used = node_req[:, col]
        a = node_alloc[:, col]
        alloc[:, j] = a
        req[:, j] = np.where(a == 0, 0, used + pod_req)
    return req, alloc


def go_div(a: NDArray[np.int64], b: NDArray[np.int64] | int) -> NDArray[np.int64]:
    """Integer division truncating toward zero, as Go's ``/`` on int64."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (np.asarray(b) < 0), -q, q)
