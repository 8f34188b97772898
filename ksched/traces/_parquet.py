"""Parquet storage of a ``Workload``: one file per table plus ``workload.json``.

Columns keep their dtypes; extended resources become ``extended:<name>``
columns; GPU model sets are stored once each, dictionary-encoded, as
``|``-joined strings (the trace's own spelling of ``gpu_spec``); node labels
are JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from ksched.traces.errors import TraceFormatError
from ksched.traces.workload import NodeTable, PodTable, Workload, gpu_model_sets

__all__ = ["read", "write"]

_FORMAT: Final = "ksched-workload"
_VERSION: Final = 1
_EXT_PREFIX: Final = "extended:"


def write(workload: Workload, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    header = {
        "format": _FORMAT,
        "version": _VERSION,
        "name": workload.name,
        "meta": workload.meta,
    }
    text = json.dumps(header, indent=2, sort_keys=True)
    pq.write_table(_node_arrow(workload.nodes), out / "nodes.parquet")
    pq.write_table(_pod_arrow(workload.pods), out / "pods.parquet")
    (out / "workload.json").write_text(text + "\n", encoding="utf-8")
    return out


def read(src: Path) -> Workload:
    header = json.loads((src / "workload.json").read_text(encoding="utf-8"))
    if header.get("format") != _FORMAT or header.get("version") != _VERSION:
        raise TraceFormatError(
            "workload.json",
            None,
            None,
            f"not a {_FORMAT} version {_VERSION} directory (found format"
            f" {header.get('format')!r}, version {header.get('version')!r})",
        )
    nodes = _node_table(pq.read_table(src / "nodes.parquet"))
    pods = _pod_table(pq.read_table(src / "pods.parquet"))
    return Workload(str(header["name"]), nodes, pods, dict(header.get("meta") or {}))


_NODE_ARROW: Final = {
    "name": pa.string(),
    "cpu_milli": pa.int64(),
    "memory_bytes": pa.int64(),
    "gpu_count": pa.int32(),
    "gpu_model": pa.string(),
    "max_pods": pa.int32(),
}
_POD_ARROW: Final = {
    "name": pa.string(),
    "cpu_milli": pa.int64(),
    "memory_bytes": pa.int64(),
    "num_gpu": pa.int32(),
    "gpu_milli": pa.int32(),
    "priority": pa.int32(),
    "qos": pa.string(),
    "phase": pa.string(),
    "group": pa.string(),
    "max_per_node": pa.int32(),
    "creation_time": pa.float64(),
    "deletion_time": pa.float64(),
    "duration": pa.float64(),
    "scheduled_time": pa.float64(),
}


def _arrow(table: NodeTable | PodTable, types: Mapping[str, pa.DataType]) -> dict[str, pa.Array]:
    cols = {name: pa.array(getattr(table, name), type=t) for name, t in types.items()}
    for resource, amounts in table.extended.items():
        cols[_EXT_PREFIX + resource] = pa.array(amounts, type=pa.int64())
    return cols


def _node_arrow(nodes: NodeTable) -> pa.Table:
    cols = _arrow(nodes, _NODE_ARROW)
    if nodes.labels is not None:
        cols["labels"] = pa.array([json.dumps(dict(lb), sort_keys=True) for lb in nodes.labels])
    return pa.table(cols)


def _pod_arrow(pods: PodTable) -> pa.Table:
    cols = _arrow(pods, _POD_ARROW)
    seen: dict[tuple[str, ...], int] = {}
    codes = np.fromiter(
        (seen.setdefault(m, len(seen)) for m in pods.gpu_models), np.int32, len(pods)
    )
    joined = pa.array(["|".join(m) for m in seen], type=pa.string())
    cols["gpu_models"] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), joined)
    return pa.table(cols)


def _columns(
    table: pa.Table, file: str, types: Mapping[str, pa.DataType]
) -> tuple[dict[str, NDArray[Any]], dict[str, NDArray[np.int64]]]:
    missing = [name for name in types if name not in table.column_names]
    if missing:
        raise TraceFormatError(file, None, missing[0], "missing from the Parquet schema")
    cols: dict[str, NDArray[Any]] = {}
    for name, t in types.items():
        col = table.column(name).combine_chunks()
        if pa.types.is_string(t):
            cols[name] = np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
        else:
            cols[name] = np.asarray(col.to_numpy(zero_copy_only=False))
    extended = {
        name.removeprefix(_EXT_PREFIX): np.asarray(table.column(name).to_numpy(), np.int64)
        for name in table.column_names
        if name.startswith(_EXT_PREFIX)
    }
    return cols, extended


def _node_table(table: pa.Table) -> NodeTable:
    cols, extended = _columns(table, "nodes.parquet", _NODE_ARROW)
    labels = None
    if "labels" in table.column_names:
        labels = tuple(json.loads(s) for s in table.column("labels").to_pylist())
    return NodeTable(**cols, extended=extended, labels=labels)


def _pod_table(table: pa.Table) -> PodTable:
    cols, extended = _columns(table, "pods.parquet", _POD_ARROW)
    if "gpu_models" not in table.column_names:
        raise TraceFormatError("pods.parquet", None, "gpu_models", "missing from the schema")
    models = table.column("gpu_models").combine_chunks()
    if isinstance(models, pa.DictionaryArray):
        sets = gpu_model_sets(models.dictionary)
        cols["gpu_models"] = np.asarray(sets[models.indices.to_numpy()], dtype=object)
    else:
        cols["gpu_models"] = gpu_model_sets(models.to_numpy(zero_copy_only=False))
    return PodTable(**cols, extended=extended)
