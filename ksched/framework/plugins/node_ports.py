"""NodePorts: a host port is bound at most once per node, protocol and IP.

Upstream nodeports/node_ports.go with ``HostPortInfo.CheckConflict``: a
wanted 0.0.0.0 conflicts with the same protocol and port on any IP, and a
specific IP conflicts with itself and with 0.0.0.0.

The vectorised form keeps, per (protocol, port), the rows using it; the
index follows the snapshot's change log, so a cycle touches only the rows
whose pods changed, and a pod's verdict costs one lookup per wanted port.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, HostPort, NodeInfo, NodeSet, host_ports
from ksched.framework.status import SKIP, Code, Status

NAME: Final = names.NODE_PORTS
ERR_REASON: Final = "node(s) didn't have free ports for the requested pod ports"
DEFAULT_BIND_ALL_HOST_IP: Final = "0.0.0.0"


def check_conflict(used: Mapping[HostPort, int], ip: str, protocol: str, port: int) -> bool:
    """``HostPortInfo.CheckConflict`` for one wanted (ip, protocol, port)."""
    if port <= 0:
        return False
    ip = ip or DEFAULT_BIND_ALL_HOST_IP
    protocol = protocol or "TCP"
    if ip == DEFAULT_BIND_ALL_HOST_IP:
        return any(p == protocol and n == port for _, p, n in used)
    return (DEFAULT_BIND_ALL_HOST_IP, protocol, port) in used or (ip, protocol, port) in used


def fits_ports(wanted: Iterable[HostPort], used: Mapping[HostPort, int]) -> bool:
    """``fitsPorts``: no wanted port conflicts with the ports in use."""
    return not any(check_conflict(used, ip, protocol, port) for ip, protocol, port in wanted)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    """Upstream ``Fits``: the pod's host ports are free on the node (used by preemption)."""
    return fits_ports(host_ports(pod), node.used_ports)


@dataclass(slots=True)
class _PortIndex:
    """Rows using each (ip, protocol, port) and each (protocol, port), kept from the change log."""

    snapshot: weakref.ref[ClusterSnapshot]
    node_generation: int
    position: int = 0
    exact: dict[HostPort, set[int]] = field(default_factory=dict)
    any_ip: dict[tuple[str, int], dict[int, int]] = field(default_factory=dict)
    row_ports: dict[int, frozenset[HostPort]] = field(default_factory=dict)

    @classmethod
    def build(cls, snap: ClusterSnapshot) -> _PortIndex:
        index = cls(weakref.ref(snap), snap.node_generation, snap.log_position)
        for info in snap.nodes:
            if info.used_ports:
                index._set_row(info.index, frozenset(info.used_ports))
        return index

    def current_for(self, snap: ClusterSnapshot) -> list[int] | None:
        """Rows to refresh before use, or None when the index must be rebuilt."""
        if self.snapshot() is not snap or self.node_generation != snap.node_generation:
            return None
        return snap.rows_changed_since(self.position)

    def refresh(self, snap: ClusterSnapshot, rows: Iterable[int]) -> None:
        for row in set(rows):
            self._set_row(row, frozenset(snap.nodes[row].used_ports))
        self.position = snap.log_position

    def _set_row(self, row: int, ports: frozenset[HostPort]) -> None:
        old = self.row_ports.get(row, frozenset())
        for key in old - ports:
            self.exact[key].discard(row)
            rows = self.any_ip[key[1:]]
            rows[row] -= 1
            if not rows[row]:
                del rows[row]
        for key in ports - old:
            self.exact.setdefault(key, set()).add(row)
            rows = self.any_ip.setdefault(key[1:], {})
            rows[row] = rows.get(row, 0) + 1
        if ports:
            self.row_ports[row] = ports
        else:
            self.row_ports.pop(row, None)

    def conflicting_rows(self, wanted: Iterable[HostPort]) -> list[int]:
        """Rows where some wanted port conflicts, by the rules of ``check_conflict``."""
        out: list[int] = []
        for ip, protocol, port in wanted:
            if port <= 0:
                continue
            if ip == DEFAULT_BIND_ALL_HOST_IP:
                out.extend(self.any_ip.get((protocol, port), ()))
            else:
                out.extend(self.exact.get((DEFAULT_BIND_ALL_HOST_IP, protocol, port), ()))
                out.extend(self.exact.get((ip, protocol, port), ()))
        return out


class NodePorts:
    """Filter out nodes where a wanted host port is already in use."""

    node_local = True  # a node's verdict depends only on the pod and that node's pods
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation

    def __init__(self) -> None:
        self._index: _PortIndex | None = None

    @property
    def name(self) -> str:
        return NAME

    # -- queueing -----------------------------------------------------------------------
    def events_to_register(self) -> list[ClusterEventWithHint]:
        # Ports are immutable, so pod updates are ignored; with queueing hints, Node Add only.
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, ActionType.DELETE),
                self.is_schedulable_after_pod_deleted,
            ),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD)),
        ]

    def is_schedulable_after_pod_deleted(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Queue only when the deleted pod was placed and held a port the pod wants."""
        if not isinstance(old, PodInfo):
            return QueueingHint.QUEUE
        if not old.node_name and not old.pod.status.nominated_node_name:
            return QueueingHint.QUEUE_SKIP
        freed = host_ports(old)
        if not freed:
            return QueueingHint.QUEUE_SKIP
        if fits_ports(host_ports(pod), dict.fromkeys(freed, 1)):
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE

    # -- filter -------------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[None, Status | None]:
        # The wanted ports are cached on the pod (snapshot.host_ports); only the skip remains.
        return None, (None if host_ports(pod) else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if fits_ports(host_ports(pod), node.used_ports):
            return None
        return Status.unschedulable(ERR_REASON)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.bool_]:
        snap = nodes.snapshot
        index = self._index
        rows = None if index is None else index.current_for(snap)
        if index is None or rows is None:
            index = self._index = _PortIndex.build(snap)
        else:
            index.refresh(snap, rows)
        ok = np.ones(snap.n, dtype=bool)
        ok[index.conflicting_rows(host_ports(pod))] = False
        return ok[nodes.idx]

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 0 if fits_ports(host_ports(pod), node.used_ports) else Code.UNSCHEDULABLE


def new(args: None, handle: Any) -> NodePorts:
    return NodePorts()
