"""The Borg 2019 loader on small tables written in the trace's exact schema.

No Borg data is public outside BigQuery/Cloud Storage, so these rows follow
clusterdata_trace_format_v3.proto: nested ``capacity``/``resource_request``
records, INT64 values as JSON strings (as Google's JSON export writes them),
absent fields for nulls, times in microseconds since 600 s before the window.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ksched.traces import TraceFormatError, load_borg2019
from ksched.traces.borg2019 import PLATFORM_LABEL, SWITCH_LABEL

GIB = 1 << 30
US = 1_000_000
MAXINT = 2**63 - 1
# SUBMIT=0, SCHEDULE=3, FINISH=6, KILL=7, UPDATE_PENDING=9, UPDATE_RUNNING=10
MACHINES: list[dict[str, Any]] = [
    {
        "time": "0",
        "machine_id": "101",
        "type": "1",
        "switch_id": "sw-a",
        "platform_id": "p1",
        "capacity": {"cpus": 0.5, "memory": 0.25},
    },
    {"time": "0", "machine_id": "102", "type": "1", "capacity": {"cpus": 1.0, "memory": 1.0}},
    {"time": "0", "machine_id": "103", "type": "1"},
    {
        "time": str(900 * US),
        "machine_id": "102",
        "type": "3",
        "capacity": {"cpus": 0.75, "memory": 0.5},
    },
    {"time": str(1200 * US), "machine_id": "101", "type": "2"},
]
INSTANCES: list[dict[str, Any]] = [
    {
        "time": "0",
        "type": "0",
        "collection_id": "7",
        "scheduling_class": "2",
        "priority": "200",
        "instance_index": "0",
        "resource_request": {"cpus": 0.0625, "memory": 0.03125},
        "constraint": [{"name": "abc", "value": "1", "relation": "0"}],
    },
    {
        "time": "0",
        "type": "3",
        "collection_id": "7",
        "scheduling_class": "2",
        "priority": "200",
        "instance_index": "0",
        "machine_id": "101",
        "resource_request": {"cpus": 0.0625, "memory": 0.03125},
    },
    {
        "time": str(700 * US),
        "type": "0",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "1",
        "resource_request": {"cpus": 0.01, "memory": 0.002},
    },
    {
        "time": str(710 * US),
        "type": "3",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "1",
        "machine_id": "102",
        "resource_request": {"cpus": 0.01, "memory": 0.002},
    },
    {
        "time": str(720 * US),
        "type": "10",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "1",
        "resource_request": {"cpus": 0.5, "memory": 0.5},
    },
    {
        "time": str(1600 * US),
        "type": "6",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "1",
    },
    {
        "time": str(800 * US),
        "type": "0",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "2",
        "resource_request": {"cpus": 0.01, "memory": 0.002},
    },
    {
        "time": str(850 * US),
        "type": "9",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "2",
        "resource_request": {"cpus": 0.02, "memory": 0.004},
    },
    {
        "time": str(MAXINT),
        "type": "7",
        "collection_id": "8",
        "priority": "0",
        "instance_index": "2",
    },
    {
        "time": str(800 * US),
        "type": "0",
        "collection_id": "9",
        "collection_type": "1",
        "priority": "100",
        "instance_index": "0",
        "resource_request": {"cpus": 0.2, "memory": 0.2},
    },
]
COLLECTIONS: list[dict[str, Any]] = [
    {"time": "0", "type": "0", "collection_id": "7", "collection_type": "0", "priority": "200",
     "user": "dXNlcg==", "collection_name": "bmFtZQ==", "start_after_collection_ids": [],
     "max_per_machine": "2"},
    {"time": str(700 * US), "type": "0", "collection_id": "8", "max_per_machine": "0"},
    {"time": str(800 * US), "type": "0", "collection_id": "9", "collection_type": "1"},
]  # fmt: skip


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def write_cell(tmp_path: Path) -> Path:
    cell = tmp_path / "cell-a"
    cell.mkdir()
    write_jsonl(cell / "machine_events-000000000000.json.gz", MACHINES)
    # Two shards, as the Cloud Storage export splits large tables.
    write_jsonl(cell / "instance_events-000000000000.json.gz", INSTANCES[:5])
    write_jsonl(cell / "instance_events-000000000001.json.gz", INSTANCES[5:])
    write_jsonl(cell / "collection_events-000000000000.json", COLLECTIONS)
    return cell


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    """A row the way a flattening BigQuery query names columns: record_field."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{k}": v for k, v in value.items()})
        elif not isinstance(value, list):
            flat[key] = value
    return flat


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(flatten(r) for r in rows)


def test_machines(tmp_path: Path) -> None:
    w = load_borg2019(write_cell(tmp_path))
    nodes = w.nodes
    assert nodes.name.tolist() == ["machine-101", "machine-102"]
    # Capacity of the last ADD/UPDATE; 1.0 is 100 cores and 100 GiB by default.
    assert nodes.cpu_milli.tolist() == [50_000, 75_000]
    assert nodes.memory_bytes.tolist() == [25 * GIB, 50 * GIB]
    assert nodes.labels == ({SWITCH_LABEL: "sw-a", PLATFORM_LABEL: "p1"}, {})
    assert w.meta["machines_without_capacity"] == 1


