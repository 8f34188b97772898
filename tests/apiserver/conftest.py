"""A real ``ksched apiserver`` process on a loopback port, shared by the tests of a module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from ksched.apiserver import ApiServerProcess

ADMIN_TOKEN = "admin-token-0123456789"
SCHEDULER_TOKEN = "scheduler-token-0123456789"
VIEWER_TOKEN = "viewer-token-0123456789"

TOKENS = f"""{ADMIN_TOKEN},admin,1,"system:masters"
{SCHEDULER_TOKEN},system:kube-scheduler,2
{VIEWER_TOKEN},viewer,3,"viewers,devs"
"""

POLICY = """rules:
  - users: [system:kube-scheduler]
    verbs: [get, list, watch]
    resources: [pods, nodes, namespaces, poddisruptionbudgets, leases]
  - users: [system:kube-scheduler]
    verbs: [create]
    resources: [pods/binding, bindings, events]
  - users: [system:kube-scheduler]
    verbs: [update, patch]
    resources: [pods/status, leases]
  - groups: [viewers]
    verbs: [get, list, watch]
    resources: ["*"]
"""


def _security_files(directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tokens.csv").write_text(TOKENS)
    (directory / "policy.yaml").write_text(POLICY)
    return [
        "--token-auth-file",
        str(directory / "tokens.csv"),
        "--authorization-policy-file",
        str(directory / "policy.yaml"),
    ]


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    """A server with SQLite storage, tokens and a policy; the admin token in its kubeconfig."""
    workdir = tmp_path_factory.mktemp("apiserver")
    args = [*_security_files(workdir), "--bookmark-interval", "1"]
    with ApiServerProcess(workdir, *args) as server:
        yield server


@pytest.fixture(scope="module")
def api(apiserver: ApiServerProcess) -> Iterator[client.ApiClient]:
    """The official Python client, unmodified, with the admin kubeconfig."""
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture
def security_args() -> Callable[[Path], list[str]]:
    """Writes the token and policy files into a directory; the server arguments naming them."""
    return _security_files


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
