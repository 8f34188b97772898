"""Tiny hand-made workloads and invariant checks for the replay tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ksched.scheduler import Scheduler
from ksched.traces.workload import GIB, NodeTable, PodTable, Workload, gpu_model_sets


def nodes(
    cpu: Sequence[int],
    *,
    gpus: Sequence[int] | None = None,
    models: Sequence[str] | None = None,
    memory_gib: int = 64,
    names: Sequence[str] | None = None,
) -> NodeTable:
    """Nodes ``n0, n1, ...`` with ``cpu`` millicores each (and GPUs)."""
    n = len(cpu)
    return NodeTable.from_columns(
        name=list(names) if names is not None else [f"n{i}" for i in range(n)],
        cpu_milli=list(cpu),
        memory_bytes=[memory_gib * GIB] * n,
        gpu_count=None if gpus is None else list(gpus),
        gpu_model=None if models is None else list(models),
    )


def pods(
    cpu: Sequence[int],
    *,
    num_gpu: Sequence[int] | None = None,
    gpu_milli: Sequence[int] | None = None,
    created: Sequence[float] | None = None,
    duration: Sequence[float] | None = None,
    deleted: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
    gpu_specs: Sequence[str] | None = None,
    **extra: Any,
) -> PodTable:
    """Pods ``p0, p1, ...`` of ``cpu`` millicores and 1 GiB each; ``gpu_specs`` as in openb."""
    n = len(cpu)
    created_arr = None if created is None else np.asarray(created, float)
    return PodTable.from_columns(
        name=list(names) if names is not None else [f"p{i}" for i in range(n)],
        cpu_milli=list(cpu),
        memory_bytes=[GIB] * n,
        num_gpu=num_gpu,
        gpu_milli=gpu_milli,
        creation_time=created_arr,
        deletion_time=None if deleted is None else np.asarray(deleted, float),
        duration=None if duration is None else np.asarray(duration, float),
        gpu_models=None if gpu_specs is None else gpu_model_sets(list(gpu_specs)),
        **extra,
    )


def workload(node_table: NodeTable, pod_table: PodTable, name: str = "tiny") -> Workload:
    return Workload(name, node_table, pod_table)


def assert_no_overcommit(sched: Scheduler) -> None:
    """Requested <= allocatable on every node for every resource the snapshot tracks."""
    snap = sched.snapshot
    over = snap.requested > snap.allocatable
    if over.any():
        node, col = np.argwhere(over)[0]
        raise AssertionError(
            f"node {snap.nodes[node].name} over-committed on {snap.resources.names[col]}: "
            f"{snap.requested[node, col]} > {snap.allocatable[node, col]}"
        )


def comparable(frame: Any) -> Any:
    """A frame without the wall-clock columns, for determinism checks."""
    return frame.drop(columns=[c for c in ("sched_latency_us",) if c in frame.columns])


@contextmanager
def collector_off() -> Iterator[None]:
    """No cyclic collection inside: what is freed there, reference counting freed."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
