"""NodeUnschedulable: cordoned nodes take only pods that tolerate the unschedulable taint.

Upstream nodeunschedulable/node_unschedulable.go.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.api import Taint
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.taints import tolerates_taint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Code, Status

NAME: Final = names.NODE_UNSCHEDULABLE
ERR_REASON_UNKNOWN_CONDITION: Final = "node(s) had unknown conditions"
ERR_REASON_UNSCHEDULABLE: Final = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE: Final = "node.kubernetes.io/unschedulable"
_UNSCHEDULABLE_TAINT = Taint(key=TAINT_NODE_UNSCHEDULABLE, effect="NoSchedule")


def _tolerates(pod: PodInfo) -> bool:
    hit = pod.cache.get(NAME)
    if hit is None:
        hit = tolerates_taint(pod.pod.spec.tolerations, _UNSCHEDULABLE_TAINT)
        pod.cache[NAME] = hit
    return bool(hit)


class NodeUnschedulable:
    # Verdicts on a node depend only on the pod and that node (see ksched.framework.equivalence),
    # and of the node only on its spec, not its pods.
    node_local = True
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation
    node_object_only = True

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT)
            ),
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_TOLERATIONS)
            ),
        ]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.node.spec.unschedulable and not _tolerates(pod):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_UNSCHEDULABLE,))
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        cordoned = nodes.snapshot.unschedulable[nodes.idx]
        if _tolerates(pod):
            return np.zeros(len(cordoned), dtype=np.uint8)
        return cordoned.astype(np.uint8) * np.uint8(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        # The snapshot's flag is the node's spec.unschedulable (ClusterSnapshot._set_node_row).
        if node.node.spec.unschedulable and not _tolerates(pod):
            return Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        return 0


def new(args: None, handle: Any) -> NodeUnschedulable:
    return NodeUnschedulable()
