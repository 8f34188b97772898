"""Google Borg cluster trace 2019 (ClusterData2019, "trace v3").

Reads ``machine_events``, ``instance_events`` and (optionally)
``collection_events`` as Google publishes them: newline-delimited JSON,
gzipped, sharded (``instance_events-000000000000.json.gz``), nested records
(``resource_request.cpus``) and INT64 values written as strings. The same
tables exported to CSV through a flattening query work too; nested fields
are then named BigQuery's way, ``resource_request_cpus``.

Semantics, from clusterdata_trace_format_v3.proto and the v3 schema document:

* Times are microseconds since 600 s before the trace window. 0 means
  "before the window" and 2^63-1 "after it"; both become NaN. Other times
  become seconds since the window start (t / 1e6 - 600).
* CPU (NCU) and memory are normalised so that the largest machine of all
  cells is 1.0; the real sizes are undisclosed. ``cpu_milli_per_ncu`` and
  ``memory_bytes_per_unit`` choose the absolute size of 1.0 (the defaults,
  100 cores and 100 GiB, are a convention for resolution, not a claim about
  Google's machines). Capacities round down, requests round up, so a
  non-zero request never becomes zero.
* A machine's capacity is that of its last ADD or UPDATE event; machine churn
  (REMOVE and re-ADD) is not replayed.
* One pod per instance (collection_id, instance_index): created at its first
  SUBMIT, scheduled at its first SCHEDULE, deleted at its last event if that
  is a termination (EVICT, FAIL, FINISH, KILL, LOST). Its request is the last
  one given at or before the first SCHEDULE. Alloc-set instances (resource
  reservations that jobs run inside) are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.traces._groups import Groups
from ksched.traces._tabular import Parser, RawTable, read_csv, read_jsonl
from ksched.traces.errors import TraceFormatError
from ksched.traces.workload import GIB, NodeTable, PodTable, Workload

__all__ = [
    "LATENCY_SENSITIVITY",
    "PLATFORM_LABEL",
    "SWITCH_LABEL",
    "load_borg2019",
]

# Event types (proto enum EventType) and their roles here.
SUBMIT, SCHEDULE = 0, 3
_TERMINAL: Final = (4, 5, 6, 7, 8)  # EVICT, FAIL, FINISH, KILL, LOST
_MACHINE_ADD, _MACHINE_UPDATE = 1, 3
_ALLOC_SET: Final = 1
_BEFORE_WINDOW: Final = 0
_AFTER_WINDOW: Final = 2**63 - 1
_WINDOW_OFFSET_US: Final = 600_000_000
# scheduling_class (LatencySensitivity) as the pod's QoS.
LATENCY_SENSITIVITY: Final = ("MOST_INSENSITIVE", "INSENSITIVE", "SENSITIVE", "MOST_SENSITIVE")
SWITCH_LABEL: Final = "ksched.io/switch"
PLATFORM_LABEL: Final = "ksched.io/platform"

_Fields = dict[str, tuple[str, ...]]
_MACHINE_FIELDS: Final[_Fields] = {
    "time": ("time",),
    "machine_id": ("machine_id",),
    "type": ("type",),
    "switch_id": ("switch_id",),
    "capacity_cpus": ("capacity", "cpus"),
    "capacity_memory": ("capacity", "memory"),
    "platform_id": ("platform_id",),
    "missing_data_reason": ("missing_data_reason",),
}
_COMMON: Final[_Fields] = {
    "time": ("time",),
    "type": ("type",),
    "collection_id": ("collection_id",),
    "scheduling_class": ("scheduling_class",),
    "missing_type": ("missing_type",),
    "collection_type": ("collection_type",),
    "priority": ("priority",),
    "alloc_collection_id": ("alloc_collection_id",),
}
_INSTANCE_FIELDS: Final[_Fields] = {
    **_COMMON,
    "instance_index": ("instance_index",),
    "machine_id": ("machine_id",),
    "alloc_instance_index": ("alloc_instance_index",),
    "resource_request_cpus": ("resource_request", "cpus"),
    "resource_request_memory": ("resource_request", "memory"),
}
_COLLECTION_FIELDS: Final[_Fields] = {
    **_COMMON,
    **{
        name: (name,)
        for name in (
            "user",
            "collection_name",
            "collection_logical_name",
            "parent_collection_id",
            "max_per_machine",
            "max_per_switch",
            "vertical_scaling",
            "scheduler",
        )
    },
}
# Columns a flattened CSV export must have; JSON leaves absent fields out.
_MACHINE_REQUIRED: Final = ("time", "machine_id", "type", "capacity_cpus", "capacity_memory")
_INSTANCE_REQUIRED: Final = (
    "time",
    "type",
    "collection_id",
    "instance_index",
    "resource_request_cpus",
    "resource_request_memory",
)
_COLLECTION_REQUIRED: Final = ("time", "type", "collection_id", "max_per_machine")


def _shards(directory: Path, table: str) -> list[Path]:
    found = sorted(
        p
        for p in directory.iterdir()
        if p.is_file()
        and (p.name.startswith(f"{table}.") or p.name.startswith(f"{table}-"))
        and p.name.endswith((".json", ".jsonl", ".json.gz", ".jsonl.gz", ".csv", ".csv.gz"))
    )
    return found


def _read(directory: Path, table: str, fields: _Fields, required: Sequence[str]) -> list[RawTable]:
    shards = _shards(directory, table)
    out = []
    for path in shards:
        if ".csv" in path.suffixes:
            optional = [name for name in fields if name not in required]
            out.append(read_csv(path, required=required, optional=optional))
        else:
            out.append(read_jsonl(path, fields))
    return out


def _seconds(raw: NDArray[np.int64]) -> NDArray[np.float64]:
    out = (raw - _WINDOW_OFFSET_US) / 1e6
    out[(raw == _BEFORE_WINDOW) | (raw == _AFTER_WINDOW)] = np.nan
    return out


def _amount(values: NDArray[np.float64], unit: int, *, up: bool) -> NDArray[np.int64]:
    # A small tolerance keeps exact products (0.25 x 1024) from rounding past themselves.
    scaled = np.nan_to_num(values) * unit
    rounded = np.ceil(scaled - 1e-6) if up else np.floor(scaled + 1e-6)
    return np.maximum(rounded, 0).astype(np.int64)


def _time(p: Parser) -> NDArray[np.int64]:
    return p.ints("time", min_value=0)


def _concat(parts: list[dict[str, NDArray[Any]]]) -> dict[str, NDArray[Any]]:
    return {col: np.concatenate([part[col] for part in parts]) for col in parts[0]}


def _lookup(
    ids: NDArray[np.int64], values: NDArray[np.int64], keys: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``values`` of ``keys`` in the sorted ``ids``; 0 for keys not there."""
    if not len(ids):
        return np.zeros(len(keys), dtype=np.int64)
    at = np.clip(np.searchsorted(ids, keys), 0, len(ids) - 1)
    return np.where(ids[at] == keys, values[at], 0)


