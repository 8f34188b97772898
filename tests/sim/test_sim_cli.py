"""``ksched replay`` end to end on tiny traces, and the profile runner behind it."""

from __future__ import annotations

import argparse
import importlib.util
import textwrap
from pathlib import Path

import pytest

from ksched.cli import replay_cmd
from ksched.cli.errors import UsageError
from ksched.sim import builtin_profiles, compare, load_profiles, read_results
from ksched.traces import synthetic

TINY = ["--trace", "synthetic", "--trace-arg", "n_nodes=12", "--trace-arg", "n_pods=150"]


def replay(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ksched")
    replay_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["replay", *argv])
    return int(args.run(args))


def test_builtin_profiles_are_default_and_bin_packing() -> None:
    profiles = builtin_profiles("smallest-name")
    assert [p.name for p in profiles] == ["default", "most-allocated"]
    assert [p.scheduler_name for p in profiles] == ["default-scheduler", "most-allocated"]
    assert {p.tie_break for p in profiles} == {"smallest-name"}


def test_a_file_with_several_profiles_gives_one_per_scheduler_name(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            apiVersion: kubescheduler.config.k8s.io/v1
            kind: KubeSchedulerConfiguration
            profiles:
              - schedulerName: a
              - schedulerName: b
            """
        )
    )
    assert [(p.name, p.scheduler_name) for p in load_profiles(path)] == [("a", "a"), ("b", "b")]
    with pytest.raises(ValueError, match="unique"):
        compare(synthetic(n_nodes=2, n_pods=2), [*load_profiles(path), *load_profiles(path)])


def test_replay_prints_the_table_and_writes_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert replay(*TINY, "--out", str(out), "--no-progress", "--seed", "3") == 0
    printed = capsys.readouterr().out
    assert "default" in printed and "most-allocated" in printed
    assert "pods placed" in printed or "pods_placed" in printed
    results = read_results(out)
    assert [r.profile for r in results] == ["default", "most-allocated"]
    assert {(r.protocol, r.seed) for r in results} == {("arrival", 3)}
    assert f"results: {out}" in printed
    if importlib.util.find_spec("ksched.report") is not None:
        assert (out / "report.html").is_file()


def test_replay_time_protocol_on_a_workload_directory_with_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wl = synthetic(n_nodes=6, n_pods=80, seed=4)
    trace = wl.to_parquet(tmp_path / "trace")
    config = tmp_path / "spread.yaml"
    config.write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
    )
    out = tmp_path / "out"
    argv = ["--trace", str(trace), "--config", str(config), "--protocol", "time"]
    argv += ["--horizon", "3000", "--time-compression", "2", "--out", str(out), "--no-progress"]
    assert replay(*argv) == 0
    (result,) = read_results(out)
    assert (result.profile, result.protocol) == ("spread", "time")
    assert result.summary["end_time_s"] == 1500
    assert "queue" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trace", "no-such-trace"], "no trace loader"),
        (["--trace", "synthetic", "--trace-arg", "n_nodes"], "KEY=VALUE"),
        (["--trace", "synthetic", "--trace-arg", "bogus=1"], "--trace synthetic"),
    ],
    ids=["unknown-trace", "bad-trace-arg", "bad-loader-option"],
)
def test_bad_traces_are_usage_errors(argv: list[str], message: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=message):
        replay(*argv, "--out", str(tmp_path), "--no-progress")


def test_a_directory_that_is_not_a_workload_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a workload directory"):
        replay("--trace", str(tmp_path), "--no-progress")
