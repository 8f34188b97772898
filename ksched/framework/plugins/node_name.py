"""NodeName: a pod naming a node in ``spec.nodeName`` fits only that node.

Upstream nodename/node_name.go.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Code, Status

NAME: Final = names.NODE_NAME
ERR_REASON: Final = "node(s) didn't match the requested node name"


class NodeName:
    # Verdicts on a node depend only on the pod and that node (see ksched.framework.equivalence),
    # and of the node only on its name, not its pods.
    node_local = True
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation
    node_object_only = True

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent(EventResource.NODE, ActionType.ADD))]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        wanted = pod.pod.spec.node_name
        if wanted and wanted != node.name:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,))
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        out = np.zeros(len(nodes), dtype=np.uint8)
        wanted = pod.pod.spec.node_name
        if wanted:
            row = nodes.snapshot.index.get(wanted, -1)
            out[:] = Code.UNSCHEDULABLE_AND_UNRESOLVABLE
            out[nodes.indices == row] = 0
        return out

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        wanted = pod.pod.spec.node_name
        return Code.UNSCHEDULABLE_AND_UNRESOLVABLE if wanted and wanted != node.name else 0


def new(args: None, handle: Any) -> NodeName:
    return NodeName()