def test_instances(tmp_path: Path) -> None:
    w = load_borg2019(write_cell(tmp_path))
    pods = w.pods
    assert pods.name.tolist() == ["7-0", "8-1", "8-2"]
    # Requests round up to a whole unit: 0.002 x 100 GiB = 214748364.8 bytes.
    assert pods.cpu_milli.tolist() == [6250, 1000, 2000]
    assert pods.memory_bytes.tolist() == [
        math.ceil(0.03125 * 100 * GIB),
        math.ceil(0.002 * 100 * GIB),
        math.ceil(0.004 * 100 * GIB),
    ]
    assert pods.priority.tolist() == [200, 0, 0]
    assert pods.qos.tolist() == ["SENSITIVE", "MOST_INSENSITIVE", "MOST_INSENSITIVE"]
    assert pods.group.tolist() == ["7", "8", "8"]
    assert pods.max_per_node.tolist() == [2, 0, 0]
    # Time 0 (before the window) and 2^63-1 (after it) are unknown; others are
    # seconds since the window start, 600 s after the trace's time origin.
    assert np.array_equal(pods.creation_time, [np.nan, 100, 200], equal_nan=True)
    assert np.array_equal(pods.scheduled_time, [np.nan, 110, np.nan], equal_nan=True)
    assert np.array_equal(pods.deletion_time, [np.nan, 1000, np.nan], equal_nan=True)
    assert np.array_equal(pods.duration, [np.nan, 900, np.nan], equal_nan=True)
    assert w.meta["alloc_instances_dropped"] == 1
    assert w.meta["instances_without_request"] == 0


def test_alloc_sets_on_request(tmp_path: Path) -> None:
    pods = load_borg2019(write_cell(tmp_path), include_alloc_sets=True).pods
    assert pods.name.tolist() == ["7-0", "8-1", "8-2", "9-0"]
    assert pods.cpu_milli[-1] == 20_000


def test_scale_parameters(tmp_path: Path) -> None:
    cell = write_cell(tmp_path)
    w = load_borg2019(cell, cpu_milli_per_ncu=64_000, memory_bytes_per_unit=GIB)
    assert w.nodes.cpu_milli.tolist() == [32_000, 48_000]
    assert w.pods.cpu_milli.tolist() == [4000, 640, 1280]
    assert w.pods.memory_bytes[0] == GIB // 32
    with pytest.raises(ValueError, match="'cpu_milli_per_ncu' parameter of load_borg2019"):
        load_borg2019(cell, cpu_milli_per_ncu=0)


def test_flattened_csv_export_reads_the_same(tmp_path: Path) -> None:
    cell = tmp_path / "csv"
    cell.mkdir()
    common = [
        "time", "type", "collection_id", "scheduling_class", "missing_type",
        "collection_type", "priority", "alloc_collection_id",
    ]  # fmt: skip
    write_csv(
        cell / "machine_events.csv",
        MACHINES,
        ["time", "machine_id", "type", "switch_id", "capacity_cpus", "capacity_memory",
         "platform_id", "missing_data_reason"],
    )  # fmt: skip
    write_csv(
        cell / "instance_events.csv",
        INSTANCES,
        [*common, "instance_index", "machine_id", "alloc_instance_index",
         "resource_request_cpus", "resource_request_memory"],
    )  # fmt: skip
    write_csv(
        cell / "collection_events.csv",
        COLLECTIONS,
        [*common, "user", "collection_name", "max_per_machine"],
    )
    from_csv = load_borg2019(cell)
    from_json = load_borg2019(write_cell(tmp_path))
    assert from_csv.pods.equals(from_json.pods)
    assert from_csv.nodes.equals(from_json.nodes)


def test_integers_may_be_json_numbers(tmp_path: Path) -> None:
    cell = write_cell(tmp_path)
    numeric = [
        {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in r.items()}
        for r in MACHINES
    ]
    write_jsonl(cell / "machine_events-000000000000.json.gz", numeric)
    assert load_borg2019(cell).nodes.cpu_milli.tolist() == [50_000, 75_000]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"time": "12a", "type": "0", "collection_id": "1", "instance_index": "0"}'],
         "instance_events.json:2: column time: '12a' is not an integer"),
        (['{"time": "1", "type": "11", "collection_id": "1", "instance_index": "0"}'],
         "instance_events.json:2: column type: 11 exceeds the maximum 10"),
        (['{"time": "1", "type": "0" "collection_id": "1"}'],
         "instance_events.json:2: invalid JSON: Expecting ',' delimiter at character 27"),
        (["[1, 2]"], "instance_events.json:2: expected a JSON object"),
        (['{"time": "1", "type": "0", "collection_id": "1", "instance_index": "0",'
          ' "priority": {"x": 1}}'],
         "instance_events.json:2: column priority: expected a single value"),
        (['{"time": "1", "type": "0", "collection_id": "1"}'],
         "instance_events.json:2: column instance_index: missing value"),
        (["", '{"time": "1", "type": "0", "collection_id": "1", "instance_index": "-2"}'],
         "instance_events.json:3: column instance_index: -2 is negative"),
    ],
    ids=["bad-int", "bad-type", "bad-json", "not-object", "not-scalar", "missing", "blank-line"],
)  # fmt: skip
def test_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    cell = tmp_path / "bad"
    cell.mkdir()
    good = json.dumps(INSTANCES[0])
    (cell / "instance_events.json").write_text("\n".join([good, *lines]) + "\n")
    with pytest.raises(TraceFormatError) as info:
        load_borg2019(cell)
    assert str(info.value) == message


def test_csv_export_needs_the_request_columns(tmp_path: Path) -> None:
    cell = tmp_path / "csv"
    cell.mkdir()
    (cell / "instance_events.csv").write_text("time,type,collection_id,instance_index\n0,0,1,0\n")
    with pytest.raises(TraceFormatError) as info:
        load_borg2019(cell)
    assert str(info.value) == (
        "instance_events.csv:1: column resource_request_cpus: missing from the header"
    )


def test_instance_events_are_required(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="no instance_events file found"):
        load_borg2019(tmp_path)
