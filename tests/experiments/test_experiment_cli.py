"""``ksched experiment``: a cell and a grid from the command line; bad input is one clear line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ksched.cli.errors import UsageError
from ksched.cli.experiment_cmd import parse_seeds
from ksched.cli.main import main
from ksched.sim.runner import PROFILES_DIR

BAD_YAML = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: x
    percentageOfNodesToScore: lots
"""
UNKNOWN_PLUGIN = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: x
    plugins:
      score:
        enabled:
          - name: NoSuchPlugin
            weight: 1
"""


def test_cell_prints_the_curves_and_stores_the_record(
    tiny_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["experiment", "cell", "--policy", "default", "--trace-dir", str(tiny_trace)]
    assert main([*args, "--seed", "7", "--out", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["arrived", "%", "alloc", "%", "frag", "%", "frag", "rate", "%"]
    assert [line.split()[0] for line in lines[1:15]] == [str(i) for i in range(0, 131, 10)]
    assert "GPU allocation at 130% arrived:" in out
    record = tmp_path / "cells/tune-1.3/smallest-name/default/default/seed-7.json"
    data = json.loads(record.read_text())
    assert data["cell"] == {
        "workload": "default", "policy": "default", "seed": 7,
        "tie_break": "smallest-name", "tune": 1.3,
    }  # fmt: skip
    csv = record.with_suffix(".csv").read_text().splitlines()
    assert csv[0] == "arrived,alloc,frag,frag_ratio" and len(csv) == 132


def test_cell_json_output(tiny_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["experiment", "cell", "--policy", "default", "--trace-dir", str(tiny_trace), "--json"]
    assert main([*args, "--tie-break", "random"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cell"]["tie_break"] == "random"
    assert len(data["curves"]["alloc"]) == 131


def test_grid_then_table(
    tiny_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["experiment", "grid", "--policies", "default,most-allocated", "--workloads", "default"]
    args += ["--seeds", "42-43", "--workers", "1", "--trace-dir", str(tiny_trace)]
    assert main([*args, "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "2 policies x 1 workloads x 2 seeds x 1 tie-breaks = 4 runs" in captured.err
    assert "ran 4, already stored 0" in captured.err
    assert main([*args, "--out", str(tmp_path)]) == 0
    assert "ran 0, already stored 4" in capsys.readouterr().err
    summary = (tmp_path / "summary.csv").read_text().splitlines()
    assert summary[0] == "tune,tie_break,workload,policy,n,mean,std"
    assert [row.split(",")[3:5] for row in summary[1:]] == [
        ["default", "2"],
        ["most-allocated", "2"],
    ]
    assert main(["experiment", "table", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("GPU allocation (%) at 130%, tune 1.3, tie-break smallest-name")
    assert table[1].split() == ["policy", "default"]
    assert [row.split()[0] for row in table[2:]] == ["default", "most-allocated"]
    assert all("±" in row for row in table[2:])


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("42", [42]), ("42-45", [42, 43, 44, 45]), ("1,5-6", [1, 5, 6])],
    ids=["one", "range", "mixed"],
)
def test_seed_lists(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [("4-x", "--seeds must be N, N-M"), ("9-3", "ends before it starts"), ("1,1", "twice")],
    ids=["not-a-number", "backwards", "repeated"],
)
def test_bad_seed_lists(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_seeds(text)


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("ksched: error: "), err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cell", "--policy", "nope"], "unknown policy 'nope'"),
        (["cell", "--policy", "default", "--workload", "cpu999"], "unknown workload 'cpu999'"),
        (
            ["cell", "--policy", "default", "--workload", "cpu100"],
            "workload cpu100: .*openb_pod_list_cpu100.csv not found",
        ),
        (
            ["cell", "--policy", "default", "--tune", "-1"],
            "--tune must be a positive finite number",
        ),
        (["grid", "--out", "OUT", "--seeds", "4-x"], "--seeds must be N, N-M"),
        (["grid", "--out", "OUT", "--workers", "0"], "--workers must be >= 1"),
        (
            ["grid", "--out", "OUT", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
            "exclude each other",
        ),
        (["grid", "--out", "OUT", "--tie-breaks", "coin"], "--tie-breaks: unknown coin"),
        (
            ["grid", "--out", "OUT", "--policies", f"default,{PROFILES_DIR}/default.yaml"],
            "two policies share a name",
        ),
        (["grid", "--out", "OUT", "--policies", ","], "an empty list"),
        (
            ["grid", "--out", "OUT", "--workloads", "default,cpu050,default"],
            "names default more than once",
        ),
    ],
    ids=[
        "policy",
        "workload",
        "pod-list-missing",
        "tune",
        "seeds",
        "workers",
        "workers-and-scheduler",
        "tie-break",
        "duplicate-policy",
        "empty-list",
        "duplicate-workload",
    ],
)
def test_bad_arguments_are_one_clear_line(
    argv: list[str],
    message: str,
    tiny_trace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [a.replace("OUT", str(tmp_path)) for a in argv]
    err = _error(["experiment", *argv, "--trace-dir", str(tiny_trace)], capsys)
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BAD_YAML, r"bad\.yaml:5: profiles\[0\]\.percentageOfNodesToScore"),
        (UNKNOWN_PLUGIN, r"bad\.yaml:8: .*NoSuchPlugin.* not found"),
    ],
    ids=["bad-field", "unknown-plugin"],
)
def test_a_bad_profile_names_file_line_and_field(
    text: str, message: str, tiny_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    argv = [
        "experiment",
        "grid",
        "--policies",
        str(tmp_path / "bad.yaml"),
        "--workloads",
        "default",
    ]
    err = _error([*argv, "--out", str(tmp_path / "out"), "--trace-dir", str(tiny_trace)], capsys)
    assert re.search(message, err), err
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_missing_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(
        ["experiment", "cell", "--policy", "default", "--trace-dir", str(tmp_path / "x")], capsys
    )
    assert "--trace-dir" in err and "no such directory" in err
    err = _error(["experiment", "table", str(tmp_path)], capsys)
    assert "no results (expected a 'cells' directory)" in err


def test_an_unreachable_scheduler_is_a_clear_error(
    tiny_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["experiment", "grid", "--policies", "default", "--workloads", "default", "--seeds", "1"]
    argv += ["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "2"]
    err = _error([*argv, "--out", str(tmp_path), "--trace-dir", str(tiny_trace)], capsys)
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
