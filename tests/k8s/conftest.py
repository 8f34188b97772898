"""Fixtures that run the real Kubernetes control plane built by tools/k8s/build.sh.

Tests that need it live under tests/k8s/ and carry the ``k8s`` marker. Where
the binaries are missing they skip, except under CI (``CI`` set), where
.ci/run builds them first and a missing binary is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ksched.testing.k8s import COMPONENTS, BinaryMissingError, RealControlPlane, binary


def require_k8s_binaries() -> None:
    """Skip (locally) or fail (in CI) when a component is not built."""
    try:
        for name in COMPONENTS:
            binary(name)
    except BinaryMissingError as err:
        if os.environ.get("CI"):
            pytest.fail(str(err))
        pytest.skip(str(err))


@pytest.fixture
def k8s_binaries() -> None:
    """For tests that start ``RealControlPlane`` themselves."""
    require_k8s_binaries()


@pytest.fixture(scope="module")
def k8s_cluster() -> Iterator[RealControlPlane]:
    """etcd, kube-apiserver and kube-scheduler shared by one test module.

    Tests sharing it must use names of their own; tests that kill or restart
    components take ``k8s_control_plane_factory`` instead.
    """
    require_k8s_binaries()
    with RealControlPlane(scheduler=True) as cp:
        yield cp


@pytest.fixture
def k8s_control_plane_factory() -> Iterator[Callable[..., RealControlPlane]]:
    """Starts dedicated control planes (``RealControlPlane`` keywords); all stop after the test."""
    require_k8s_binaries()
    started: list[RealControlPlane] = []

    def start(**kwargs: Any) -> RealControlPlane:
        cp = RealControlPlane(**kwargs)
        cp.start()
        started.append(cp)
        return cp

    yield start
    for cp in reversed(started):
        cp.stop()
