"""Alibaba GPU-disaggregated DLRM serving trace 2025 (NSDI '25 "Prism").

``disaggregated_DLRM_trace.csv`` lists 23,871 long-running inference
instances: CN (CPU node) instances and HN (heterogeneous GPU node) instances
of 156 applications. Units, from the trace README: CPU in vCPUs, GPUs whole
(0 or 1), RDMA in percent of one NIC's bandwidth, memory and disk in GiB,
times in seconds since the trace start, empty when outside the window.

The trace has no node list, so the workload's node table is empty; pair it
with a cluster of your choice (``dataclasses.replace(w, nodes=...)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.traces._tabular import Parser, read_csv
from ksched.traces.manifest import local_trace_dir
from ksched.traces.workload import GIB, NodeTable, PodTable, Workload

__all__ = ["DISK_RESOURCE", "DLRM_FILE", "RDMA_RESOURCE", "load_dlrm2025", "read_dlrm2025"]

TRACE: Final = "alibaba-gpu-dlrm-2025"
DLRM_FILE: Final = "disaggregated_DLRM_trace.csv"
# Extended resources: RDMA bandwidth in percent of one NIC, disk in bytes.
RDMA_RESOURCE: Final = "ksched.io/rdma-percent"
DISK_RESOURCE: Final = "ephemeral-storage"

_COLUMNS: Final = (
    "instance_sn",
    "role",
    "app_name",
    "cpu_request",
    "cpu_limit",
    "gpu_request",
    "gpu_limit",
    "rdma_request",
    "rdma_limit",
    "memory_request",
    "memory_limit",
    "disk_request",
    "disk_limit",
    "max_instance_per_node",
    "creation_time",
    "scheduled_time",
    "deletion_time",
)
_MAX_VCPU: Final = (2**63 - 1) // 1000


def _gib_to_bytes(gib: NDArray[np.float64]) -> NDArray[np.int64]:
    # Exact for the trace's values (multiples of 1/2 GiB); others round to a byte.
    return np.asarray(np.rint(gib * GIB), dtype=np.int64)


def read_dlrm2025(path: str | Path) -> PodTable:
    """``disaggregated_DLRM_trace.csv`` as a pod table (one pod per instance).

    Limits are validated but not kept: the README states they equal the
    requests, except disk, whose request is what a scheduler reserves.
    """
    p = Parser(read_csv(Path(path), required=_COLUMNS))
    name = p.strings("instance_sn")
    p.unique("instance_sn", name)
    p.strings("role", choices=("CN", "HN"))
    app = p.strings("app_name", categorical=True)
    cpu = p.ints("cpu_request", min_value=0, max_value=_MAX_VCPU)
    gpu = p.ints("gpu_request", min_value=0, max_value=2**31 - 1)
    rdma = p.ints("rdma_request", min_value=0, max_value=100)
    memory = p.floats("memory_request", min_value=0)
    disk = p.floats("disk_request", min_value=0)
    for col in ("cpu_limit", "gpu_limit", "rdma_limit"):
        p.ints(col, min_value=0)
    for col in ("memory_limit", "disk_limit"):
        p.floats(col, min_value=0)
    per_node = p.ints("max_instance_per_node", min_value=-1)
    p.flag(per_node == 0, "max_instance_per_node", lambda _: "0 allows no instance; use -1")
    created, scheduled, deleted = (
        p.floats(col, min_value=0, missing_ok=True)
        for col in ("creation_time", "scheduled_time", "deletion_time")
    )
    p.not_before("scheduled_time", scheduled, created, "creation_time")
    p.not_before("deletion_time", deleted, created, "creation_time")
    p.done()
    return PodTable.from_columns(
        name=name,
        cpu_milli=cpu * 1000,
        memory_bytes=_gib_to_bytes(memory),
        num_gpu=gpu,
        gpu_milli=np.where(gpu > 0, 1000, 0),
        qos="LS",  # "All instances in this dataset are categorized as Latency-Sensitive"
        group=app,
        max_per_node=np.maximum(per_node, 0),
        creation_time=created,
        deletion_time=deleted,
        scheduled_time=scheduled,
        extended={RDMA_RESOURCE: rdma, DISK_RESOURCE: _gib_to_bytes(disk)},
    )


def load_dlrm2025(source: str | Path | None = None, /) -> Workload:
    """The DLRM trace from ``source`` (its folder or the CSV itself); no nodes."""
    path = Path(source) if source is not None else local_trace_dir(TRACE)
    if path.is_dir():
        path = path / DLRM_FILE
    return Workload(
        name="dlrm2025",
        nodes=NodeTable.empty(),
        pods=read_dlrm2025(path),
        meta={"trace": TRACE, "pod_file": path.name, "rdma_unit": "percent of one RDMA NIC"},
    )
