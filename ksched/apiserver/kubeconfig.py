"""Writing a kubeconfig that points kubectl and client libraries at this server."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["write_kubeconfig"]


def write_kubeconfig(
    path: Path, server: str, *, user: str, token: str | None, ca_file: Path | None
) -> None:
    """Write (atomically, mode 0600: it may hold a token) a one-context kubeconfig."""
    cluster: dict[str, Any] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_file.read_bytes()).decode()
    credentials: dict[str, Any] = {"token": token} if token else {}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "ksched", "cluster": cluster}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [
            {
                "name": "ksched",
                "context": {"cluster": "ksched", "user": user, "namespace": "default"},
            }
        ],
        "current-context": "ksched",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    os.replace(tmp, path)
