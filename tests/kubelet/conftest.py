"""A real API server on loopback per test: ours, and upstream's when it is built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ksched.cluster.servers import api_server, kube_available
from ksched.controllers import KubeClient


@pytest.fixture(params=["ksched", pytest.param("kube", marks=pytest.mark.k8s)])
def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "kube":
        why = kube_available()
        if why is not None:
            pytest.skip(f"real kube-apiserver not built: {why}")
    with api_server(request.param, tmp_path / "api") as path:
        yield str(path)


@pytest.fixture
def client(kubeconfig: str) -> Iterator[KubeClient]:
    with KubeClient(kubeconfig) as c:
        yield c
