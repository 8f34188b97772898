"""The Alibaba 2018 loader on headerless rows in the column order of the trace's schema.txt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ksched.traces import TraceFormatError, load_alibaba2018
from ksched.traces.alibaba2018 import FAILURE_DOMAIN_LABELS

GIB = 1 << 30
# machine_id,time_stamp,failure_domain_1,failure_domain_2,cpu_num,mem_size,status
MACHINE_META = [
    "m_1,0,1,c1,96,100,USING",
    "m_2,0,2,c2,96,50,USING",
    "m_2,100,2,c2,64,50,USING",
]
# container_id,machine_id,time_stamp,app_du,status,cpu_request,cpu_limit,mem_size
CONTAINER_META = [
    "c_1,m_1,0,app_1,started,400,400,1.56",
    "c_1,m_1,50,app_1,started,800,800,3.13",
    "c_2,m_2,200,app_2,allocated,100,100,-1",
]
# task_name,instance_num,job_name,task_type,status,start_time,end_time,plan_cpu,plan_mem
BATCH_TASK = [
    "M1,2,j_1,1,Terminated,100,200,50,0.39",
    "R2_1,1,j_1,1,Terminated,200,300,100,",
    "M1,1,j_2,12,Terminated,300,250,,101",
]
# instance_name,task_name,job_name,task_type,status,start_time,end_time,machine_id,
# seq_no,total_seq_no,cpu_avg,cpu_max,mem_avg,mem_max
BATCH_INSTANCE = [
    "ins_1,M1,j_1,1,Terminated,100,150,m_1,1,1,13,40,0.2,0.3",
    "ins_2,M1,j_1,1,Terminated,0,160,m_2,1,1,,,,",
    "ins_3,R2_1,j_1,1,Running,210,0,m_1,1,1,1,1,1,1",
]


def write(folder: Path, tables: dict[str, list[str]]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, rows in tables.items():
        (folder / f"{name}.csv").write_text("".join(r + "\n" for r in rows))
    return folder


def full(tmp_path: Path) -> Path:
    return write(
        tmp_path / "v2018",
        {
            "machine_meta": MACHINE_META,
            "container_meta": CONTAINER_META,
            "batch_task": BATCH_TASK,
            "batch_instance": BATCH_INSTANCE,
        },
    )


def test_machines_take_their_last_row(tmp_path: Path) -> None:
    nodes = load_alibaba2018(full(tmp_path)).nodes
    assert nodes.name.tolist() == ["m_1", "m_2"]
    assert nodes.cpu_milli.tolist() == [96_000, 64_000]
    # mem_size is a percentage of the largest machine, 1 GiB per point by default.
    assert nodes.memory_bytes.tolist() == [100 * GIB, 50 * GIB]
    assert nodes.labels is not None
    assert nodes.labels[0] == dict(zip(FAILURE_DOMAIN_LABELS, ("1", "c1"), strict=True))


def test_containers_and_batch_instances(tmp_path: Path) -> None:
    w = load_alibaba2018(full(tmp_path))
    pods = w.pods
    assert pods.name.tolist() == [
        "c_1",
        "c_2",
        "j_1-M1-ins_1-1",
        "j_1-M1-ins_2-1",
        "j_1-R2_1-ins_3-1",
    ]
    # cpu_request/plan_cpu: 100 is one core.
    assert pods.cpu_milli.tolist() == [8000, 1000, 500, 500, 1000]
    assert pods.memory_bytes.tolist() == [
        int(np.ceil(3.13 * GIB - 1e-6)),
        0,  # -1 marks an invalid value
        int(np.ceil(0.39 * GIB - 1e-6)),
        int(np.ceil(0.39 * GIB - 1e-6)),
        0,  # plan_mem empty
    ]
    assert pods.qos.tolist() == ["LS", "LS", "BE", "BE", "BE"]
    assert pods.group.tolist() == ["app_1", "app_2", "j_1", "j_1", "j_1"]
    # A time of 0 is outside the 8-day window: unknown.
    assert np.array_equal(pods.creation_time, [np.nan, 200, 100, np.nan, 210], equal_nan=True)
    assert np.array_equal(pods.deletion_time, [np.nan, np.nan, 150, 160, np.nan], equal_nan=True)
    assert np.array_equal(pods.duration, [np.nan, np.nan, 50, np.nan, np.nan], equal_nan=True)
    assert w.meta["invalid_normalised_values"] == 2  # c_2's -1 and j_2's 101
    assert w.meta["tasks_without_plan_cpu"] == 1


def test_tasks_expand_without_an_instance_table(tmp_path: Path) -> None:
    folder = write(tmp_path / "t", {"machine_meta": MACHINE_META, "batch_task": BATCH_TASK})
    pods = load_alibaba2018(folder).pods
    assert pods.name.tolist() == ["j_1-M1-0", "j_1-M1-1", "j_1-R2_1-0", "j_2-M1-0"]
    assert pods.cpu_milli.tolist() == [500, 500, 1000, 0]
    assert pods.memory_bytes[-1] == 100 * GIB  # 101 (invalid) loads as 100
    assert np.isnan(pods.duration[-1])  # end before start: unknown


def test_memory_scale(tmp_path: Path) -> None:
    w = load_alibaba2018(full(tmp_path), memory_bytes_per_point=4 * GIB)
    assert w.nodes.memory_bytes.tolist() == [400 * GIB, 200 * GIB]


@pytest.mark.parametrize(
    ("table", "rows", "message"),
    [
        ("machine_meta", ["m_1,0,1,c1,96,100"],
         "machine_meta.csv:1: expected 7 fields, found 6 (truncated or malformed line)"),
        ("machine_meta", ["m_1,0,1,c1,ninety,100,USING"],
         "machine_meta.csv:1: column cpu_num: 'ninety' is not an integer"),
        ("machine_meta", ["m_1,0,1,c1,96,100,USING", "m_2,0,1,c1,96,250,USING"],
         "machine_meta.csv:2: column mem_size: 250 is outside [-1, 101]"),
        ("machine_meta", [], "machine_meta.csv: empty file; expected a row of machine_id,"
         "time_stamp,failure_domain_1,failure_domain_2,cpu_num,mem_size,status"),
        ("container_meta", ["c_1,m_1,0,app_1,started,-400,400,1.56"],
         "container_meta.csv:1: column cpu_request: -400 is negative"),
        ("batch_task", [*BATCH_TASK, "M1,1,j_1,1,Terminated,1,2,50,1"],
         "batch_task.csv:4: column task_name: duplicate value 'j_1/M1' (first on line 1)"),
        ("batch_instance", [*BATCH_INSTANCE, "ins_9,M7,j_1,1,Terminated,1,2,m_1,1,1,,,,"],
         "batch_instance.csv:4: column task_name: no batch_task row for job 'j_1', task 'M7'"),
    ],
    ids=["truncated", "bad-int", "out-of-range", "empty", "negative", "duplicate-task", "orphan"],
)  # fmt: skip
def test_errors(tmp_path: Path, table: str, rows: list[str], message: str) -> None:
    folder = full(tmp_path)
    write(folder, {table: rows})
    with pytest.raises(TraceFormatError) as info:
        load_alibaba2018(folder)
    assert str(info.value) == message


def test_instances_need_tasks(tmp_path: Path) -> None:
    folder = write(tmp_path / "x", {"machine_meta": MACHINE_META, "batch_instance": BATCH_INSTANCE})
    with pytest.raises(FileNotFoundError, match=r"needs batch_task\.csv"):
        load_alibaba2018(folder)
