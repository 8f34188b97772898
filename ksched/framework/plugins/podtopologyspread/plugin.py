"""PodTopologySpread: spread matching pods evenly over topology domains.

Upstream pkg/scheduler/framework/plugins/podtopologyspread (plugin.go,
common.go, filtering.go, scoring.go).  DoNotSchedule constraints filter
(``filtering``), ScheduleAnyway constraints score (``scoring``).  A pod
without constraints of its own gets the default constraints (the system
ones unless ``defaultingType: List``), whose selector is that of the
workload owning the pod: ksched has no Service/ReplicaSet listers, so it
comes from the ``handle.extra[SELECTOR_FOR_KEY]`` hook, and without the hook
default constraints select nothing and are skipped, as upstream does for an
empty selector.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ksched.api import Node, TopologySpreadConstraint
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import (
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    EventResource,
    QueueingHint,
)
from ksched.framework.handle import Handle
from ksched.framework.interface import PreFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.helper.node_selector import (
    EXISTS,
    LabelRequirement,
    SelectorError,
)
from ksched.framework.plugins.podtopologyspread import filtering, scoring
from ksched.framework.plugins.podtopologyspread.common import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
    SYSTEM_DEFAULT_CONSTRAINTS,
    Constraint,
    MatchCounter,
    SelectorFor,
    build_default_constraints,
    filter_constraints,
    node_has_all_keys,
    pod_matches_any,
)
from ksched.framework.plugins.podtopologyspread.filtering import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    PRE_FILTER_STATE_KEY,
    PreFilterState,
)
from ksched.framework.plugins.podtopologyspread.scoring import PRE_SCORE_STATE_KEY, PreScoreState
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Status

NAME: Final = names.POD_TOPOLOGY_SPREAD
SELECTOR_FOR_KEY: Final = "selector_for"
"""``handle.extra`` entry: ``Pod -> LabelSelector | None``, the selector of the pod's workload."""
SYSTEM_DEFAULTING: Final = "System"
LIST_DEFAULTING: Final = "List"

__all__ = [
    "ERR_REASON_CONSTRAINTS_NOT_MATCH",
    "ERR_REASON_NODE_LABEL_NOT_MATCH",
    "LIST_DEFAULTING",
    "NAME",
    "SELECTOR_FOR_KEY",
    "SYSTEM_DEFAULTING",
    "Args",
    "PodTopologySpread",
    "PodTopologySpreadArgs",
    "new",
]


