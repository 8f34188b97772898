"""Extension points: one small Protocol each, as kube-scheduler's ``framework`` package.

A plugin is any object with a ``name`` that implements one or more of these
protocols; the runtime asks which by looking for the methods.  Docstrings
state each contract, because they are the contract.

Two forms exist for Filter and Score.  The per-node form (``filter``,
``score``) is the readable reference; the vectorised form (``filter_nodes``,
``score_nodes``) answers for many nodes at once with numpy and is what the
runtime calls when a plugin has it.  ``ksched.testing`` holds the two equal.
A plugin may add a third, scalar form (``filter_row``, ``score_row``): plain
Python on one node, for when only a few nodes need an answer and numpy's
per-call overhead would outweigh the work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ClusterEventWithHint
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Status

if TYPE_CHECKING:
    from ksched.framework.queued_pod import QueuedPodInfo

MAX_NODE_SCORE = 100
"""Scores after NormalizeScore lie in [MIN_NODE_SCORE, MAX_NODE_SCORE] (upstream)."""
MIN_NODE_SCORE = 0
MAX_TOTAL_SCORE = 2**63 - 1


class ExtensionPoint(StrEnum):
    """Names as they appear in ``KubeSchedulerConfiguration.profiles[].plugins``."""

    PRE_ENQUEUE = "preEnqueue"
    QUEUE_SORT = "queueSort"
    PRE_FILTER = "preFilter"
    FILTER = "filter"
    POST_FILTER = "postFilter"
    PRE_SCORE = "preScore"
    SCORE = "score"
    RESERVE = "reserve"
    PERMIT = "permit"
    PRE_BIND = "preBind"
    BIND = "bind"
    POST_BIND = "postBind"


@runtime_checkable
class Plugin(Protocol):
    """Every plugin has a name, unique in a profile."""

    @property
    def name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """Nodes a PreFilter plugin already knows are the only candidates (None: all nodes)."""

    node_names: frozenset[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(slots=True)
class PostFilterResult:
    """What a PostFilter plugin (preemption) arranged: the nominated node, if any."""

    nominated_node_name: str = ""
    victims: list[PodInfo] = field(default_factory=list)


class NodeToStatus:
    """Why each node failed the filters, with a default for nodes never evaluated.

    Upstream's ``NodeToStatus``: nodes skipped by a PreFilter result read as
    UnschedulableAndUnresolvable, so preemption does not try them.  The
    runtime fills it from arrays and builds a node's ``Status`` (with its
    reasons) only when asked, so a failed cycle costs no per-node work.
    """

    __slots__ = ("_codes", "_count", "_index", "_resolve", "absent", "statuses")

    def __init__(self, absent: Status | None = None) -> None:
        self.statuses: dict[str, Status] = {}
        self.absent = absent
        self._index: dict[str, int] | None = None
        self._codes: NDArray[np.uint8] | None = None
        self._resolve: Callable[[int], Status | None] | None = None
        self._count: Callable[[], Counter[str]] | None = None

    @classmethod
    def from_arrays(
        cls,
        index: dict[str, int],
        codes: NDArray[np.uint8],
        resolve: Callable[[int], Status | None],
        absent: Status | None,
        count: Callable[[], Counter[str]] | None = None,
    ) -> NodeToStatus:
        """``codes[i]`` is the Code of snapshot row ``i`` (0: passed or not evaluated).

        ``count`` gives the reasons of all failed rows at once, as ``resolve``
        would row by row.
        """
        nts = cls(absent)
        nts._index, nts._codes, nts._resolve, nts._count = index, codes, resolve, count
        return nts

    def reason_counts(self) -> tuple[Counter[str], int] | None:
        """How many failed nodes give each reason, and how many failed; None if not array-backed.

        A cycle that failed on thousands of nodes would otherwise build a
        ``Status`` per node just to count its reasons (the FailedScheduling
        message); statuses set one by one are counted as they are.
        """
        if self._count is None or self._codes is None or self._index is None:
            return None
        counts = self._count()
        failed = int(np.count_nonzero(self._codes))
        for node, status in self.statuses.items():
            i = self._index.get(node)
            if i is None or self._codes[i] == 0:
                counts.update(status.reasons)
                failed += 1
        return counts, failed

    def get(self, node: str) -> Status | None:
        hit = self.statuses.get(node)
        if hit is not None:
            return hit
        if self._index is not None and self._codes is not None and self._resolve is not None:
            i = self._index.get(node)
            if i is not None and self._codes[i] != 0:
                status = self._resolve(i)
                if status is not None:
                    self.statuses[node] = status
                return status
        return self.absent

    def codes(self) -> NDArray[np.uint8] | None:
        """Per snapshot row codes when array-backed, for vectorised consumers (preemption)."""
        return self._codes

    def set(self, node: str, status: Status) -> None:
        self.statuses[node] = status

    def failed_nodes(self) -> list[str]:
        names = set(self.statuses)
        if self._index is not None and self._codes is not None:
            rows = set(np.flatnonzero(self._codes).tolist())
            names |= {name for name, i in self._index.items() if i in rows}
        return sorted(names)


@runtime_checkable
class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        """Gate the pod before activeQ; a non-success keeps it out (e.g. schedulingGates)."""


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """True when ``a`` should be scheduled before ``b``; one QueueSort plugin per scheduler."""


class SortKeyPlugin(QueueSortPlugin, Protocol):
    def sort_key(self, pod: QueuedPodInfo) -> tuple[object, ...]:
        """Optional fast form of ``less``: ``less(a, b) == sort_key(a) < sort_key(b)``."""


@runtime_checkable
class PreFilterExtensions(Protocol):
    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        """Update the plugin's cycle state as if ``pod_to_add`` ran on ``node`` (preemption)."""

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        """Update the plugin's cycle state as if ``pod_to_remove`` left ``node`` (preemption)."""


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Compute pod-level data for Filter; Skip disables this plugin's Filter this cycle.

        An Unschedulable status rejects the pod for every node.  A result with
        node names restricts the candidates.  A plugin that also implements
        ``add_pod``/``remove_pod`` (PreFilterExtensions) lets preemption reuse it.
        """


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod fits; else Unschedulable, UnschedulableAndUnresolvable or Error."""


