"""Alibaba cluster trace v2018: ~4000 machines colocating online services and batch jobs.

Reads the headerless CSV tables ``machine_meta``, ``container_meta``,
``batch_task`` and ``batch_instance`` with the columns, in order, of the
trace's ``schema.txt``. Units, from the schema and trace_2018.md:

* ``cpu_num`` is cores; ``cpu_request`` and ``plan_cpu`` are 1/100 core.
* Memory (``mem_size``, ``plan_mem``) is normalised to [0, 100], 100 being
  the largest machine; its real size is undisclosed, so
  ``memory_bytes_per_point`` chooses it (default 1 GiB per point: a 100 GiB
  largest machine, a convention rather than a measurement). The trace marks
  invalid normalised values as -1 or 101: -1 loads as 0 and 101 as 100, and
  the number of such cells is recorded in ``meta``.
* Times are seconds from the start of the 8-day window; 0 means "outside the
  window" and becomes NaN.

A machine's capacity is that of its last ``machine_meta`` row. Online
containers become pods with QoS ``LS`` (one per ``container_id``, created at
its first row, sized by its last); batch instances become pods with QoS
``BE``, sized by their task's plan (tasks alone are expanded to
``instance_num`` pods when there is no ``batch_instance`` table).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ksched.traces._groups import Groups, codes
from ksched.traces._tabular import Parser, read_csv
from ksched.traces.workload import GIB, NodeTable, PodTable, Workload

__all__ = [
    "BATCH_INSTANCE_COLUMNS",
    "BATCH_TASK_COLUMNS",
    "CONTAINER_META_COLUMNS",
    "FAILURE_DOMAIN_LABELS",
    "MACHINE_META_COLUMNS",
    "load_alibaba2018",
]

MACHINE_META_COLUMNS: Final = (
    "machine_id",
    "time_stamp",
    "failure_domain_1",
    "failure_domain_2",
    "cpu_num",
    "mem_size",
    "status",
)
CONTAINER_META_COLUMNS: Final = (
    "container_id",
    "machine_id",
    "time_stamp",
    "app_du",
    "status",
    "cpu_request",
    "cpu_limit",
    "mem_size",
)
BATCH_TASK_COLUMNS: Final = (
    "task_name",
    "instance_num",
    "job_name",
    "task_type",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
)
BATCH_INSTANCE_COLUMNS: Final = (
    "instance_name",
    "task_name",
    "job_name",
    "task_type",
    "status",
    "start_time",
    "end_time",
    "machine_id",
    "seq_no",
    "total_seq_no",
    "cpu_avg",
    "cpu_max",
    "mem_avg",
    "mem_max",
)
FAILURE_DOMAIN_LABELS: Final = ("ksched.io/failure-domain-1", "ksched.io/failure-domain-2")
_INVALID_LOW, _INVALID_HIGH = -1, 101


def _file(directory: Path, table: str) -> Path | None:
    for name in (f"{table}.csv", f"{table}.csv.gz"):
        if (directory / name).is_file():
            return directory / name
    return None


class _Normalised:
    """Turns [0, 100] values into bytes, counting the -1/101 cells the trace marks invalid."""

    def __init__(self, bytes_per_point: int) -> None:
        self.bytes_per_point = bytes_per_point
        self.invalid = 0

    def parse(
        self, p: Parser, column: str, *, up: bool, missing_ok: bool = False
    ) -> NDArray[np.int64]:
        values = p.floats(column, missing_ok=missing_ok)
        bad = ~np.isnan(values) & ((values < _INVALID_LOW) | (values > _INVALID_HIGH))
        p.flag(bad, column, lambda i: f"{values[i]:g} is outside [-1, 101]")
        low, high = values < 0, values > 100
        self.invalid += int(low.sum() + high.sum())
        points = np.clip(np.nan_to_num(values), 0, 100) * self.bytes_per_point
        rounded = np.ceil(points - 1e-6) if up else np.floor(points + 1e-6)
        return rounded.astype(np.int64)


def _seconds(values: NDArray[np.int64]) -> NDArray[np.float64]:
    out = values.astype(np.float64)
    out[values == 0] = np.nan
    return out


def _machines(path: Path, memory: _Normalised) -> NodeTable:
    p = Parser(read_csv(path, required=MACHINE_META_COLUMNS, headerless=True))
    machine = p.strings("machine_id")
    time = p.ints("time_stamp", min_value=0)
    domains = [
        p.strings(col, allow_empty=True, categorical=True)
        for col in ("failure_domain_1", "failure_domain_2")
    ]
    cpu_milli = p.ints("cpu_num", min_value=0, max_value=2**53) * 1000
    memory_bytes = memory.parse(p, "mem_size", up=False)
    p.done()
    groups = Groups([codes(p.raw("machine_id"))], time)
    fd1, fd2 = (groups.last(d) for d in domains)
    labels = [
        {k: v for k, v in zip(FAILURE_DOMAIN_LABELS, pair, strict=True) if v}
        for pair in zip(fd1, fd2, strict=True)
    ]
    return NodeTable.from_columns(
        name=groups.last(machine),
        cpu_milli=groups.last(cpu_milli),
        memory_bytes=groups.last(memory_bytes),
        labels=labels,
    )


def _containers(path: Path, memory: _Normalised) -> PodTable:
    p = Parser(read_csv(path, required=CONTAINER_META_COLUMNS, headerless=True))
    container = p.strings("container_id")
    time = p.ints("time_stamp", min_value=0)
    app = p.strings("app_du", allow_empty=True, categorical=True)
    cpu_milli = p.ints("cpu_request", min_value=0, max_value=2**53) * 10
    memory_bytes = memory.parse(p, "mem_size", up=True)
    p.ints("cpu_limit", min_value=0)
    p.done()
    groups = Groups([codes(p.raw("container_id"))], time)
    return PodTable.from_columns(
        name=groups.last(container),
        cpu_milli=groups.last(cpu_milli),
        memory_bytes=groups.last(memory_bytes),
        qos="LS",
        group=groups.last(app),
        creation_time=_seconds(groups.first(time)),
    )


@dataclass(frozen=True)
class _Tasks:
    key: pa.Array  # "job/task", unique
    job: NDArray[np.object_]
    task: NDArray[np.object_]
    instances: NDArray[np.int64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]
    cpu_milli: NDArray[np.int64]
    memory_bytes: NDArray[np.int64]
    without_plan: int


def _job_task(p: Parser) -> pa.Array:
    return pc.binary_join_element_wise(p.raw("job_name"), p.raw("task_name"), "/")


def _tasks(path: Path, memory: _Normalised) -> _Tasks:
    p = Parser(read_csv(path, required=BATCH_TASK_COLUMNS, headerless=True))
    cpu = p.floats("plan_cpu", min_value=0, missing_ok=True)
    tasks = _Tasks(
        key=_job_task(p),
        job=p.strings("job_name"),
        task=p.strings("task_name"),
        instances=p.ints("instance_num", min_value=0, missing=0),
        start=p.ints("start_time", min_value=0, missing=0),
        end=p.ints("end_time", min_value=0, missing=0),
        cpu_milli=np.rint(np.nan_to_num(cpu) * 10).astype(np.int64),
        memory_bytes=memory.parse(p, "plan_mem", up=True, missing_ok=True),
        without_plan=int(np.isnan(cpu).sum()),
    )
    p.unique("task_name", np.asarray(tasks.key.to_numpy(zero_copy_only=False), object))
    p.done()
    return tasks


def _batch_pods(tasks: _Tasks, instance_path: Path | None) -> PodTable:
    if instance_path is None:
        rows = np.repeat(np.arange(len(tasks.job)), tasks.instances)
        ordinal = np.arange(len(rows)) - np.repeat(
            np.cumsum(tasks.instances) - tasks.instances, tasks.instances
        )
        names = [
            f"{j}-{t}-{k}"
            for j, t, k in zip(tasks.job[rows], tasks.task[rows], ordinal, strict=True)
        ]
        return _batch_table(names, tasks, rows, tasks.start[rows], tasks.end[rows])
    p = Parser(read_csv(instance_path, required=BATCH_INSTANCE_COLUMNS, headerless=True))
    instance = p.strings("instance_name")
    job, task = p.strings("job_name"), p.strings("task_name")
    start = p.ints("start_time", min_value=0, missing=0)
    end = p.ints("end_time", min_value=0, missing=0)
    seq = p.ints("seq_no", min_value=0, missing=0)
    p.ints("total_seq_no", min_value=0, missing=0)
    for col in ("cpu_avg", "cpu_max", "mem_avg", "mem_max"):
        p.floats(col, missing_ok=True)
    # One shared dictionary gives tasks and instances comparable codes.
    both = codes(pa.concat_arrays([tasks.key, _job_task(p)]))
    task_of_code = np.full(int(both.max(initial=-1)) + 1, -1, dtype=np.int64)
    task_of_code[both[: len(tasks.job)]] = np.arange(len(tasks.job))
    rows = task_of_code[both[len(tasks.job) :]]
    p.flag(
        rows < 0,
        "task_name",
        lambda i: f"no batch_task row for job {job[i]!r}, task {task[i]!r}",
    )
    p.done()
    names = [f"{j}-{t}-{n}-{s}" for j, t, n, s in zip(job, task, instance, seq, strict=True)]
    return _batch_table(names, tasks, rows, start, end)


def _batch_table(
    names: list[str],
    tasks: _Tasks,
    rows: NDArray[np.int64],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
) -> PodTable:
    created, deleted = _seconds(start), _seconds(end)
    duration = deleted - created
    duration[duration < 0] = np.nan  # the trace has end < start rows; unknown, not negative
    return PodTable.from_columns(
        name=names,
        cpu_milli=tasks.cpu_milli[rows],
        memory_bytes=tasks.memory_bytes[rows],
        qos="BE",
        group=tasks.job[rows],
        creation_time=created,
        deletion_time=deleted,
        duration=duration,
    )


def _concat(tables: list[PodTable]) -> PodTable:
    if len(tables) == 1:
        return tables[0]
    cols: dict[str, Any] = {
        name: np.concatenate([getattr(t, name) for t in tables])
        for name in PodTable.__dataclass_fields__
        if name != "extended"
    }
    return PodTable(**cols)


def load_alibaba2018(
    source: str | Path,
    /,
    *,
    memory_bytes_per_point: int = GIB,
) -> Workload:
    """The v2018 trace from a folder holding ``machine_meta.csv`` and any of
    ``container_meta.csv``, ``batch_task.csv``, ``batch_instance.csv`` (or ``.csv.gz``)."""
    if memory_bytes_per_point <= 0:
        raise ValueError(
            "The 'memory_bytes_per_point' parameter of load_alibaba2018 must be positive."
            f" Got {memory_bytes_per_point!r} instead."
        )
    directory = Path(source)
    machine_path = _file(directory, "machine_meta")
    if machine_path is None:
        raise FileNotFoundError(f"no machine_meta.csv in {directory}")
    memory = _Normalised(memory_bytes_per_point)
    nodes = _machines(machine_path, memory)
    parts: list[PodTable] = []
    files = [machine_path.name]
    tasks_without_plan = 0
    container_path = _file(directory, "container_meta")
    if container_path is not None:
        parts.append(_containers(container_path, memory))
        files.append(container_path.name)
    task_path = _file(directory, "batch_task")
    instance_path = _file(directory, "batch_instance")
    if instance_path is not None and task_path is None:
        raise FileNotFoundError(f"{instance_path} needs batch_task.csv beside it for requests")
    if task_path is not None:
        tasks = _tasks(task_path, memory)
        tasks_without_plan = tasks.without_plan
        parts.append(_batch_pods(tasks, instance_path))
        files += [task_path.name] + ([] if instance_path is None else [instance_path.name])
    empty = PodTable.from_columns(name=[], cpu_milli=[], memory_bytes=[])
    return Workload(
        name=f"alibaba2018-{directory.name}",
        nodes=nodes,
        pods=_concat(parts) if parts else empty,
        meta={
            "trace": "alibaba-2018",
            "files": files,
            "memory_bytes_per_point": memory_bytes_per_point,
            "invalid_normalised_values": memory.invalid,
            "tasks_without_plan_cpu": tasks_without_plan,
        },
    )
