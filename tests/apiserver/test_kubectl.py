"""The real ``kubectl`` (built from its Go module by tools/k8s/build.sh) against the server.

``apply`` (create, then a client-side-apply strategic merge patch), ``get -o
yaml``, ``get -w``, ``describe``, ``scale``, ``delete`` and ``rollout status``
(with ``ksched controller-manager`` and ``ksched kubelet`` running against
the same server). kubectl only sends bearer tokens over TLS, so the server
serves a self-signed certificate that the generated kubeconfig trusts.
Skipped locally when kubectl is not built; a failure under CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ksched.apiserver import ApiServerProcess
from ksched.testing.k8s import BinaryMissingError, binary

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        resources:
          requests: {cpu: 100m, memory: 64Mi}
"""

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: solo}
spec:
  containers:
  - name: c
    image: busybox:1.36
"""


@pytest.fixture(scope="module")
def kubectl_path() -> Path:
    try:
        return binary("kubectl")
    except BinaryMissingError as err:
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory, kubectl_path: Path
) -> Iterator[ApiServerProcess]:
    workdir = tmp_path_factory.mktemp("kubectl")
    tokens = workdir / "tokens.csv"
    tokens.write_text('kubectl-admin-token,admin,1,"system:masters"\n')
    with ApiServerProcess(workdir, "--token-auth-file", str(tokens), tls=True) as server:
        yield server


Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def kubectl(kubectl_path: Path, tls_server: ApiServerProcess) -> Kubectl:
    env = {**os.environ, "KUBECONFIG": str(tls_server.kubeconfig), "HOME": str(tls_server.workdir)}

    def run(
        *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(kubectl_path), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stderr}"
        return result

    return run


def _get(kubectl: Kubectl, *what: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(kubectl("get", *what, "-o", "yaml").stdout)
    return doc


def test_version_and_api_resources(kubectl: Kubectl) -> None:
    assert "Server Version: v1.37" in kubectl("version").stdout
    resources = kubectl("api-resources", "-o", "name").stdout.split()
    assert {"pods", "nodes", "deployments.apps", "jobs.batch", "leases.coordination.k8s.io"} <= set(
        resources
    )


def _fields(explained: str) -> set[str]:
    """The field names ``kubectl explain`` lists under FIELDS."""
    listed = explained.split("FIELDS:", 1)[1]
    # Field lines are indented two spaces, their descriptions four.
    return {
        line.split()[0]
        for line in listed.splitlines()
        if line.startswith("  ") and not line.startswith("    ") and "<" in line
    }


def test_explain_walks_the_served_schemas(kubectl: Kubectl) -> None:
    tolerations = kubectl("explain", "pods.spec.tolerations").stdout
    assert "FIELD: tolerations <[]Toleration>" in tolerations
    assert _fields(tolerations) == {"effect", "key", "operator", "tolerationSeconds", "value"}
    resources = kubectl("explain", "deployment.spec.template.spec.containers.resources").stdout
    assert {"limits", "requests"} <= _fields(resources)
    # An embedded struct's fields are the parent's, as in JSON (Volume inlines VolumeSource).
    assert {"name", "emptyDir", "configMap"} <= _fields(
        kubectl("explain", "pods.spec.volumes").stdout
    )
    assert "value" in _fields(kubectl("explain", "priorityclass").stdout)
    assert {"data", "binaryData", "immutable"} <= _fields(kubectl("explain", "configmap").stdout)
    assert {"data", "stringData", "type"} <= _fields(kubectl("explain", "secret").stdout)


def test_apply_create_then_update_get_yaml(kubectl: Kubectl) -> None:
    assert "deployment.apps/web created" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT).stdout
    created = _get(kubectl, "deployment", "web")
    assert created["spec"]["replicas"] == 2 and created["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in created["metadata"]["annotations"]
    changed = DEPLOYMENT.replace("replicas: 2", "replicas: 3").replace("nginx:1.27", "nginx:1.28")
    assert "deployment.apps/web configured" in kubectl("apply", "-f", "-", stdin=changed).stdout
    updated = _get(kubectl, "deployment", "web")
    assert updated["spec"]["replicas"] == 3
    assert updated["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert updated["metadata"]["generation"] == 2
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=changed).stdout


def test_diff_shows_only_what_changes(kubectl: Kubectl) -> None:
    """kubectl diff dry-runs a patch on the server; an emptied map is not written, as upstream."""
    kubectl("create", "deployment", "diffed", "--image=nginx", "--replicas=2")
    manifest = (
        DEPLOYMENT.replace("name: web", "name: diffed")
        .replace("app: web", "app: diffed")
        .replace("nginx:1.27", "nginx")
        .replace("replicas: 2", "replicas: 3")
    )
    manifest = manifest.replace(
        "        resources:\n          requests: {cpu: 100m, memory: 64Mi}\n", ""
    )
    result = kubectl("diff", "-f", "-", stdin=manifest, check=False)
    assert result.returncode == 1, result.stderr  # 1: differences found
    changed = [
        line
        for line in result.stdout.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ["-  generation: 1", "+  generation: 2", "-  replicas: 2", "+  replicas: 3"]
    assert _get(kubectl, "deployment", "diffed")["spec"]["replicas"] == 2  # a dry run
    kubectl("delete", "deployment", "diffed")


def test_get_prints_server_side_columns(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=POD.replace("name: solo", "name: table"))
    header, row = kubectl("get", "pod", "table", "-o", "wide").stdout.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:3] == ["table", "0/1", "Pending"]
    namespaces = kubectl("get", "namespaces").stdout
    assert "kube-system" in namespaces and "Active" in namespaces
    kubectl("delete", "pod", "table")


def test_describe_and_scale(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    text = kubectl("describe", "deployment", "web").stdout
    assert "Selector:               app=web" in text
    assert "RollingUpdateStrategy:  25% max unavailable, 25% max surge" in text
    assert (
        "deployment.apps/web scaled" in kubectl("scale", "deployment", "web", "--replicas=5").stdout
    )
    assert _get(kubectl, "deployment", "web")["spec"]["replicas"] == 5


def test_create_commands_send_protobuf_bodies(kubectl: Kubectl) -> None:
    """``kubectl create <kind>`` uses typed clients, which send protobuf: decoded as upstream."""
    assert "namespace/made created" in kubectl("create", "namespace", "made").stdout
    out = kubectl("create", "deployment", "made", "-n", "made", "--image=nginx", "--replicas=0")
    assert "deployment.apps/made created" in out.stdout
    out = kubectl("create", "job", "made", "-n", "made", "--image=busybox", "--", "echo", "hi")
    assert "job.batch/made created" in out.stdout
    pdb = (
        "poddisruptionbudget",
        "made",
        "-n",
        "made",
        "--selector=app=made",
        "--min-available=50%",
    )
    assert "poddisruptionbudget.policy/made created" in kubectl("create", *pdb).stdout
    deployment = _get(kubectl, "deployment", "made", "-n", "made")
    assert deployment["spec"]["replicas"] == 0  # a pointer's zero survives decoding
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "made"}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx" and container["resources"] == {}
    assert "stdin" not in container and "creationTimestamp" not in deployment["spec"]["template"]
    job = _get(kubectl, "job", "made", "-n", "made")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    budget = _get(kubectl, "poddisruptionbudget", "made", "-n", "made")
    assert budget["spec"]["minAvailable"] == "50%"  # an IntOrString's string
    kubectl("delete", "namespace", "made")
    made = kubectl("create", "priorityclass", "made", "--value=700", "--preemption-policy=Never")
    assert "priorityclass.scheduling.k8s.io/made created" in made.stdout
    header, *rows = kubectl("get", "pc").stdout.splitlines()
    assert header.split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    row = next(r.split() for r in rows if r.startswith("made "))
    assert (row[1], row[2], row[4]) == ("700", "false", "Never")
    assert any(r.startswith("system-node-critical ") for r in rows)
    kubectl("delete", "priorityclass", "made")
    # drain without eviction deletes through a typed client: DeleteOptions as protobuf.
    kubectl("create", "-f", "-", stdin="apiVersion: v1\nkind: Node\nmetadata: {name: drained}\n")
    bound = POD.replace("name: solo", "name: on-drained").replace(
        "spec:", "spec:\n  nodeName: drained", 1
    )
    kubectl("create", "-f", "-", stdin=bound)
    drained = kubectl(
        "drain", "drained", "--disable-eviction", "--force", "--grace-period=0", "--timeout=60s"
    )
    assert "node/drained drained" in drained.stdout
    gone = kubectl("get", "pod", "on-drained", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    kubectl("delete", "node", "drained")


CONFIG_MAP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  mode: fast
  level: "3"
"""


