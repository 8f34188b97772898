"""A loopback API server for tests and benchmarks: ours (``ksched apiserver``) or upstream's.

``api_server("ksched", workdir)`` runs ``ksched apiserver`` (in-memory
storage, anonymous development mode on 127.0.0.1); ``api_server("kube",
workdir)`` runs the real etcd + kube-apiserver built by
``tools/k8s/build.sh`` (``ksched.testing.k8s.RealControlPlane``). Either
yields an admin kubeconfig path, so code under test only ever sees a
kubeconfig, as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Literal

__all__ = ["SERVER_KINDS", "ServerKind", "api_server", "kube_available"]

ServerKind = Literal["ksched", "kube"]
SERVER_KINDS: Final = ("ksched", "kube")


def kube_available() -> str | None:
    """None when the real control plane's binaries are built, else why not."""
    try:
        from ksched.testing.k8s import binary
    except ImportError as exc:
        return f"ksched.testing.k8s is not available ({exc})"
    for name in ("etcd", "kube-apiserver"):
        try:
            binary(name)
        except Exception as exc:  # BinaryMissingError, or the module's own failure
            return str(exc)
    return None


@contextmanager
def api_server(kind: ServerKind, workdir: Path, *args: str) -> Iterator[Path]:
    """Run an API server of ``kind`` while the context lasts; yields its kubeconfig."""
    if kind == "ksched":
        from ksched.apiserver.process import ApiServerProcess

        extra = args or ("--storage", "memory", "--anonymous-dev")
        with ApiServerProcess(workdir, *extra) as server:
            yield server.kubeconfig
    elif kind == "kube":
        from ksched.testing.k8s import RealControlPlane

        with RealControlPlane(apiserver_args=list(args)) as plane:
            yield plane.kubeconfig
    else:
        raise ValueError(
            f"The 'kind' parameter must be one of {SERVER_KINDS}. Got {kind!r} instead."
        )
