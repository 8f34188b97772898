"""PrioritySort: higher priority first, then the longest-waiting pod.

Upstream queuesort/priority_sort.go.
"""

from __future__ import annotations

from typing import Any, Final

from ksched.framework.plugins import names
from ksched.framework.queued_pod import QueuedPodInfo

NAME: Final = names.PRIORITY_SORT


class PrioritySort:
    @property
    def name(self) -> str:
        return NAME

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.pod_info.priority, b.pod_info.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)

    def sort_key(self, pod: QueuedPodInfo) -> tuple[int, float]:
        return (-pod.pod_info.priority, pod.timestamp)


def new(args: None, handle: Any) -> PrioritySort:
    return PrioritySort()
