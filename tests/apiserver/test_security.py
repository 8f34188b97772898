"""Tokens, the authorisation policy, TLS, the development mode and the generated kubeconfig."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from ksched.apiserver import ApiServerProcess, AuthError, Authorizer, TokenAuthenticator

SCHEDULER = {"Authorization": "Bearer scheduler-token-0123456789"}
VIEWER = {"Authorization": "Bearer viewer-token-0123456789"}


def _status(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["kind"] == "Status" and body["code"] == response.status_code
    return response.status_code, body["reason"]


@pytest.fixture(scope="module")
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as session:
        yield session


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}],
    ids=["no-token", "bad-token", "basic-auth"],
)
def test_unauthenticated_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    assert _status(http.get("/api/v1/pods", headers=headers)) == (401, "Unauthorized")


def test_scheduler_identity_can_bind_but_not_delete_nodes(
    http: httpx.Client, admin_headers: dict[str, str]
) -> None:
    http.post("/api/v1/nodes", json={"metadata": {"name": "sched-node"}}, headers=admin_headers)
    pod = {"metadata": {"name": "sched-pod"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert (
        http.post("/api/v1/namespaces/default/pods", json=pod, headers=admin_headers).status_code
        == 201
    )
    assert http.get("/api/v1/pods", headers=SCHEDULER).status_code == 200
    binding = {"metadata": {"name": "sched-pod"}, "target": {"kind": "Node", "name": "sched-node"}}
    bound = http.post(
        "/api/v1/namespaces/default/pods/sched-pod/binding", json=binding, headers=SCHEDULER
    )
    assert bound.status_code == 201, bound.text
    code, reason = _status(http.delete("/api/v1/nodes/sched-node", headers=SCHEDULER))
    assert (code, reason) == (403, "Forbidden")
    denied = http.delete("/api/v1/nodes/sched-node", headers=SCHEDULER).json()["message"]
    assert 'User "system:kube-scheduler" cannot delete resource "nodes"' in denied
    assert (
        _status(http.post("/api/v1/namespaces/default/pods", json=pod, headers=SCHEDULER))[0] == 403
    )
    assert http.get("/api/v1/nodes/sched-node", headers=admin_headers).status_code == 200


def test_group_rule_allows_reading_only(http: httpx.Client) -> None:
    assert http.get("/apis/apps/v1/deployments", headers=VIEWER).status_code == 200
    ns = {"metadata": {"name": "viewer-ns"}}
    assert _status(http.post("/api/v1/namespaces", json=ns, headers=VIEWER)) == (403, "Forbidden")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tok,user\n", "line 1: expected token,user,uid[,groups], got 2 fields"),
        ("a,u,1\na,v,2\n", "line 2: duplicate token"),
        ("", "no tokens"),
    ],
    ids=["short-row", "duplicate", "empty"],
)
def test_bad_token_file_names_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text(text)
    with pytest.raises(AuthError, match=re.escape(message)):
        TokenAuthenticator.from_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: 3\n", "expected a mapping with a 'rules' list"),
        (
            "rules:\n  - users: [a]\n    verbs: [fly]\n    resources: [pods]\n",
            r"rules\[0\].verbs: unknown verb\(s\) fly",
        ),
        (
            "rules:\n  - users: [a]\n    verb: [get]\n    resources: [pods]\n",
            r"rules\[0\]: unknown field\(s\) verb",
        ),
        ("rules:\n  - verbs: [get]\n    resources: [pods]\n", "needs users or groups"),
    ],
    ids=["not-a-list", "bad-verb", "typo-field", "nobody"],
)
def test_bad_policy_file_names_rule(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(AuthError, match=message):
        Authorizer.from_file(path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ksched.cli.apiserver_cmd", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--anonymous-dev", "--bind-address", "0.0.0.0"], "only allowed on a loopback address"),
        ([], "give --token-auth-file"),
        (["--anonymous-dev", "--tls-cert-file", "x.crt"], "go together"),
    ],
    ids=["anonymous-off-loopback", "no-authentication", "half-tls"],
)
def test_unsafe_options_are_refused(args: list[str], message: str) -> None:
    result = _cli("--storage", "memory", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_tls_kubeconfig_works_with_official_client(
    tmp_path: Path, security_args: Callable[[Path], list[str]]
) -> None:
    with ApiServerProcess(tmp_path, *security_args(tmp_path / "sec"), tls=True) as server:
        assert server.url.startswith("https://127.0.0.1:")
        api = config.new_client_from_config(config_file=str(server.kubeconfig))
        core = client.CoreV1Api(api)
        names = [n.metadata.name for n in core.list_namespace().items]
        assert "default" in names
        api.close()
        with pytest.raises(httpx.ConnectError):  # not trusted without the CA
            httpx.get(f"{server.url}/version")


def test_anonymous_dev_mode_on_loopback(tmp_path: Path) -> None:
    with ApiServerProcess(tmp_path, "--anonymous-dev", "--storage", "memory") as server:
        assert server.token is None
        response = httpx.get(f"{server.url}/api/v1/namespaces")
        assert response.status_code == 200
        api = config.new_client_from_config(config_file=str(server.kubeconfig))
        with pytest.raises(ApiException) as err:
            client.CoreV1Api(api).read_namespace("missing")
        assert err.value.status == 404
        api.close()