def test_config_maps_and_secrets(kubectl: Kubectl) -> None:
    """Created from literals (protobuf bodies), applied, listed with upstream's columns."""
    made = kubectl("create", "configmap", "literal", "--from-literal=a=1", "--from-literal=b=2")
    assert "configmap/literal created" in made.stdout
    assert _get(kubectl, "cm", "literal")["data"] == {"a": "1", "b": "2"}
    assert "configmap/settings created" in kubectl("apply", "-f", "-", stdin=CONFIG_MAP).stdout
    changed = CONFIG_MAP.replace('level: "3"', "extra: yes-it-is")
    assert "configmap/settings configured" in kubectl("apply", "-f", "-", stdin=changed).stdout
    # Client-side apply removes the key the last applied configuration had and this one lacks.
    assert _get(kubectl, "configmap", "settings")["data"] == {"mode": "fast", "extra": "yes-it-is"}
    header, *rows = kubectl("get", "configmaps").stdout.splitlines()
    assert header.split() == ["NAME", "DATA", "AGE"]
    assert next(r.split() for r in rows if r.startswith("literal "))[1] == "2"

    out = kubectl("create", "secret", "generic", "creds", "--from-literal=user=ada")
    assert "secret/creds created" in out.stdout
    secret = _get(kubectl, "secret", "creds")
    assert secret["type"] == "Opaque" and secret["data"] == {"user": "YWRh"}  # base64 of "ada"
    header, *rows = kubectl("get", "secrets").stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert next(r.split() for r in rows if r.startswith("creds "))[1:3] == ["Opaque", "1"]
    assert "user:  3 bytes" in kubectl("describe", "secret", "creds").stdout
    refused = kubectl("create", "configmap", "bad", "--from-literal=no way=1", check=False)
    assert refused.returncode != 0 and "a valid config key must consist of" in refused.stderr
    kubectl("delete", "configmap", "literal", "settings")
    kubectl("delete", "secret", "creds")