@runtime_checkable
class VectorFilterPlugin(Plugin, Protocol):
    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> NDArray[np.bool_] | NDArray[np.uint8]:
        """Filter for every node of ``nodes`` at once, aligned with ``nodes.idx``.

        Return a bool array (True: fits; False: Unschedulable) or a uint8 array
        of ``Code`` values.  Reasons for failed nodes come from the per-node
        ``filter`` when the plugin has one, else from ``filter_reason``.
        """


@runtime_checkable
class RowFilterPlugin(Plugin, Protocol):
    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``filter_nodes`` for the one node ``node`` as a plain ``Code`` value (0: fits).

        Optional, next to ``filter_nodes``: the runtime calls it when a cached
        class's verdicts need patching on a few changed nodes only.  It must
        agree with ``filter_nodes`` exactly (a bool False there reads as
        Unschedulable here).
        """


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        """Called only when no node fits; may make room (preemption) and nominate a node."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        """Pod-level work for Score over the feasible nodes; Skip disables this Score."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Rank one feasible node; any integer, brought to 0..100 by ``normalize_score``.

        Raise (or return via ``ksched.framework.status``) to signal an error.
        """


@runtime_checkable
class VectorScorePlugin(Plugin, Protocol):
    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        """Score every node of ``nodes`` at once, aligned with ``nodes.idx``."""


@runtime_checkable
class RowScorePlugin(Plugin, Protocol):
    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``score_nodes`` for the one node ``node``, as a plain int, exactly equal to it.

        Optional, next to ``score_nodes``, for the same few-nodes case as ``filter_row``.
        """


@runtime_checkable
class ScoreExtensions(Protocol):
    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        """Rewrite ``scores`` in place into [0, 100]; called once per cycle after Score."""


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Claim plugin-managed resources for the pod on ``node_name`` before binding."""

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Release what ``reserve`` claimed; must be idempotent and may follow a failed reserve."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> tuple[Status | None, float]:
        """Approve (None), reject, or Wait up to the returned timeout in seconds."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Prepare the node (volumes, say) before Bind; a failure unreserves the pod."""


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind, or return Skip to let the next Bind plugin do it."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Informational; called after a successful bind."""


@runtime_checkable
class EnqueueExtensions(Protocol):
    def events_to_register(self) -> Sequence[ClusterEventWithHint]:
        """Cluster events that may make a pod this plugin rejected schedulable."""


PluginFactory = Callable[..., Plugin]

POINT_METHODS: dict[ExtensionPoint, tuple[str, ...]] = {
    ExtensionPoint.PRE_ENQUEUE: ("pre_enqueue",),
    ExtensionPoint.QUEUE_SORT: ("less",),
    ExtensionPoint.PRE_FILTER: ("pre_filter",),
    ExtensionPoint.FILTER: ("filter", "filter_nodes"),
    ExtensionPoint.POST_FILTER: ("post_filter",),
    ExtensionPoint.PRE_SCORE: ("pre_score",),
    ExtensionPoint.SCORE: ("score", "score_nodes"),
    ExtensionPoint.RESERVE: ("reserve",),
    ExtensionPoint.PERMIT: ("permit",),
    ExtensionPoint.PRE_BIND: ("pre_bind",),
    ExtensionPoint.BIND: ("bind",),
    ExtensionPoint.POST_BIND: ("post_bind",),
}


def implemented_points(plugin: object) -> list[ExtensionPoint]:
    """Extension points ``plugin`` implements, in upstream's order (used by multiPoint)."""
    return [
        point
        for point, methods in POINT_METHODS.items()
        if any(callable(getattr(plugin, m, None)) for m in methods)
    ]
