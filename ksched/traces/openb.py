"""Alibaba GPU cluster trace 2023 ("openb", FGD paper, USENIX ATC '23).

Reads the node lists (``sn,cpu_milli,memory_mib,gpu,model``) and every pod
list layout: the 11-column files, the 5-column ``multigpu*`` files and the
``nomem`` files without ``memory_mib``. Requests are converted the way the
FGD simulator's ``pod_csv_to_yaml.py`` converts them (NOTES-fgd-experiments.md):
``gpu_milli`` is clamped to [0, 1000] and only counts when ``num_gpu`` > 0;
``gpu_spec`` is a ``|``-separated list of allowed models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import numpy as np

from ksched.traces._tabular import Parser, read_csv
from ksched.traces.manifest import local_trace_dir
from ksched.traces.workload import MIB, NodeTable, PodTable, Workload, gpu_model_sets

__all__ = [
    "OPENB_MAX_PODS",
    "OPENB_VARIANTS",
    "load_openb",
    "read_openb_nodes",
    "read_openb_pods",
]

TRACE: Final = "alibaba-gpu-2023"
# Pod lists shipped with the trace, by the suffix of openb_pod_list_<variant>.csv;
# the last three exist only in the FGD simulator's history (simulator-history/).
OPENB_VARIANTS: Final = (
    "default",
    *(f"cpu{p}" for p in ("0", "037", "050", "072", "100", "200", "235", "250", "300")),
    *(f"gpushare{p}" for p in (20, 40, 60, 80, 100)),
    *(f"gpuspec{p}" for p in ("05", "10", "20", "25", "33")),
    *(f"multigpu{p}" for p in (20, 30, 40, 50)),
    "gpuspec33_cpu0",
    "nomem",
    "nomem_cpu0",
)
_HISTORY: Final = frozenset({"gpuspec33_cpu0", "nomem", "nomem_cpu0"})
# node_yaml/openb_node_list_gpu_node.yaml gives every node `pods: '1001'`.
OPENB_MAX_PODS: Final = 1001

_NODE_COLUMNS: Final = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
_POD_REQUIRED: Final = ("name", "cpu_milli", "num_gpu", "gpu_milli")
_POD_OPTIONAL: Final = (
    "memory_mib",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
_QOS: Final = ("LS", "BE", "Burstable", "Guaranteed")
_PHASES: Final = ("Running", "Succeeded", "Failed", "Pending")
_INT32_MAX: Final = 2**31 - 1
_MAX_MIB: Final = (2**63 - 1) // MIB


def read_openb_nodes(path: str | Path) -> NodeTable:
    """An ``openb_node_list_*.csv`` file as a node table."""
    p = Parser(read_csv(Path(path), required=_NODE_COLUMNS))
    name = p.strings("sn")
    p.unique("sn", name)
    cpu = p.ints("cpu_milli", min_value=0)
    memory = p.ints("memory_mib", min_value=0, max_value=_MAX_MIB)
    gpus = p.ints("gpu", min_value=0, max_value=_INT32_MAX)
    model = p.strings("model", allow_empty=True, categorical=True)
    p.done()
    return NodeTable.from_columns(
        name=name,
        cpu_milli=cpu,
        memory_bytes=memory * MIB,
        gpu_count=gpus,
        gpu_model=np.where(gpus > 0, model, ""),
        max_pods=OPENB_MAX_PODS,
    )


def read_openb_pods(path: str | Path) -> PodTable:
    """An ``openb_pod_list_*.csv`` file, any of its three layouts, as a pod table.

    Columns a layout lacks take neutral values: no memory request, any GPU
    model, no QoS or phase, unknown (NaN) times.
    """
    p = Parser(read_csv(Path(path), required=_POD_REQUIRED, optional=_POD_OPTIONAL))
    n = len(p)
    name = p.strings("name")
    p.unique("name", name)
    cpu = p.ints("cpu_milli", min_value=0)
    memory = (
        p.ints("memory_mib", min_value=0, max_value=_MAX_MIB)
        if p.has("memory_mib")
        else np.zeros(n, np.int64)
    )
    num_gpu = p.ints("num_gpu", min_value=0, max_value=_INT32_MAX)
    # The simulator clamps rather than refuses: > 1000 -> 1000, <= 0 -> 0.
    gpu_milli = np.where(num_gpu > 0, np.clip(p.ints("gpu_milli"), 0, 1000), 0)
    specs = p.raw("gpu_spec") if p.has("gpu_spec") else None
    qos = p.strings("qos", choices=_QOS) if p.has("qos") else ""
    phase = p.strings("pod_phase", choices=_PHASES) if p.has("pod_phase") else ""
    times = {
        col: p.floats(col, min_value=0, missing_ok=True) if p.has(col) else np.full(n, np.nan)
        for col in ("creation_time", "deletion_time", "scheduled_time")
    }
    created = times["creation_time"]
    for col in ("deletion_time", "scheduled_time"):
        p.not_before(col, times[col], created, "creation_time")
    p.done()
    return PodTable.from_columns(
        name=name,
        cpu_milli=cpu,
        memory_bytes=memory * MIB,
        num_gpu=num_gpu,
        gpu_milli=gpu_milli,
        gpu_models=None if specs is None else gpu_model_sets(specs),
        qos=qos,
        phase=phase,
        creation_time=created,
        deletion_time=times["deletion_time"],
        scheduled_time=times["scheduled_time"],
    )


def _pod_file(directory: Path, variant: str) -> Path:
    if variant not in OPENB_VARIANTS:
        raise ValueError(
            f"The 'variant' parameter of load_openb must be one of {', '.join(OPENB_VARIANTS)}."
            f" Got {variant!r} instead."
        )
    folder = directory / "simulator-history" if variant in _HISTORY else directory
    return folder / f"openb_pod_list_{variant}.csv"


def load_openb(
    source: str | Path | None = None,
    /,
    *,
    variant: str = "default",
    cluster: Literal["gpu", "all"] = "gpu",
) -> Workload:
    """The openb cluster and one pod list from the trace folder ``source``.

    ``cluster="gpu"`` is the 1213-node cluster the FGD paper simulated;
    ``"all"`` adds the 310 CPU-only nodes. ``source`` defaults to the local
    copy (see ``traces_root``).
    """
    if cluster not in ("gpu", "all"):
        raise ValueError(
            f"The 'cluster' parameter of load_openb must be 'gpu' or 'all'. Got {cluster!r}"
            " instead."
        )
    directory = Path(source) if source is not None else local_trace_dir(TRACE)
    pod_file = _pod_file(directory, variant)
    node_file = directory / f"openb_node_list_{cluster}_node.csv"
    return Workload(
        name=f"openb-{variant}",
        nodes=read_openb_nodes(node_file),
        pods=read_openb_pods(pod_file),
        meta={
            "trace": TRACE,
            "variant": variant,
            "cluster": cluster,
            "node_file": node_file.name,
            "pod_file": str(pod_file.relative_to(directory)),
        },
    )