def test_describe_shows_events_written_through_events_k8s_io(kubectl: Kubectl) -> None:
    """The scheduler writes events.k8s.io Events; describe reads core/v1 ones: the same objects."""
    kubectl("apply", "-f", "-", stdin=POD.replace("name: solo", "name: waiting"))
    uid = _get(kubectl, "pod", "waiting")["metadata"]["uid"]
    event = f"""
apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: waiting.1}}
eventTime: "2026-11-29T05:00:00.000000Z"
reportingController: ksched
reportingInstance: ksched-host
action: Scheduling
reason: FailedScheduling
type: Warning
note: "0/3 nodes are available: 3 Insufficient cpu."
regarding: {{apiVersion: v1, kind: Pod, namespace: default, name: waiting, uid: {uid}}}
"""
    assert (
        "event.events.k8s.io/waiting.1 created" in kubectl("create", "-f", "-", stdin=event).stdout
    )
    described = kubectl("describe", "pod", "waiting").stdout
    events = described.split("Events:", 1)[1]
    assert "FailedScheduling" in events
    assert "0/3 nodes are available: 3 Insufficient cpu." in events
    for resource in ("events", "events.events.k8s.io"):
        header, *rows = kubectl("get", resource).stdout.splitlines()
        assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        row = next(r for r in rows if "pod/waiting" in r)
        assert row.split()[1:4] == ["Warning", "FailedScheduling", "pod/waiting"]
    # Each API selects by its own field labels, and refuses the other's as upstream does.
    for resource, label in (("events", "involvedObject"), ("events.events.k8s.io", "regarding")):
        listed = kubectl("get", resource, "--field-selector", f"{label}.name=waiting", "-o", "name")
        assert listed.stdout.split() == [f"{resource.replace('events', 'event', 1)}/waiting.1"]
    refused = kubectl(
        "get", "events.events.k8s.io", "--field-selector", "involvedObject.name=x", check=False
    )
    assert refused.returncode != 0
    assert "field label not supported: involvedObject.name" in refused.stderr
    kubectl("delete", "pod", "waiting")