class PodTopologySpreadArgs(BaseModel):
    """Upstream ``PodTopologySpreadArgs``, checked as ``ValidatePodTopologySpreadArgs``."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    default_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)
    defaulting_type: Literal["System", "List"] = SYSTEM_DEFAULTING

    @model_validator(mode="after")
    def _validate(self) -> PodTopologySpreadArgs:
        errors: list[str] = []
        if self.defaulting_type == SYSTEM_DEFAULTING and self.default_constraints:
            errors.append(
                'defaultingType: Invalid value: "System": when .defaultConstraints are not empty'
            )
        seen: set[tuple[str, str]] = set()
        for i, c in enumerate(self.default_constraints):
            errors.extend(_constraint_errors(f"defaultConstraints[{i}]", c))
            pair = (c.topology_key, c.when_unsatisfiable)
            if pair in seen:
                errors.append(
                    f'defaultConstraints[{i}]: Duplicate value: "{{{pair[0]}, {pair[1]}}}"'
                )
            seen.add(pair)
        if errors:
            raise ValueError("; ".join(errors))
        return self


def _constraint_errors(path: str, c: TopologySpreadConstraint) -> list[str]:
    errors: list[str] = []
    if c.max_skew <= 0:
        errors.append(f"{path}.maxSkew: Invalid value: {c.max_skew}: not in valid range (0, inf)")
    if not c.topology_key:
        errors.append(f"{path}.topologyKey: Required value: can not be empty")
    else:
        try:
            # Parsing an Exists requirement validates the key as a label name.
            LabelRequirement.parse(c.topology_key, EXISTS, ())
        except SelectorError as exc:
            errors.append(f"{path}.topologyKey: {exc}")
    if not c.when_unsatisfiable:
        errors.append(f"{path}.whenUnsatisfiable: Required value: can not be empty")
    elif c.when_unsatisfiable not in (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY):
        errors.append(
            f'{path}.whenUnsatisfiable: Unsupported value: "{c.when_unsatisfiable}": '
            f'supported values: "{DO_NOT_SCHEDULE}", "{SCHEDULE_ANYWAY}"'
        )
    if c.label_selector is not None:
        errors.append(
            f"{path}.labelSelector: Forbidden: constraint must not define a selector, "
            "as they deduced for each pod"
        )
    return errors


Args = PodTopologySpreadArgs


class PodTopologySpread:
    """Filter on DoNotSchedule constraints, score on ScheduleAnyway ones."""

    def __init__(self, args: PodTopologySpreadArgs, handle: Handle | None = None) -> None:
        self.args = args
        self.system_defaulted = args.defaulting_type == SYSTEM_DEFAULTING
        self.default_constraints: tuple[TopologySpreadConstraint, ...] = (
            SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else tuple(args.default_constraints)
        )
        self._handle = handle
        self._counter = MatchCounter()

    @property
    def name(self) -> str:
        return NAME

    # -- constraints ------------------------------------------------------------------
    def _selector_for(self) -> SelectorFor | None:
        # Read at call time: the hook may be installed after the plugin is built.
        hook = None if self._handle is None else self._handle.extra.get(SELECTOR_FOR_KEY)
        return hook if callable(hook) else None

    def constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        """``getConstraints``: the pod's own, else the defaults; raises SelectorError.

        The pod's own constraints depend on its spec alone and are parsed once
        (``pod.cache``); defaults follow the workload hook, so are rebuilt.
        """
        specs = pod.pod.spec.topology_spread_constraints
        if not specs:
            return build_default_constraints(
                self.default_constraints, pod, action, self._selector_for()
            )
        cached: dict[str, list[Constraint]] = pod.cache.setdefault(NAME, {})
        hit = cached.get(action)
        if hit is None:
            hit = cached[action] = filter_constraints(specs, pod.labels, action)
        return hit

    # -- queueing -----------------------------------------------------------------------
    def events_to_register(self) -> list[ClusterEventWithHint]:
        # Upstream's list with queueing hints enabled (so Pod/UpdatePodToleration too).
        pod_actions = (
            ActionType.ADD
            | ActionType.UPDATE_POD_LABEL
            | ActionType.UPDATE_POD_TOLERATIONS
            | ActionType.DELETE
        )
        node_actions = (
            ActionType.ADD
            | ActionType.DELETE
            | ActionType.UPDATE_NODE_LABEL
            | ActionType.UPDATE_NODE_TAINT
        )
        return [
            ClusterEventWithHint(
                ClusterEvent(EventResource.POD, pod_actions), self.is_schedulable_after_pod_change
            ),
            ClusterEventWithHint(
                ClusterEvent(EventResource.NODE, node_actions),
                self.is_schedulable_after_node_change,
            ),
        ]

    def is_schedulable_after_pod_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Queue when an assigned pod starts or stops counting, or ``pod`` gains tolerations."""
        original = old if isinstance(old, PodInfo) else None
        modified = new if isinstance(new, PodInfo) else None
        if original is None and modified is None:
            return QueueingHint.QUEUE  # no object to judge
        if any(p is not None and not _involved(p, pod) for p in (original, modified)):
            return QueueingHint.QUEUE_SKIP
        try:
            constraints = self.constraints(pod, DO_NOT_SCHEDULE)
        except SelectorError:
            return QueueingHint.QUEUE
        if original is not None and modified is not None:
            if (
                modified.uid == pod.uid
                and modified.pod.spec.tolerations != original.pod.spec.tolerations
                and any(c.honor_node_taints for c in constraints)
            ):
                return QueueingHint.QUEUE
            if modified.labels == original.labels:
                return QueueingHint.QUEUE_SKIP
            changed = any(
                c.selector.matches(original.labels) != c.selector.matches(modified.labels)
                for c in constraints
            )
            return QueueingHint.QUEUE if changed else QueueingHint.QUEUE_SKIP
        either = modified if modified is not None else original
        assert either is not None
        if pod_matches_any(constraints, either.labels):
            return QueueingHint.QUEUE
        return QueueingHint.QUEUE_SKIP

    def is_schedulable_after_node_change(
        self, pod: PodInfo, old: object, new: object
    ) -> QueueingHint:
        """Queue when a node gains or loses every topology key, or changes one, or its taints."""
        original = old if isinstance(old, Node) else None
        modified = new if isinstance(new, Node) else None
        if original is None and modified is None:
            return QueueingHint.QUEUE  # no object to judge (a batch of nodes)
        try:
            constraints = self.constraints(pod, DO_NOT_SCHEDULE)
        except SelectorError:
            return QueueingHint.QUEUE
        was = original is not None and node_has_all_keys(original.metadata.labels, constraints)
        now = modified is not None and node_has_all_keys(modified.metadata.labels, constraints)
        if original is not None and modified is not None:
            if was != now:
                return QueueingHint.QUEUE
            relabelled = any(
                original.metadata.labels.get(c.topology_key)
                != modified.metadata.labels.get(c.topology_key)
                for c in constraints
            )
            if now and (relabelled or original.spec.taints != modified.spec.taints):
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP
        return QueueingHint.QUEUE if (now or was) else QueueingHint.QUEUE_SKIP

    # -- filter -------------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Count matching pods per domain; Skip when the pod has no DoNotSchedule constraint."""
        try:
            constraints = self.constraints(pod, DO_NOT_SCHEDULE)
        except SelectorError as exc:
            message = (
                f"get constraints from pod: obtaining pod's hard topology spread constraints: {exc}"
            )
            return None, Status.from_error(message)
        if not constraints:
            return None, SKIP
        state.write(
            PRE_FILTER_STATE_KEY,
            filtering.compute_pre_filter_state(pod, constraints, nodes, self._counter),
        )
        return None, None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        return filtering.filter_node(s, node)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.uint8]:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        return filtering.filter_nodes(s, nodes)

    def add_pod(
        self, state: CycleState, pod: PodInfo, pod_to_add: PodInfo, node: NodeInfo
    ) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        filtering.update_with_pod(s, pod, pod_to_add, node, +1)
        return None

    def remove_pod(
        self, state: CycleState, pod: PodInfo, pod_to_remove: PodInfo, node: NodeInfo
    ) -> Status | None:
        s: PreFilterState = state.read(PRE_FILTER_STATE_KEY)
        filtering.update_with_pod(s, pod, pod_to_remove, node, -1)
        return None

    # -- score --------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        """Weights and domain counts; Skip with no nodes or no ScheduleAnyway constraint."""
        if nodes.snapshot.n == 0:
            return SKIP
        try:
            constraints = self.constraints(pod, SCHEDULE_ANYWAY)
        except SelectorError as exc:
            return Status.from_error(
                "calculating preScoreState: obtaining pod's soft topology spread "
                f"constraints: {exc}"
            )
        if not constraints:
            return SKIP
        # Only non-system-default rules require every key: nodes without a zone
        # label still get hostname spreading from the system defaults.
        require_all = bool(pod.pod.spec.topology_spread_constraints) or not self.system_defaulted
        state.write(
            PRE_SCORE_STATE_KEY,
            scoring.compute_pre_score_state(pod, constraints, nodes, self._counter, require_all),
        )
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        return scoring.score_node(s, pod, node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        return scoring.score_nodes(s, nodes)

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        s: PreScoreState = state.read(PRE_SCORE_STATE_KEY)
        return scoring.normalize(s, scores)


def _involved(incoming: PodInfo, pod: PodInfo) -> bool:
    """``involvedInTopologySpreading``: the pod itself, or an assigned pod of its namespace."""
    return incoming.uid == pod.uid or (
        incoming.node_name != "" and incoming.namespace == pod.namespace
    )


def new(args: PodTopologySpreadArgs | None, handle: Handle | None) -> PodTopologySpread:
    return PodTopologySpread(args or PodTopologySpreadArgs(), handle)
