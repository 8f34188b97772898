"""What plugins may reach beyond their arguments (upstream ``framework.Handle``)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ksched.framework.clock import Clock, SimClock
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.framework.waiting_pods import WaitingPods

if TYPE_CHECKING:
    from ksched.api import PodDisruptionBudget
    from ksched.framework.runtime import Framework


class ClusterClient(Protocol):
    """The writes a scheduler makes; in process for replay, the API server when live."""

    def bind(self, pod: PodInfo, node_name: str) -> None:
        """Bind ``pod``; raise to report a failure (the cycle then unreserves)."""

    def delete_pod(self, pod: PodInfo, reason: str) -> None:
        """Evict a preemption victim."""

    def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        """Record ``status.nominatedNodeName`` (empty string clears it)."""

    def pdbs(self) -> list[PodDisruptionBudget]:
        """PodDisruptionBudgets, for preemption."""


class Nominator(Protocol):
    def add_nominated_pod(self, pod: PodInfo, node_name: str) -> None: ...

    def delete_nominated_pod_if_exists(self, pod: PodInfo) -> None: ...

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]: ...


class EventRecorder(Protocol):
    def event(self, pod: PodInfo, type_: str, reason: str, action: str, message: str) -> None:
        """Emit a core/v1 Event about ``pod`` (Normal/Warning, reason, message)."""


@dataclass(slots=True)
class Handle:
    """Shared services for the plugins of one or more profiles.

    ``framework`` is set by the runtime after the plugins are built, so a
    PostFilter plugin can run the profile's filters (preemption) at call time.
    It is held weakly: the framework owns this handle, and a cycle between them
    would keep a finished replay's whole cluster alive until a full collection.
    """

    snapshot: ClusterSnapshot = field(default_factory=ClusterSnapshot)
    clock: Clock = field(default_factory=SimClock)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    client: ClusterClient | None = None
    nominator: Nominator | None = None
    recorder: EventRecorder | None = None
    waiting_pods: WaitingPods = field(default_factory=WaitingPods)
    extra: dict[str, Any] = field(default_factory=dict)
    _framework: weakref.ReferenceType[Framework] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def framework(self) -> Framework | None:
        return None if self._framework is None else self._framework()

    @framework.setter
    def framework(self, framework: Framework | None) -> None:
        self._framework = None if framework is None else weakref.ref(framework)
