"""The cluster as the scheduler sees it, laid out for numpy.

Node resources live in ``(nodes, resources)`` int64 arrays that are updated
in place when a pod is assumed, bound or removed, so a scheduling cycle reads
them without rebuilding anything (upstream rebuilds its snapshot from a
generation-tracked cache; one in-process owner makes that unnecessary here).
Per-node Python objects (``NodeInfo``) hold what does not vectorise: the pod
lists, ports and images, for the per-node reference form of the plugins.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ksched.api import Node, Taint, node_allocatable
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import (
    CPU_COL,
    MEMORY_COL,
    ResourceIndex,
)

_NO_PODS = np.iinfo(np.int64).max

HostPort = tuple[str, str, int]
"""(hostIP, protocol, hostPort) as upstream's HostPortInfo keys them."""


@dataclass(slots=True, eq=False)
class NodeInfo:
    """One node with the pods on it (upstream ``framework.NodeInfo``).

    Resource totals are not copied here: ``requested``/``allocatable`` read the
    snapshot's rows, so the per-node and vectorised views cannot drift apart.
    """

    node: Node
    # Weak: the snapshot holds its nodes, and a cycle back would leave a finished
    # replay's whole cluster to the cyclic collector, a full collection per replay.
    snapshot_ref: weakref.ReferenceType[ClusterSnapshot]
    index: int
    pods: dict[str, PodInfo] = field(default_factory=dict)
    used_ports: dict[HostPort, int] = field(default_factory=dict)
    pods_with_affinity: int = 0
    pods_with_required_anti_affinity: int = 0
    generation: int = 0
    # Copied: a cycle then reads the chosen node's name without touching its API object.
    # An update keeps it (the snapshot finds the node to update by this name).
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.node.metadata.name or ""

    @property
    def snapshot(self) -> ClusterSnapshot:
        snapshot = self.snapshot_ref()
        if snapshot is None:
            raise ReferenceError(f"the snapshot of node {self.name!r} was freed")
        return snapshot

    @property
    def labels(self) -> dict[str, str]:
        return self.node.metadata.labels

    @property
    def taints(self) -> list[Taint]:
        return self.node.spec.taints

    @property
    def allocatable(self) -> dict[str, int]:
        row = self.snapshot.allocatable[self.index]
        return {n: int(row[i]) for i, n in enumerate(self.snapshot.resources.names)}

    @property
    def requested(self) -> dict[str, int]:
        row = self.snapshot.requested[self.index]
        return {n: int(row[i]) for i, n in enumerate(self.snapshot.resources.names)}

    @property
    def non_zero_requested(self) -> tuple[int, int]:
        row = self.snapshot.non_zero_requested[self.index]
        return int(row[0]), int(row[1])

    def __repr__(self) -> str:
        return f"NodeInfo({self.name})"


@dataclass(frozen=True, slots=True)
class NodeSet:
    """The nodes a vectorised plugin is asked about: rows ``idx`` of ``snapshot``.

    ``idx`` is a slice when every node is asked (no copy), else an index array.
    Results are arrays aligned with ``idx``.
    """

    snapshot: ClusterSnapshot
    idx: NDArray[np.intp] | slice

    def __len__(self) -> int:
        if isinstance(self.idx, slice):
            return len(range(*self.idx.indices(self.snapshot.n)))
        return len(self.idx)

    @property
    def indices(self) -> NDArray[np.intp]:
        if isinstance(self.idx, slice):
            return np.arange(*self.idx.indices(self.snapshot.n), dtype=np.intp)
        return self.idx

    def row(self, k: int) -> int:
        """Snapshot row of the ``k``-th node (0 <= k < len), without building ``indices``."""
        if isinstance(self.idx, slice):
            start, _, step = self.idx.indices(self.snapshot.n)
            return start + k * step
        return int(self.idx[k])

    @property
    def infos(self) -> list[NodeInfo]:
        nodes = self.snapshot.nodes
        if isinstance(self.idx, slice):
            return nodes[self.idx]
        return [nodes[i] for i in self.idx]

    @property
    def allocatable(self) -> NDArray[np.int64]:
        return self.snapshot.allocatable[self.idx]

    @property
    def requested(self) -> NDArray[np.int64]:
        return self.snapshot.requested[self.idx]

    @property
    def non_zero_requested(self) -> NDArray[np.int64]:
        return self.snapshot.non_zero_requested[self.idx]


