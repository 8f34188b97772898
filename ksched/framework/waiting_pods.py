"""Pods held at Permit until every waiting plugin allows them (upstream ``waitingPod``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Code, Status


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String(): 1m30s, 500ms, 15m0s, 1.5s, 0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    s = _trim(rest / 1e9) + "s"
    if h:
        return f"{sign}{h}h{m}m{s}"
    if m:
        return f"{sign}{m}m{s}"
    return sign + s


def _trim(x: float) -> str:
    return f"{x:.9f}".rstrip("0").rstrip(".")


@dataclass(slots=True, eq=False)
class WaitingPod:
    """A reserved pod whose binding waits on Permit plugins.

    ``pending`` maps each plugin that returned Wait to its deadline; the pod
    is released when the map empties, and rejected by the first rejection or
    by the first deadline that passes (upstream's per-plugin timers).
    """

    pod: PodInfo
    node_name: str
    pending: dict[str, float] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=dict)
    outcome: Status | None = None
    decided: bool = False

    def allow(self, plugin: str) -> None:
        self.pending.pop(plugin, None)
        if not self.pending and not self.decided:
            self.decided = True

    def reject(self, plugin: str, message: str) -> None:
        if not self.decided:
            self.outcome = Status(Code.UNSCHEDULABLE, (message,), plugin)
            self.decided = True

    def expire(self, now: float) -> bool:
        """Reject the pod if a plugin's deadline has passed; True when it did."""
        for plugin, deadline in self.pending.items():
            if deadline <= now:
                waited = self.timeouts.get(plugin, 0.0)
                self.reject(
                    plugin,
                    f"rejected due to timeout after waiting {go_duration(waited)} "
                    f"at plugin {plugin}",
                )
                return True
        return False

    @property
    def next_deadline(self) -> float:
        return min(self.pending.values()) if self.pending else float("inf")


class WaitingPods:
    """Waiting pods by UID, for Permit plugins that release each other's pods."""

    def __init__(self) -> None:
        self._pods: dict[str, WaitingPod] = {}

    def add(self, wp: WaitingPod) -> None:
        self._pods[wp.pod.uid] = wp

    def get(self, uid: str) -> WaitingPod | None:
        return self._pods.get(uid)

    def remove(self, uid: str) -> None:
        self._pods.pop(uid, None)

    def __iter__(self) -> Iterator[WaitingPod]:
        return iter(list(self._pods.values()))

    def __len__(self) -> int:
        return len(self._pods)