def _optional_int(p: Parser, column: str, missing: int, high: int) -> NDArray[np.int64]:
    if not p.has(column):
        return np.full(len(p), missing, dtype=np.int64)
    return p.ints(column, min_value=0, max_value=high, missing=missing)


def _optional_str(p: Parser, column: str) -> NDArray[np.object_]:
    if not p.has(column):
        return np.full(len(p), "", dtype=object)
    return p.strings(column, allow_empty=True, categorical=True)


def _machines(
    tables: list[RawTable], cpu_unit: int, mem_unit: int
) -> tuple[NodeTable, dict[str, int]]:
    parts = []
    for table in tables:
        p = Parser(table)
        parts.append(
            {
                "time": _time(p),
                "machine_id": p.ints("machine_id"),
                "type": p.ints("type", min_value=0, max_value=3),
                "cpus": p.floats("capacity_cpus", min_value=0, missing_ok=True),
                "memory": p.floats("capacity_memory", min_value=0, missing_ok=True),
                "switch": _optional_str(p, "switch_id"),
                "platform": _optional_str(p, "platform_id"),
            }
        )
        p.done()
    if not parts:
        return NodeTable.empty(), {"machines_without_capacity": 0}
    ev = _concat(parts)
    groups = Groups([ev["machine_id"]], ev["time"])
    sized = np.isin(ev["type"], (_MACHINE_ADD, _MACHINE_UPDATE)) & ~np.isnan(ev["cpus"])
    has_size = groups.last(sized, sized, fill=False)
    machine = groups.keys[0][has_size]

    def capacity(col: str) -> NDArray[Any]:
        fill = np.nan if col in ("cpus", "memory") else ""
        return np.asarray(groups.last(ev[col], sized, fill=fill)[has_size])

    labels = [
        {k: v for k, v in ((SWITCH_LABEL, sw), (PLATFORM_LABEL, pl)) if v}
        for sw, pl in zip(capacity("switch"), capacity("platform"), strict=True)
    ]
    nodes = NodeTable.from_columns(
        name=[f"machine-{m}" for m in machine],
        cpu_milli=_amount(capacity("cpus"), cpu_unit, up=False),
        memory_bytes=_amount(capacity("memory"), mem_unit, up=False),
        labels=labels,
    )
    return nodes, {"machines_without_capacity": int(len(groups) - len(machine))}