def rows_of(table: NDArray[np.int64], idx: NDArray[np.intp] | slice) -> NDArray[np.int64]:
    """``table[idx]`` for a NodeSet's ``idx``: a view for a slice; for an index array,
    ``take``, which costs half what fancy indexing does on a cycle's few changed rows."""
    return table[idx] if isinstance(idx, slice) else table.take(idx, axis=0)


class PodListener(Protocol):
    """Told of every pod the snapshot accounts or forgets (assume, bind, delete, forget).

    For plugins that keep their own per-node state (GPU-share device
    accounting, say) and must follow pods that come and go outside their
    own Reserve/Unreserve: bound pods added at start-up, deleted pods.
    """

    def pod_added(self, pod: PodInfo, node: NodeInfo) -> None: ...

    def pod_removed(self, pod: PodInfo, node: NodeInfo) -> None: ...


class ClusterSnapshot:
    """Nodes and the pods bound or assumed on them, as arrays plus NodeInfos."""

    def __init__(self) -> None:
        self.resources = ResourceIndex()
        self.n = 0
        self.nodes: list[NodeInfo] = []
        self.index: dict[str, int] = {}
        self.pod_nodes: dict[str, str] = {}
        self._cap = 0
        self._alloc = np.zeros((0, len(self.resources)), dtype=np.int64)
        self._req = np.zeros((0, len(self.resources)), dtype=np.int64)
        self._nz = np.zeros((0, 2), dtype=np.int64)
        self._unsched = np.zeros(0, dtype=bool)
        self._min_prio = np.zeros(0, dtype=np.int64)
        # Per row, the log position of its last pod change (-1: none): the rows changed since
        # a position in one vectorised comparison, where the log is long.
        self._stamp = np.zeros(0, dtype=np.int64)
        # Bumped by every change a plugin's cached, cluster-derived data depends on.
        self.generation = 0
        self.node_generation = 0
        self._label_cache: dict[str, tuple[int, NDArray[np.int32], list[str]]] = {}
        self.image_nodes: dict[str, int] = {}
        self.pods_with_affinity = 0
        self.pods_with_required_anti_affinity = 0
        # Rows whose pods changed, in order; position ``log_base + i`` is entry ``i``.
        # Caches of per-node results replay it to patch only those rows.
        self.changed_rows: list[int] = []
        self.log_base = 0
        self.pod_listeners: list[PodListener] = []
        self._name_ranks: tuple[int, NDArray[np.int64]] | None = None

    # -- array views ------------------------------------------------------
    @property
    def allocatable(self) -> NDArray[np.int64]:
        return self._alloc[: self.n]

    @property
    def requested(self) -> NDArray[np.int64]:
        return self._req[: self.n]

    @property
    def non_zero_requested(self) -> NDArray[np.int64]:
        """Requests with kube-scheduler's defaults for request-less pods (cpu, memory)."""
        return self._nz[: self.n]

    @property
    def unschedulable(self) -> NDArray[np.bool_]:
        return self._unsched[: self.n]

    @property
    def min_pod_priority(self) -> NDArray[np.int64]:
        """Lowest priority among each node's pods (int64 max when empty), for preemption."""
        return self._min_prio[: self.n]

    @property
    def names(self) -> list[str]:
        return [ni.name for ni in self.nodes]

    # Plain-int rows, for plugins' scalar forms (no array views built per call).
    def allocatable_row(self, row: int) -> list[int]:
        return self._alloc[row].tolist()  # type: ignore[no-any-return]

    def requested_row(self, row: int) -> list[int]:
        return self._req[row].tolist()  # type: ignore[no-any-return]

    def non_zero_requested_row(self, row: int) -> list[int]:
        return self._nz[row].tolist()  # type: ignore[no-any-return]

    def all_nodes(self) -> NodeSet:
        return NodeSet(self, slice(0, self.n))

    def node_set(self, idx: NDArray[np.intp]) -> NodeSet:
        return NodeSet(self, idx)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[NodeInfo]:
        return iter(self.nodes)

    def get(self, name: str) -> NodeInfo | None:
        i = self.index.get(name)
        return None if i is None else self.nodes[i]

    def __getitem__(self, name: str) -> NodeInfo:
        return self.nodes[self.index[name]]

    # -- resources ----------------------------------------------------------
    def ensure_resource(self, name: str) -> int:
        col = self.resources.get(name)
        if col is not None:
            return col
        col = self.resources.ensure(name)
        pad = np.zeros((self._cap, 1), dtype=np.int64)
        self._alloc = np.hstack([self._alloc, pad])
        self._req = np.hstack([self._req, pad])
        return col

    def pod_vector(self, pod: PodInfo) -> NDArray[np.int64]:
        """The pod's requests in column order, adding columns for new extended resources."""
        if pod._vector_version != self.resources.version or pod._vector is None:
            for name in pod.requests:
                if name not in self.resources:
                    self.ensure_resource(name)
        return pod.request_vector(self.resources)

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap, 64)
        r = len(self.resources)

        def grown(a: NDArray[np.generic], cols: int | None) -> NDArray[np.generic]:
            shape = (cap,) if cols is None else (cap, cols)
            b = np.zeros(shape, dtype=a.dtype)
            b[: self.n] = a[: self.n]
            return b

        self._alloc = grown(self._alloc, r)  # type: ignore[assignment]
        self._req = grown(self._req, r)  # type: ignore[assignment]
        self._nz = grown(self._nz, 2)  # type: ignore[assignment]
        self._unsched = grown(self._unsched, None)
        prio = np.full(cap, _NO_PODS, dtype=np.int64)
        prio[: self.n] = self._min_prio[: self.n]
        self._min_prio = prio
        stamp = np.full(cap, -1, dtype=np.int64)
        stamp[: self.n] = self._stamp[: self.n]
        self._stamp = stamp
        self._cap = cap

    # -- nodes --------------------------------------------------------------
    def add_node(self, node: Node) -> NodeInfo:
        name = node.metadata.name or ""
        if name in self.index:
            return self.update_node(node)
        self._grow(self.n + 1)
        i = self.n
        self.n += 1
        info = NodeInfo(node=node, snapshot_ref=weakref.ref(self), index=i)
        self.nodes.append(info)
        self.index[name] = i
        self._set_node_row(info)
        self._add_images(node, +1)
        self._changed_nodes()
        return info

    def add_nodes(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self.add_node(node)

    def update_node(self, node: Node) -> NodeInfo:
        info = self.nodes[self.index[node.metadata.name or ""]]
        self._add_images(info.node, -1)
        info.node = node
        info.generation += 1
        self._set_node_row(info)
        self._add_images(node, +1)
        self._changed_nodes()
        return info

    def remove_node(self, name: str) -> list[PodInfo]:
        """Drop a node; returns the pods that were on it (the caller decides their fate)."""
        i = self.index.pop(name)
        info = self.nodes.pop(i)
        for key in info.pods:
            self.pod_nodes.pop(key, None)
        self._add_images(info.node, -1)
        for a in (self._alloc, self._req, self._nz, self._unsched, self._min_prio, self._stamp):
            a[i : self.n - 1] = a[i + 1 : self.n]
        self.n -= 1
        for j in range(i, self.n):
            ni = self.nodes[j]
            ni.index = j
            self.index[ni.name] = j
        self._alloc[self.n] = 0
        self._req[self.n] = 0
        self._nz[self.n] = 0
        self._min_prio[self.n] = _NO_PODS
        self._stamp[self.n] = -1
        self.pods_with_affinity -= info.pods_with_affinity
        self.pods_with_required_anti_affinity -= info.pods_with_required_anti_affinity
        self._changed_nodes()
        return list(info.pods.values())

    def _set_node_row(self, info: NodeInfo) -> None:
        alloc = node_allocatable(info.node)
        for name in alloc:
            if name not in self.resources:
                self.ensure_resource(name)
        row = np.zeros(len(self.resources), dtype=np.int64)
        for name, amount in alloc.items():
            row[self.resources.column(name)] = amount
        self._alloc[info.index] = row
        self._unsched[info.index] = bool(info.node.spec.unschedulable)

    def _add_images(self, node: Node, delta: int) -> None:
        for image in node.status.images:
            for name in image.names:
                left = self.image_nodes.get(name, 0) + delta
                if left > 0:
                    self.image_nodes[name] = left
                else:
                    self.image_nodes.pop(name, None)

    def _changed_nodes(self) -> None:
        self.generation += 1
        self.node_generation += 1
        self._trim_log()

    def _trim_log(self) -> None:
        self.log_base += len(self.changed_rows)
        self.changed_rows.clear()

    @property
    def log_position(self) -> int:
        return self.log_base + len(self.changed_rows)

    def rows_changed_since(self, position: int) -> list[int] | None:
        """Rows changed after log ``position``, or None when the log no longer reaches back."""
        if position < self.log_base:
            return None
        return self.changed_rows[position - self.log_base :]

    def rows_stamped_since(self, position: int) -> NDArray[np.intp]:
        """The distinct rows of ``rows_changed_since(position)``, ascending, in one pass."""
        return np.flatnonzero(self._stamp[: self.n] >= position)

    # -- pods ---------------------------------------------------------------
    def add_pod(self, pod: PodInfo, node_name: str) -> NodeInfo:
        """Account ``pod`` on ``node_name`` (assume or bind); O(resources)."""
        info = self.nodes[self.index[node_name]]
        vec = self.pod_vector(pod)
        i = info.index
        self._req[i] += vec
        self._nz[i, CPU_COL] += pod.non_zero_cpu
        self._nz[i, MEMORY_COL] += pod.non_zero_memory
        info.pods[pod.key] = pod
        self.pod_nodes[pod.key] = node_name
        self._log(i)
        if pod.priority < self._min_prio[i]:
            self._min_prio[i] = pod.priority
        for port in host_ports(pod):
            info.used_ports[port] = info.used_ports.get(port, 0) + 1
        aff, anti = affinity_flags(pod)
        info.pods_with_affinity += aff
        info.pods_with_required_anti_affinity += anti
        self.pods_with_affinity += aff
        self.pods_with_required_anti_affinity += anti
        info.generation += 1
        self.generation += 1
        for listener in self.pod_listeners:
            listener.pod_added(pod, info)
        return info

    def remove_pod(self, pod: PodInfo) -> NodeInfo | None:
        """Undo ``add_pod``; a pod the snapshot does not hold is ignored (idempotent)."""
        node_name = self.pod_nodes.pop(pod.key, None)
        if node_name is None:
            return None
        info = self.nodes[self.index[node_name]]
        held = info.pods.pop(pod.key)
        vec = self.pod_vector(held)
        i = info.index
        self._log(i)
        if held.priority <= self._min_prio[i]:
            self._min_prio[i] = min((p.priority for p in info.pods.values()), default=_NO_PODS)
        self._req[i] -= vec
        self._nz[i, CPU_COL] -= held.non_zero_cpu
        self._nz[i, MEMORY_COL] -= held.non_zero_memory
        for port in host_ports(held):
            left = info.used_ports[port] - 1
            if left:
                info.used_ports[port] = left
            else:
                del info.used_ports[port]
        aff, anti = affinity_flags(held)
        info.pods_with_affinity -= aff
        info.pods_with_required_anti_affinity -= anti
        self.pods_with_affinity -= aff
        self.pods_with_required_anti_affinity -= anti
        info.generation += 1
        self.generation += 1
        for listener in self.pod_listeners:
            listener.pod_removed(held, info)
        return info

    def _log(self, row: int) -> None:
        rows = self.changed_rows
        if len(rows) >= 4 * self.n + 1024:
            # Drop the older half only: cached classes seen since keep patching their rows
            # instead of all rebuilding at once, as they would after a full trim.
            half = len(rows) // 2
            del rows[:half]
            self.log_base += half
        self._stamp[row] = self.log_base + len(rows)
        rows.append(row)

    def node_of(self, pod_key: str) -> str | None:
        return self.pod_nodes.get(pod_key)

    def all_pods(self) -> Iterator[PodInfo]:
        for info in self.nodes:
            yield from info.pods.values()

    def name_ranks(self) -> NDArray[np.int64]:
        """Each row's position in the nodes sorted by name; cached until the nodes change.

        The smallest-name tie-break takes the argmin of these over the tied
        rows instead of comparing strings.
        """
        hit = self._name_ranks
        if hit is not None and hit[0] == self.node_generation and len(hit[1]) == self.n:
            return hit[1]
        order = sorted(range(self.n), key=lambda i: self.nodes[i].name)
        ranks = np.empty(self.n, dtype=np.int64)
        ranks[order] = np.arange(self.n, dtype=np.int64)
        self._name_ranks = (self.node_generation, ranks)
        return ranks

    # -- labels -------------------------------------------------------------
    def label_codes(self, key: str) -> tuple[NDArray[np.int32], list[str]]:
        """Per-node integer code of label ``key`` (-1 where absent) and the value table.

        Topology plugins group nodes by domain with these codes instead of
        comparing strings; cached until a node is added, removed or updated.
        """
        hit = self._label_cache.get(key)
        if hit is not None and hit[0] == self.node_generation:
            return hit[1], hit[2]
        values: dict[str, int] = {}
        codes = np.full(self.n, -1, dtype=np.int32)
        for i, info in enumerate(self.nodes):
            v = info.node.metadata.labels.get(key)
            if v is not None:
                codes[i] = values.setdefault(v, len(values))
        table = list(values)
        self._label_cache[key] = (self.node_generation, codes, table)
        return codes, table


def host_ports(pod: PodInfo) -> list[HostPort]:
    """Host ports the pod claims, with upstream's defaults (0.0.0.0, TCP)."""
    ports = pod.cache.get("_host_ports")
    if ports is None:
        ports = []
        spec = pod.pod.spec
        # Restartable (sidecar) init containers hold their ports too, as upstream counts them.
        sidecars = [c for c in spec.init_containers if c.restart_policy == "Always"]
        for c in [*spec.containers, *sidecars]:
            for p in c.ports:
                if p.host_port:
                    ports.append((p.host_ip or "0.0.0.0", p.protocol or "TCP", p.host_port))
        pod.cache["_host_ports"] = ports
    return ports


def affinity_flags(pod: PodInfo) -> tuple[int, int]:
    """(has any pod (anti-)affinity, has required anti-affinity) as 0/1 counts."""
    aff = pod.pod.spec.affinity
    if aff is None:
        return 0, 0
    has_any = aff.pod_affinity is not None or aff.pod_anti_affinity is not None
    anti = aff.pod_anti_affinity
    has_req_anti = anti is not None and bool(
        anti.required_during_scheduling_ignored_during_execution
    )
    return int(has_any), int(has_req_anti)