def test_pod_describe_watch_delete(
    kubectl: Kubectl, kubectl_path: Path, tls_server: ApiServerProcess
) -> None:
    assert "pod/solo created" in kubectl("apply", "-f", "-", stdin=POD).stdout
    described = kubectl("describe", "pod", "solo").stdout
    assert "QoS Class:        BestEffort" in described
    assert "node.kubernetes.io/not-ready:NoExecute op=Exists for 300s" in described
    env = {**os.environ, "KUBECONFIG": str(tls_server.kubeconfig), "HOME": str(tls_server.workdir)}
    watcher = subprocess.Popen(
        [str(kubectl_path), "get", "pods", "solo", "-w", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: list[str] = []

    def read() -> None:
        assert watcher.stdout is not None
        lines.extend(iter(watcher.stdout.readline, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        wait_for(1)  # the initial list is printed: the watch is open
        kubectl("label", "pod", "solo", "tier=a")
        assert 'pod "solo" deleted' in kubectl("delete", "pod", "solo").stdout
        wait_for(3)
    finally:
        watcher.terminate()
        watcher.wait(10)
        reader.join(10)
        assert watcher.stdout is not None
        watcher.stdout.close()
    # The initial state, the label change and the deletion.
    assert [line.strip() for line in lines[:3]] == ["pod/solo"] * 3, lines
    assert kubectl("get", "pod", "solo", check=False).returncode != 0


def _bind_pending(server: ApiServerProcess, node: str, stop: threading.Event) -> None:
    """Stand in for a scheduler: bind every pending pod to ``node``."""
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(
        base_url=server.url, headers=headers, verify=server.ssl_context() or True
    ) as http:
        while not stop.is_set():
            pods = http.get("/api/v1/pods", params={"fieldSelector": "spec.nodeName="}).json()
            for pod in pods.get("items", []):
                meta = pod["metadata"]
                http.post(
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding",
                    json={
                        "metadata": {"name": meta["name"]},
                        "target": {"kind": "Node", "name": node},
                    },
                )
            stop.wait(0.2)


def test_rollout_status_with_controllers_and_kubelets(
    kubectl: Kubectl, tls_server: ApiServerProcess
) -> None:
    """Needs ``ksched controller-manager`` and ``ksched kubelet`` (the control-plane issue's other half)."""
    kubeconfig = str(tls_server.kubeconfig)
    log = (tls_server.workdir / "components.log").open("w")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ksched", "controller-manager", "--kubeconfig", kubeconfig],
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "ksched", "kubelet", "--kubeconfig", kubeconfig, "--nodes", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        ),
    ]
    stop = threading.Event()
    binder = threading.Thread(target=_bind_pending, args=(tls_server, "node-0", stop), daemon=True)
    binder.start()
    try:
        rollout = DEPLOYMENT.replace("name: web", "name: rolled").replace("app: web", "app: rolled")
        kubectl("apply", "-f", "-", stdin=rollout)
        result = kubectl("rollout", "status", "deployment/rolled", "--timeout=90s", check=False)
        assert result.returncode == 0, (
            result.stderr + (tls_server.workdir / "components.log").read_text()[-3000:]
        )
        assert 'deployment "rolled" successfully rolled out' in result.stdout
        # A second revision, then back: undo patches the Deployment's revision annotation.
        kubectl("set", "image", "deployment/rolled", "nginx=nginx:1.28")
        kubectl("rollout", "status", "deployment/rolled", "--timeout=90s")
        history = kubectl("rollout", "history", "deployment/rolled").stdout.split()
        assert history[-4:] == ["1", "<none>", "2", "<none>"], history
        assert (
            "deployment.apps/rolled rolled back"
            in kubectl("rollout", "undo", "deployment/rolled").stdout
        )
        kubectl("rollout", "status", "deployment/rolled", "--timeout=90s")
        rolled = _get(kubectl, "deployment", "rolled")
        assert rolled["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
        assert rolled["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    finally:
        stop.set()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        log.close()
        binder.join(5)
