"""NodePorts: a host port can be bound once per node, protocol and IP (nodeports/node_ports.go).

0.0.0.0 conflicts with every IP of the same protocol and port (upstream
``HostPortInfo.CheckConflict``).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import HostPort, NodeInfo, NodeSet, host_ports
from ksched.framework.status import SKIP, Code, Status

NAME: Final = names.NODE_PORTS
ERR_REASON: Final = "node(s) didn't have free ports for the requested pod ports"
ALL_IPS: Final = "0.0.0.0"


def conflicts(wanted: list[HostPort], used: dict[HostPort, int]) -> bool:
    for ip, protocol, port in wanted:
        if port <= 0:
            continue
        if ip == ALL_IPS:
            if any(p == protocol and n == port for _, p, n in used):
                return True
        elif (ip, protocol, port) in used or (ALL_IPS, protocol, port) in used:
            return True
    return False


class NodePorts:
    node_local = True  # a node's verdict depends only on the ports its own pods use

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(EventResource.POD, ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD)),
        ]

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[None, Status | None]:
        return None, (None if host_ports(pod) else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if conflicts(host_ports(pod), node.used_ports):
            return Status(Code.UNSCHEDULABLE, (ERR_REASON,))
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.bool_]:
        """Only nodes that have any used port can conflict; the loop visits just those."""
        wanted = host_ports(pod)
        ok = np.ones(len(nodes), dtype=bool)
        if not wanted:
            return ok
        for k, info in enumerate(nodes.infos):
            if info.used_ports and conflicts(wanted, info.used_ports):
                ok[k] = False
        return ok


def new(args: Any, handle: Any) -> NodePorts:
    return NodePorts()