def _collections(tables: list[RawTable]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(collection ids, max_per_machine), the last value given; 0 = no limit."""
    parts = []
    for table in tables:
        p = Parser(table)
        parts.append(
            {
                "time": _time(p),
                "collection_id": p.ints("collection_id"),
                "max_per_machine": _optional_int(p, "max_per_machine", -1, 2**31 - 1),
            }
        )
        p.ints("type", min_value=0, max_value=10)
        p.done()
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ev = _concat(parts)
    groups = Groups([ev["collection_id"]], ev["time"])
    limit = groups.last(ev["max_per_machine"], ev["max_per_machine"] >= 0, fill=0)
    return groups.keys[0], limit


def _instance_events(tables: list[RawTable]) -> dict[str, NDArray[Any]]:
    parts = []
    for table in tables:
        p = Parser(table)
        parts.append(
            {
                "time": _time(p),
                "type": p.ints("type", min_value=0, max_value=10),
                "collection_id": p.ints("collection_id"),
                "instance_index": p.ints("instance_index", min_value=0),
                "priority": _optional_int(p, "priority", 0, 2**31 - 1),
                "scheduling_class": _optional_int(p, "scheduling_class", 0, 3),
                "collection_type": _optional_int(p, "collection_type", 0, 1),
                "cpus": p.floats("resource_request_cpus", min_value=0, missing_ok=True),
                "memory": p.floats("resource_request_memory", min_value=0, missing_ok=True),
            }
        )
        p.done()
    if not parts:
        raise TraceFormatError("instance_events", None, None, "no instance_events file found")
    return _concat(parts)


def _seconds_or_nan(raw: NDArray[np.int64]) -> NDArray[np.float64]:
    out = _seconds(np.maximum(raw, 0))
    out[raw < 0] = np.nan
    return out


def _pods(
    ev: dict[str, NDArray[Any]],
    collections: tuple[NDArray[np.int64], NDArray[np.int64]],
    cpu_unit: int,
    mem_unit: int,
    include_alloc_sets: bool,
) -> tuple[PodTable, dict[str, int]]:
    groups = Groups([ev["collection_id"], ev["instance_index"]], ev["time"])
    collection, index = groups.keys
    time, kind = ev["time"], ev["type"]
    submitted = groups.first(time, kind == SUBMIT, fill=-1)
    created = np.where(submitted >= 0, submitted, groups.first(time))
    scheduled = groups.first(time, kind == SCHEDULE, fill=-1)
    # The request in force when the instance was first placed, else its latest.
    placed_at = groups.per_row(scheduled)
    in_force = ((placed_at < 0) | (time <= placed_at)) & ~np.isnan(ev["cpus"])
    cpus = groups.last(ev["cpus"], in_force, fill=np.nan)
    memory = groups.last(ev["memory"], in_force, fill=np.nan)
    last_kind = groups.last(kind)
    deleted = np.where(np.isin(last_kind, _TERMINAL), groups.last(time), -1)

    pods = PodTable.from_columns(
        name=[f"{c}-{i}" for c, i in zip(collection, index, strict=True)],
        cpu_milli=_amount(cpus, cpu_unit, up=True),
        memory_bytes=_amount(memory, mem_unit, up=True),
        priority=groups.last(ev["priority"]),
        qos=np.asarray(LATENCY_SENSITIVITY, dtype=object)[groups.last(ev["scheduling_class"])],
        group=collection.astype(str).astype(object),
        max_per_node=_lookup(*collections, collection),
        creation_time=_seconds_or_nan(created),
        deletion_time=_seconds_or_nan(deleted),
        scheduled_time=_seconds_or_nan(scheduled),
    )
    alloc = groups.last(ev["collection_type"]) == _ALLOC_SET
    counts = {
        "instances_without_request": int(np.isnan(cpus).sum()),
        "alloc_instances_dropped": 0 if include_alloc_sets else int(alloc.sum()),
    }
    if not include_alloc_sets and alloc.any():
        pods = pods.subset(~alloc)
    return pods, counts


def load_borg2019(
    source: str | Path,
    /,
    *,
    cpu_milli_per_ncu: int = 100_000,
    memory_bytes_per_unit: int = 100 * GIB,
    include_alloc_sets: bool = False,
) -> Workload:
    """A Borg 2019 cell from a folder of ``machine_events``, ``instance_events`` and
    optional ``collection_events`` files (JSON lines or CSV, gzipped or not)."""
    for param, value in (
        ("cpu_milli_per_ncu", cpu_milli_per_ncu),
        ("memory_bytes_per_unit", memory_bytes_per_unit),
    ):
        if value <= 0:
            raise ValueError(
                f"The {param!r} parameter of load_borg2019 must be positive. Got {value!r} instead."
            )
    directory = Path(source)
    if not directory.is_dir():
        raise FileNotFoundError(f"no Borg 2019 trace folder at {directory}")
    machine_tables = _read(directory, "machine_events", _MACHINE_FIELDS, _MACHINE_REQUIRED)
    instance_tables = _read(directory, "instance_events", _INSTANCE_FIELDS, _INSTANCE_REQUIRED)
    collection_tables = _read(
        directory, "collection_events", _COLLECTION_FIELDS, _COLLECTION_REQUIRED
    )
    nodes, node_counts = _machines(machine_tables, cpu_milli_per_ncu, memory_bytes_per_unit)
    pods, pod_counts = _pods(
        _instance_events(instance_tables),
        _collections(collection_tables),
        cpu_milli_per_ncu,
        memory_bytes_per_unit,
        include_alloc_sets,
    )
    files = [t.file for t in (*machine_tables, *instance_tables, *collection_tables)]
    return Workload(
        name=f"borg2019-{directory.name}",
        nodes=nodes,
        pods=pods,
        meta={
            "trace": "google-borg-2019",
            "files": files,
            "cpu_milli_per_ncu": cpu_milli_per_ncu,
            "memory_bytes_per_unit": memory_bytes_per_unit,
            **node_counts,
            **pod_counts,
        },
    )
