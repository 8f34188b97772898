"""The resource table: every REST resource the server serves, as data.

Routing, discovery, OpenAPI and authorisation all read this one table, so a
new resource is one ``Resource(...)`` entry plus its defaulting/validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = ["RESOURCES", "Resource", "find", "group_versions"]

_RW: Final = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, slots=True)
class Resource:
    """One REST resource: ``/api/v1/namespaces/{ns}/pods`` is group "", plural "pods"."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = _RW
    categories: tuple[str, ...] = ()
    # The spec of these kinds is versioned by metadata.generation.
    generation: bool = False
    # Objects of a create-only resource (bindings) are not stored.
    stored: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """The storage prefix: ``core/pods``, ``apps/deployments``."""
        return f"{self.group or 'core'}/{self.plural}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def base_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


@dataclass(frozen=True, slots=True)
class _Sub:
    kind: str
    verbs: tuple[str, ...] = field(default=("get", "patch", "update"))


# Subresources: what they hold and which verbs they take.
SUBRESOURCES: Final[dict[str, _Sub]] = {
    "status": _Sub("<parent>"),
    "binding": _Sub("Binding", ("create",)),
    "eviction": _Sub("Eviction", ("create",)),
    "scale": _Sub("Scale"),
}

RESOURCES: Final[tuple[Resource, ...]] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",)),
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        ("binding", "eviction", "status"),
        categories=("all",),
    ),
    Resource("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    Resource("", "v1", "events", "Event", True, ("ev",)),
    Resource("", "v1", "bindings", "Binding", True, verbs=("create",), stored=False),
    Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", "v1", "secrets", "Secret", True),
    Resource("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        ("scale", "status"),
        categories=("all",),
        generation=True,
    ),
    Resource(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        ("rs",),
        ("scale", "status"),
        categories=("all",),
        generation=True,
    ),
    Resource(
        "batch", "v1", "jobs", "Job", True, (), ("status",), categories=("all",), generation=True
    ),
    Resource(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        ("status",),
        generation=True,
    ),
    Resource("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
)

_BY_PATH: Final[dict[tuple[str, str, str], Resource]] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}


def find(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PATH.get((group, version, plural))


def group_versions() -> dict[str, list[str]]:
    """Group -> versions served, in table order ("" is the core group)."""
    found: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = found.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return found
