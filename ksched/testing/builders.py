"""Builders of real ``ksched.api`` objects for tests, and a harness that runs a plugin both ways.

Keywords name what a test cares about; everything else takes a harmless
default.  Nested structures (affinity, ports) are written as Kubernetes
JSON, so a case reads like the manifest it stands for.  Taints may be
written in ``kubectl taint`` syntax (``"key=value:Effect"``).

``run_filter``/``run_score`` drive a plugin through its extension points
the way the runtime does, in the per-node form and the vectorised form
(over all nodes and over a reordered subset), and fail when they disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ksched.api import Node, Pod, Taint, Toleration
from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import PreFilterResult
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeSet
from ksched.framework.status import Code, Status

JSON = dict[str, Any]
MB = 1024 * 1024

DEFAULT_ALLOCATABLE: Mapping[str, str] = {"cpu": "4", "memory": "16Gi", "pods": "110"}


def parse_taint(text: str) -> JSON:
    """``key=value:Effect`` or ``key:Effect``, as ``kubectl taint`` writes them."""
    rest, _, effect = text.rpartition(":")
    key, sep, value = rest.partition("=")
    out: JSON = {"key": key, "effect": effect}
    if sep:
        out["value"] = value
    return out


def _json(obj: Any) -> Any:
    if isinstance(obj, (Taint, Toleration)):
        return obj.model_dump(by_alias=True, exclude_none=True)
    return obj


def make_node(
    name: str = "node-1",
    *,
    labels: Mapping[str, str] | None = None,
    taints: Iterable[str | Mapping[str, Any] | Taint] = (),
    images: Iterable[tuple[str | Sequence[str], int]] = (),
    allocatable: Mapping[str, str | int] | None = None,
    unschedulable: bool = False,
) -> Node:
    """A Node; ``images`` are ``(name or names, size in bytes)``."""
    alloc = {k: str(v) for k, v in (allocatable or DEFAULT_ALLOCATABLE).items()}
    spec: JSON = {}
    taint_list = [parse_taint(t) if isinstance(t, str) else _json(t) for t in taints]
    if taint_list:
        spec["taints"] = taint_list
    if unschedulable:
        spec["unschedulable"] = True
    status: JSON = {"allocatable": alloc, "capacity": dict(alloc)}
    image_list = [
        {"names": [n] if isinstance(n, str) else list(n), "sizeBytes": size} for n, size in images
    ]
    if image_list:
        status["images"] = image_list
    return Node.model_validate(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": dict(labels or {})},
            "spec": spec,
            "status": status,
        }
    )


def make_pod(
    name: str = "pod",
    *,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    node_name: str = "",
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any] | Toleration] = (),
    affinity: Mapping[str, Any] | None = None,
    images: Sequence[str] = ("registry.k8s.io/pause:3.10",),
    init_images: Sequence[str] = (),
    host_ports: Iterable[int | Mapping[str, Any]] = (),
    requests: Mapping[str, str] | None = None,
    priority: int | None = None,
    **spec: Any,
) -> Pod:
    """A Pod with one container per image; host ports go on the first container.

    A host port given as an int becomes ``{"containerPort": p, "hostPort": p}``;
    a mapping is a ContainerPort in JSON.  Extra keywords are PodSpec fields in JSON.
    """
    containers: list[JSON] = [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]
    if not containers:
        containers = [{"name": "c0"}]
    if requests:
        containers[0]["resources"] = {"requests": dict(requests)}
    ports = [
        {"containerPort": p, "hostPort": p} if isinstance(p, int) else dict(p) for p in host_ports
    ]
    if ports:
        containers[0]["ports"] = ports
    full: JSON = {"containers": containers, **spec}
    if init_images:
        full["initContainers"] = [
            {"name": f"init{i}", "image": img} for i, img in enumerate(init_images)
        ]
    if node_name:
        full["nodeName"] = node_name
    if node_selector:
        full["nodeSelector"] = dict(node_selector)
    toleration_list = [_json(t) for t in tolerations]
    if toleration_list:
        full["tolerations"] = toleration_list
    if affinity is not None:
        full["affinity"] = dict(affinity)
    if priority is not None:
        full["priority"] = priority
    return Pod.model_validate(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{namespace}-{name}",
                "labels": dict(labels or {}),
            },
            "spec": full,
        }
    )


def make_pod_info(name: str = "pod", **kw: Any) -> PodInfo:
    return PodInfo.from_pod(make_pod(name, **kw))


def make_snapshot(nodes: Iterable[Node], pods: Iterable[Pod] = ()) -> ClusterSnapshot:
    """A snapshot of ``nodes`` with ``pods`` bound to their ``spec.nodeName``."""
    snap = ClusterSnapshot()
    snap.add_nodes(nodes)
    for pod in pods:
        info = PodInfo.from_pod(pod)
        snap.add_pod(info, info.node_name)
    return snap


# -- selector JSON ---------------------------------------------------------------------------
def requirement(key: str, operator: str, *values: str) -> JSON:
    """A NodeSelectorRequirement / LabelSelectorRequirement in JSON."""
    out: JSON = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


def term(*expressions: JSON, fields: Sequence[JSON] = ()) -> JSON:
    """A NodeSelectorTerm: matchExpressions ANDed with matchFields."""
    out: JSON = {}
    if expressions:
        out["matchExpressions"] = list(expressions)
    if fields:
        out["matchFields"] = list(fields)
    return out


def node_affinity(
    required: Sequence[JSON] | None = None, preferred: Sequence[tuple[int, JSON]] = ()
) -> JSON:
    """``spec.affinity`` with node affinity: required terms (ORed) and weighted preferences."""
    spec: JSON = {}
    if required is not None:
        spec["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": list(required)
        }
    if preferred:
        spec["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": w, "preference": t} for w, t in preferred
        ]
    return {"nodeAffinity": spec}


# -- running a plugin both ways ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FilterRun:
    """PreFilter's answer and, unless it skipped or rejected, every node's Filter status."""

    pre_filter_result: PreFilterResult | None
    pre_filter_status: Status | None
    statuses: dict[str, Status | None]

    @property
    def codes(self) -> dict[str, Code]:
        return {n: Code.SUCCESS if s is None else s.code for n, s in self.statuses.items()}

    @property
    def feasible(self) -> list[str]:
        return [n for n, s in self.statuses.items() if s is None]


def _vector_codes(out: Any) -> list[int]:
    arr = np.asarray(out)
    if arr.dtype == np.bool_:
        return [0 if ok else int(Code.UNSCHEDULABLE) for ok in arr.tolist()]
    return [int(c) for c in arr.tolist()]


def _reordered(snap: ClusterSnapshot) -> NodeSet:
    return snap.node_set(np.arange(snap.n, dtype=np.intp)[::-1].copy())


def run_filter(plugin: Any, pod: PodInfo, snap: ClusterSnapshot) -> FilterRun:
    """PreFilter, then Filter on every node in both forms; asserts the forms agree."""
    state = CycleState()
    result: PreFilterResult | None = None
    status: Status | None = None
    if hasattr(plugin, "pre_filter"):
        result, status = plugin.pre_filter(state, pod, snap.all_nodes())
    if status is not None:
        return FilterRun(result, status, {})
    statuses = {info.name: plugin.filter(state, pod, info) for info in snap.nodes}
    scalar = [0 if s is None else int(s.code) for s in statuses.values()]
    if hasattr(plugin, "filter_nodes"):
        vector = _vector_codes(plugin.filter_nodes(state, pod, snap.all_nodes()))
        assert vector == scalar, f"filter_nodes {vector} != filter {scalar}"
        subset = _vector_codes(plugin.filter_nodes(state, pod, _reordered(snap)))
        assert subset == scalar[::-1], f"filter_nodes on a subset {subset} != {scalar[::-1]}"
    return FilterRun(result, None, statuses)


@dataclass(frozen=True, slots=True)
class ScoreRun:
    """PreScore's status and, unless it skipped, raw and normalised scores by node."""

    pre_score_status: Status | None
    raw: dict[str, int]
    normalized: dict[str, int]


def run_score(plugin: Any, pod: PodInfo, snap: ClusterSnapshot) -> ScoreRun:
    """PreScore, Score in both forms (asserting they agree), then NormalizeScore."""
    state = CycleState()
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, pod, snap.all_nodes())
        if status is not None:
            return ScoreRun(status, {}, {})
    raw = np.array([plugin.score(state, pod, info) for info in snap.nodes], dtype=np.int64)
    if hasattr(plugin, "score_nodes"):
        vector = np.asarray(plugin.score_nodes(state, pod, snap.all_nodes()))
        assert vector.dtype == np.int64, f"score_nodes returned {vector.dtype}"
        assert vector.tolist() == raw.tolist(), f"score_nodes {vector} != score {raw}"
        subset = np.asarray(plugin.score_nodes(state, pod, _reordered(snap)))
        assert subset.tolist() == raw[::-1].tolist(), f"score_nodes on a subset {subset}"
    normalized = raw.copy()
    if hasattr(plugin, "normalize_score"):
        assert plugin.normalize_score(state, pod, normalized) is None
    names = [info.name for info in snap.nodes]
    return ScoreRun(
        None,
        dict(zip(names, raw.tolist(), strict=True)),
        dict(zip(names, normalized.tolist(), strict=True)),
    )
