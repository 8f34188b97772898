"""The command line: the main job runs, and bad input is one clear line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ksched.cli.main import main

GOOD = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
"""

CLUSTER = """\
apiVersion: v1
kind: Node
metadata: {name: small, labels: {kubernetes.io/hostname: small}}
status: {allocatable: {cpu: "1", memory: 2Gi, pods: "10"}}
---
apiVersion: v1
kind: Node
metadata: {name: big, labels: {kubernetes.io/hostname: big}}
status: {allocatable: {cpu: "8", memory: 16Gi, pods: "10"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: c
    image: nginx
    resources: {requests: {cpu: "2", memory: 1Gi}}
"""


def test_schedule_on_the_generated_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "--nodes", "20", "--pods", "100", "--output", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["scheduled"] == 100
    assert len(out["bindings"]) == 100


def test_schedule_with_config_and_cluster_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.yaml").write_text(GOOD)
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    args = [
        "schedule",
        "--config",
        str(tmp_path / "c.yaml"),
        "--cluster",
        str(tmp_path / "cluster.yaml"),
    ]
    assert main([*args, "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["bindings"] == {"default/web": "big"}


def test_explain_prints_each_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cluster.yaml").write_text(CLUSTER)
    assert main(["explain", "--cluster", str(tmp_path / "cluster.yaml"), "--pod", "web"]) == 0
    out = capsys.readouterr().out
    assert "Insufficient cpu" in out
    assert "NodeResourcesBalancedAllocation" in out
    assert (
        main(
            [
                "explain",
                "--cluster",
                str(tmp_path / "cluster.yaml"),
                "--pod",
                "web",
                "--output",
                "json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["filter"]["small"]["NodeResourcesFit"] == "Insufficient cpu"
    assert data["feasible"] == ["big"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            GOOD + "  - name: NodeResourcesFit\n    args: {}\n",
            "pluginConfig[1]",
            id="repeated-plugin-config",
        ),
        pytest.param(
            GOOD.replace("MostAllocated", "Mostly"),
            "scoringStrategy.type",
            id="bad-args",
        ),
        pytest.param(
            GOOD
            + "  plugins:\n    score:\n      enabled:\n      - name: ImageLocality\n        weight: 101\n",
            "weight",
            id="bad-weight",
        ),
        pytest.param(
            GOOD + "  plugins:\n    filter:\n      enabled:\n      - name: NoSuchPlugin\n",
            "NoSuchPlugin",
            id="unknown-plugin",
        ),
        pytest.param("profiles: [\n", "invalid YAML", id="malformed-yaml"),
        pytest.param(
            GOOD + "---\napiVersion: ksched.io/v1alpha1\nkind: BatchPlacement\nwindow: 0\n",
            ":13: window: Input should be greater than or equal to 1",
            id="bad-batch-placement",
        ),
        pytest.param(GOOD + "---\na: 1\n---\nb: 2\n", "at most two YAML documents", id="3-docs"),
    ],
)
def test_bad_config_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text(text)
    assert main(["config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ksched: error: ")
    assert str(path) in err
    assert expected in err
    assert "Traceback" not in err


def test_a_policy_file_shows_its_batch_placement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        GOOD + "---\napiVersion: ksched.io/v1alpha1\nkind: BatchPlacement\nwindow: 50\n"
    )
    assert main(["config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "profile default-scheduler" in out
    assert "batch placement window=50, solver=cpsat, timeLimitSeconds=0.1" in out


def test_bad_cluster_file_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER.replace('cpu: "2"', "cpu: 2x"))
    assert main(["schedule", "--cluster", str(path)]) == 2
    err = capsys.readouterr().err
    assert "spec.containers[0].resources.requests.cpu" in err
    assert str(path) in err


def test_console_script_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ksched", "schedule", "--nodes", "5", "--pods", "7"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "scheduled 7/7 pods" in proc.stdout
