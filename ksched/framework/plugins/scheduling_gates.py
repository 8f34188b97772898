"""SchedulingGates: a pod with ``spec.schedulingGates`` never leaves the queue.

Upstream schedulinggates/scheduling_gates.go.
"""

from __future__ import annotations

from typing import Any, Final

from ksched.framework.events import ActionType, ClusterEvent, ClusterEventWithHint, EventResource
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Code, Status

NAME: Final = names.SCHEDULING_GATES


class SchedulingGates:
    @property
    def name(self) -> str:
        return NAME

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        gates = pod.pod.spec.scheduling_gates
        if not gates:
            return None
        listed = " ".join(g.name for g in gates)
        return Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (f"waiting for scheduling gates: [{listed}]",)
        )

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
            )
        ]


def new(args: None, handle: Any) -> SchedulingGates:
    return SchedulingGates()
