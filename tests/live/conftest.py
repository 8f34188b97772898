"""A real kube-apiserver and kube-scheduler, and ``ksched run`` processes against them.

The control plane is ``ksched.testing.k8s.RealControlPlane`` (binaries built
by tools/k8s/build.sh): without them these tests skip locally and fail in CI.
ksched authenticates as the ``kube-system/ksched`` ServiceAccount, whose RBAC
is applied from ``deploy/rbac.yaml`` with kubectl, exactly as a cluster
operator would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_support import KschedProcess, ksched_kubeconfig

from ksched.testing.k8s import COMPONENTS, BinaryMissingError, RealControlPlane, binary


def require_k8s_binaries() -> None:
    try:
        for name in COMPONENTS:
            binary(name)
    except BinaryMissingError as err:
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def cluster() -> Iterator[RealControlPlane]:
    """etcd + kube-apiserver + kube-scheduler for one module; tests use namespaces of their own."""
    require_k8s_binaries()
    with RealControlPlane(scheduler=True) as cp:
        yield cp


@pytest.fixture(scope="module")
def kubeconfig(cluster: RealControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig with the ``kube-system/ksched`` ServiceAccount's token (deploy/ RBAC applied)."""
    return ksched_kubeconfig(cluster, tmp_path_factory.mktemp("ksched"))


@pytest.fixture
def start_ksched(kubeconfig: Path, tmp_path: Path) -> Iterator[Callable[..., KschedProcess]]:
    """Starts ``ksched run`` processes (``KschedProcess`` keywords); all are stopped after the test."""
    started: list[KschedProcess] = []

    def start(**kwargs: object) -> KschedProcess:
        proc = KschedProcess(kubeconfig, tmp_path / f"ksched-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.kill()
