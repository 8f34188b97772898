"""A malformed trace file raises one TraceFormatError naming file, line, column and reason.

Each case edits a small valid file; the whole message is asserted, and the
error must not chain a pandas/pyarrow exception.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.traces import (
    TraceFormatError,
    read_dlrm2025,
    read_openb_nodes,
    read_openb_pods,
)

HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)
ROWS = [
    "openb-pod-0000,12000,16384,1,1000,,LS,Running,0,100,0",
    "openb-pod-0001,6000,12288,1,460,V100M16|V100M32,LS,Running,10,200,10",
    "openb-pod-0002,4000,15258,1,220,,BE,Pending,20,300,",
    "openb-pod-0003,88000,327680,8,1000,,Burstable,Succeeded,30,400,31",
]
ALL_COLUMNS = (
    "name,cpu_milli,num_gpu,gpu_milli,memory_mib,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)
FILE = "openb_pod_list_test.csv"


def cell(row: int, column: str, value: str) -> Callable[[list[str]], list[str]]:
    """Edit: set ``column`` of data row ``row`` (0-based; on line row + 2)."""
    index = HEADER.split(",").index(column)

    def edit(lines: list[str]) -> list[str]:
        fields = lines[row + 1].split(",")
        fields[index] = value
        lines[row + 1] = ",".join(fields)
        return lines

    return edit


def header(text: str) -> Callable[[list[str]], list[str]]:
    return lambda lines: [text, *lines[1:]]


def drop_column(column: str) -> Callable[[list[str]], list[str]]:
    index = HEADER.split(",").index(column)
    return lambda lines: [
        ",".join(f for i, f in enumerate(line.split(",")) if i != index) for line in lines
    ]


CASES = [
    pytest.param(
        cell(1, "gpu_milli", "12x"),
        f"{FILE}:3: column gpu_milli: '12x' is not an integer",
        id="bad-int",
    ),
    pytest.param(
        cell(0, "cpu_milli", "12.5"),
        f"{FILE}:2: column cpu_milli: '12.5' is not an integer",
        id="float-in-int",
    ),
    pytest.param(
        cell(0, "cpu_milli", "+12"),
        f"{FILE}:2: column cpu_milli: '+12' is not an integer",
        id="plus-sign-int",
    ),
    pytest.param(
        cell(2, "cpu_milli", "99999999999999999999"),
        f"{FILE}:4: column cpu_milli: '99999999999999999999' is out of range",
        id="int-overflow",
    ),
    pytest.param(
        cell(3, "cpu_milli", ""),
        f"{FILE}:5: column cpu_milli: missing value",
        id="missing-value",
    ),
    pytest.param(
        cell(2, "memory_mib", "-5"),
        f"{FILE}:4: column memory_mib: -5 is negative",
        id="negative-request",
    ),
    pytest.param(
        cell(0, "cpu_milli", "-1000"),
        f"{FILE}:2: column cpu_milli: -1000 is negative",
        id="negative-cpu",
    ),
    pytest.param(
        cell(1, "creation_time", "abc"),
        f"{FILE}:3: column creation_time: 'abc' is not a number",
        id="bad-float",
    ),
    pytest.param(
        cell(1, "deletion_time", "nan"),
        f"{FILE}:3: column deletion_time: 'nan' is not a number",
        id="nan-float",
    ),
    pytest.param(
        cell(3, "creation_time", "-3"),
        f"{FILE}:5: column creation_time: -3 is negative",
        id="negative-time",
    ),
    pytest.param(
        cell(1, "deletion_time", "5"),
        f"{FILE}:3: column deletion_time: 5 is before creation_time 10",
        id="deleted-before-created",
    ),
    pytest.param(
        cell(2, "qos", "XX"),
        f"{FILE}:4: column qos: 'XX' is not one of 'BE', 'Burstable', 'Guaranteed', 'LS'",
        id="unknown-qos",
    ),
    pytest.param(
        cell(2, "qos", ""),
        f"{FILE}:4: column qos: missing value",
        id="empty-qos",
    ),
    pytest.param(
        cell(0, "pod_phase", "Done"),
        f"{FILE}:2: column pod_phase: 'Done' is not one of"
        " 'Failed', 'Pending', 'Running', 'Succeeded'",
        id="unknown-phase",
    ),
    pytest.param(
        cell(2, "name", "openb-pod-0001"),
        f"{FILE}:4: column name: duplicate value 'openb-pod-0001' (first on line 3)",
        id="duplicate-name",
    ),
    pytest.param(
        drop_column("cpu_milli"),
        f"{FILE}:1: column cpu_milli: missing from the header",
        id="missing-column",
    ),
    pytest.param(
        header(HEADER.replace("cpu_milli", "cpu")),
        f"{FILE}:1: column cpu: unexpected column; expected columns are {ALL_COLUMNS}",
        id="wrong-header",
    ),
    pytest.param(
        header(HEADER.replace("qos", "name")),
        f"{FILE}:1: column name: duplicate column in the header",
        id="duplicate-header",
    ),
    pytest.param(
        lambda lines: lines[1:],
        f"{FILE}:1: column openb-pod-0000: unexpected column; expected columns are {ALL_COLUMNS}",
        id="no-header",
    ),
    pytest.param(
        lambda lines: [*lines[:-1], lines[-1][:19]],
        f"{FILE}:5: expected 11 fields, found 2 (truncated or malformed line)",
        id="truncated-line",
    ),
    pytest.param(
        cell(0, "scheduled_time", "0,7"),
        f"{FILE}:2: expected 11 fields, found 12 (truncated or malformed line)",
        id="extra-field",
    ),
    pytest.param(
        lambda lines: [*lines[:2], "", *lines[2:]],
        f"{FILE}:3: empty line",
        id="blank-line-inside",
    ),
    pytest.param(
        lambda lines: [],
        f"{FILE}: empty file; expected a header row name,cpu_milli,num_gpu,gpu_milli",
        id="empty-file",
    ),
]


def write(tmp_path: Path, lines: list[str], name: str = FILE) -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize(("edit", "message"), CASES)
def test_precise_error(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], message: str
) -> None:
    path = write(tmp_path, edit([HEADER, *ROWS]))
    with pytest.raises(TraceFormatError) as info:
        read_openb_pods(path)
    assert str(info.value) == message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_the_valid_file_loads(tmp_path: Path) -> None:
    pods = read_openb_pods(write(tmp_path, [HEADER, *ROWS]))
    assert pods.name.tolist() == [f"openb-pod-000{i}" for i in range(4)]
    assert pods.gpu_models[1] == ("V100M16", "V100M32")


def test_error_fields(tmp_path: Path) -> None:
    path = write(tmp_path, cell(1, "gpu_milli", "12x")([HEADER, *ROWS]))
    with pytest.raises(ValueError) as info:
        read_openb_pods(path)
    err = info.value
    assert isinstance(err, TraceFormatError)
    assert (err.file, err.line, err.column, err.reason) == (
        FILE,
        3,
        "gpu_milli",
        "'12x' is not an integer",
    )


def test_the_earliest_bad_line_wins_across_columns(tmp_path: Path) -> None:
    lines = cell(3, "cpu_milli", "x")(cell(1, "qos", "??")([HEADER, *ROWS]))
    with pytest.raises(TraceFormatError, match=rf"^{FILE}:3: column qos: "):
        read_openb_pods(write(tmp_path, lines))


def test_header_only_is_an_empty_table(tmp_path: Path) -> None:
    assert len(read_openb_pods(write(tmp_path, [HEADER]))) == 0


def test_trailing_blank_lines_are_ignored(tmp_path: Path) -> None:
    assert len(read_openb_pods(write(tmp_path, [HEADER, *ROWS, "", ""]))) == 4


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / FILE
    path.write_bytes("\r\n".join([HEADER, *ROWS]).encode() + b"\r\n")
    assert len(read_openb_pods(path)) == 4


def test_gzipped_file(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / (FILE + ".gz")
    path.write_bytes(gzip.compress("\n".join([HEADER, *ROWS, ""]).encode()))
    assert len(read_openb_pods(path)) == 4


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["n1,32000,262144,x,T4"], "nodes.csv:2: column gpu: 'x' is not an integer"),
        (["n1,32000,-1,0,"], "nodes.csv:2: column memory_mib: -1 is negative"),
        (
            ["n1,32000,262144,0,", "n1,1000,1,0,"],
            "nodes.csv:3: column sn: duplicate value 'n1' (first on line 2)",
        ),
        ([",32000,262144,0,"], "nodes.csv:2: column sn: missing value"),
    ],
    ids=["bad-gpu", "negative-memory", "duplicate-node", "missing-name"],
)
def test_node_list_errors(tmp_path: Path, rows: list[str], message: str) -> None:
    path = write(tmp_path, ["sn,cpu_milli,memory_mib,gpu,model", *rows], "nodes.csv")
    with pytest.raises(TraceFormatError) as info:
        read_openb_nodes(path)
    assert str(info.value) == message


DLRM_HEADER = (
    "instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,"
    "rdma_limit,memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,"
    "creation_time,scheduled_time,deletion_time"
)
DLRM_ROW = "instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (DLRM_ROW.replace("HN", "GN"), "dlrm.csv:3: column role: 'GN' is not one of 'CN', 'HN'"),
        (
            DLRM_ROW.replace("120.0,120.0", "12o,120.0"),
            "dlrm.csv:3: column memory_request: '12o' is not a number",
        ),
        (
            DLRM_ROW.replace(",25,25,", ",125,25,"),
            "dlrm.csv:3: column rdma_request: 125 exceeds the maximum 100",
        ),
        (
            DLRM_ROW.replace(",8,,,", ",0,,,"),
            "dlrm.csv:3: column max_instance_per_node: 0 allows no instance; use -1",
        ),
        (
            DLRM_ROW.replace(",8,,,", ",8,50,40,"),
            "dlrm.csv:3: column scheduled_time: 40 is before creation_time 50",
        ),
    ],
    ids=["bad-role", "bad-float", "rdma-over-100", "zero-per-node", "scheduled-before-created"],
)
def test_dlrm_errors(tmp_path: Path, row: str, message: str) -> None:
    path = write(
        tmp_path, [DLRM_HEADER, DLRM_ROW, row.replace("instance_0", "instance_1")], "dlrm.csv"
    )
    with pytest.raises(TraceFormatError) as info:
        read_dlrm2025(path)
    assert str(info.value) == message


@pytest.mark.parametrize("line", [1, 3], ids=["header", "data"])
def test_text_that_is_not_utf8(tmp_path: Path, line: int) -> None:
    lines = [row.encode() for row in [HEADER, *ROWS]]
    lines[line - 1] = b"\xff\xfe" + lines[line - 1]
    path = tmp_path / FILE
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(TraceFormatError) as info:
        read_openb_pods(path)
    assert str(info.value) == f"{FILE}:{line}: not UTF-8 text (byte 1 of the line)"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789-+.ex ", max_size=7), min_size=1, max_size=8))
def test_integer_cells_agree_with_python(cells: list[str]) -> None:
    """A cpu_milli cell is accepted exactly when Python reads it as an int64 >= 0."""

    def valid(text: str) -> bool:
        return re.fullmatch(r"-?[0-9]+", text) is not None and 0 <= int(text) < 2**63

    lines = ["sn,cpu_milli,memory_mib,gpu,model"]
    lines += [f"n{i},{text},1,0," for i, text in enumerate(cells)]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), lines, "nodes.csv")
        bad = [i for i, text in enumerate(cells) if not valid(text)]
        if not bad:
            assert read_openb_nodes(path).cpu_milli.tolist() == [int(c) for c in cells]
            return
        with pytest.raises(TraceFormatError) as info:
            read_openb_nodes(path)
    assert (info.value.line, info.value.column) == (bad[0] + 2, "cpu_milli")
