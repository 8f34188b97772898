"""A pod waiting in the scheduling queue, with its attempt history."""

from __future__ import annotations

from dataclasses import dataclass, field

from ksched.framework.pod_info import PodInfo


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    """Upstream ``QueuedPodInfo``: times are seconds on the scheduler's clock."""

    pod_info: PodInfo
    timestamp: float
    initial_attempt_timestamp: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    pending_plugins: set[str] = field(default_factory=set)
    gated: bool = False
    gating_plugin: str = ""
    seq: int = 0

    @property
    def key(self) -> str:
        return self.pod_info.key

    @property
    def priority(self) -> int:
        return self.pod_info.priority

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.key}, attempts={self.attempts})"
