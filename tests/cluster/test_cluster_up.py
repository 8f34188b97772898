"""``ksched cluster up|down`` as a user runs it: real processes, a workload through them, cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ksched.cluster.processes import Component, alive, read_state
from ksched.controllers import DEPLOYMENTS, PODS, KubeClient, wait_until

KSCHED = [sys.executable, "-m", "ksched"]


def ksched(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KSCHED, *args], capture_output=True, text=True, timeout=timeout)


def components(directory: Path) -> list[Component]:
    state = json.loads((directory / "cluster.json").read_text())
    return [Component(**{**c, "command": tuple(c["command"])}) for c in state["components"]]


def deployment_available(client: KubeClient, replicas: int) -> bool:
    status = client.get(DEPLOYMENTS, "hello", "default").get("status") or {}
    return status.get("availableReplicas") == replicas


def test_up_detached_runs_a_deployment_and_down_leaves_no_process(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    directory = tmp_path / "c"
    up = ksched("cluster", "up", "--detach", "--nodes", "2", "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    kubeconfig = Path(up.stdout.strip())
    assert kubeconfig == directory.resolve() / "kubeconfig.yaml"
    comps = components(directory)
    assert [c.name for c in comps] == ["apiserver", "controller-manager", "kubelet", "scheduler"]
    try:
        assert all(alive(c) for c in comps)
        client = KubeClient(str(kubeconfig))
        request.addfinalizer(client.close)
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "hello"}},
                "template": {
                    "metadata": {"labels": {"app": "hello"}},
                    "spec": {"containers": [{"name": "main", "image": "hello"}]},
                },
            },
        }
        client.create(DEPLOYMENTS, body, "default")
        assert wait_until(lambda: deployment_available(client, 3), 60)
        pods = client.list(PODS, "default")["items"]
        assert {p["spec"]["nodeName"] for p in pods} <= {"node-0", "node-1"}
        assert all(p["status"]["phase"] == "Running" for p in pods)
    finally:
        down = ksched("cluster", "down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert "stopped 4 processes" in down.stdout
    assert not any(alive(c) for c in comps)
    assert read_state(directory)[1] == []


def test_up_in_foreground_stops_everything_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "c"
    with subprocess.Popen(
        [*KSCHED, "cluster", "up", "--nodes", "1", "--no-scheduler", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()  # the kubeconfig path, once everything is up
            assert line.strip().endswith("kubeconfig.yaml"), proc.stderr.read()
            comps = components(directory)
            assert [c.name for c in comps] == ["apiserver", "controller-manager", "kubelet"]
            assert all(alive(c) for c in comps)
            os.kill(proc.pid, signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    deadline = time.monotonic() + 5
    while any(alive(c) for c in comps) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(c) for c in comps)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cluster", "down", "--dir", "{tmp}/nothing"], "no cluster state here"),
        (
            ["cluster", "up", "--scheduler-config", "{tmp}/missing.yaml", "--dir", "{tmp}/c"],
            "no such file",
        ),
        (["kubelet", "--kubeconfig", "{tmp}/missing", "--nodes", "1"], "no such file"),
        (["controller-manager", "--kubeconfig", "{tmp}/missing"], "no such file"),
        (["replay", "--kubeconfig", "{tmp}/kc"], "--kubeconfig goes with --through-api"),
        (["kubelet", "--kubeconfig", "{tmp}/junk.yaml", "--nodes", "1"], "not a usable kubeconfig"),
        (
            ["kubelet", "--kubeconfig", "{tmp}/junk.yaml", "--nodes", "1", "--fail", "x"],
            "--fail must be NODE=AT[+FOR]",
        ),
    ],
    ids=[
        "down-without-state",
        "missing-scheduler-config",
        "kubelet-kubeconfig",
        "cm-kubeconfig",
        "kubeconfig-alone",
        "junk-kubeconfig",
        "bad-failure",
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "junk.yaml").write_text("just some text\n")
    result = ksched(*(a.format(tmp=tmp_path) for a in args), timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


DEPLOYMENT_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: nginx:1
"""


@pytest.mark.k8s
def test_kubectl_apply_rollout_status_set_image_and_scale(tmp_path: Path) -> None:
    """What a user types, with the real kubectl, against ``cluster up``'s stack."""
    from ksched.cluster.up import Cluster, ClusterOptions
    from ksched.testing.k8s import BinaryMissingError, binary

    try:
        kubectl = str(binary("kubectl"))
    except BinaryMissingError as exc:
        pytest.skip(str(exc))
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT_YAML)
    with Cluster(ClusterOptions(directory=tmp_path / "c", nodes=2)) as cluster:

        def run(*args: str) -> str:
            done = subprocess.run(
                [kubectl, "--kubeconfig", str(cluster.kubeconfig), *args],
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
            return done.stdout

        assert "created" in run("apply", "-f", str(manifest))
        assert "successfully rolled out" in run(
            "rollout", "status", "deployment/web", "--timeout=60s"
        )
        run("set", "image", "deployment/web", "main=nginx:2")
        assert "successfully rolled out" in run(
            "rollout", "status", "deployment/web", "--timeout=60s"
        )
        run("scale", "deployment/web", "--replicas=5")
        assert "successfully rolled out" in run(
            "rollout", "status", "deployment/web", "--timeout=60s"
        )
        client = KubeClient(str(cluster.kubeconfig))
        try:
            assert wait_until(lambda: deployment_ready(client, "web", 5), 60)
            images = {
                p["spec"]["containers"][0]["image"]
                for p in client.list(PODS, "default", label_selector="app=web")["items"]
                if not p["metadata"].get("deletionTimestamp")
            }
        finally:
            client.close()
        assert images == {"nginx:2"}
        replicasets = run(
            "get", "rs", "-o", "custom-columns=DESIRED:.spec.replicas", "--no-headers"
        )
        assert sorted(replicasets.split()) == ["0", "5"]


def deployment_ready(client: KubeClient, name: str, replicas: int) -> bool:
    status = client.get(DEPLOYMENTS, name, "default").get("status") or {}
    return status.get("availableReplicas") == replicas and status.get("replicas") == replicas
