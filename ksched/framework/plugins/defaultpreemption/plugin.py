"""DefaultPreemption: when no node fits, evict lower-priority pods to make room.

Upstream defaultpreemption/default_preemption.go (the plugin) and
framework/preemption/preemption.go (``Evaluator.Preempt``): check that the
pod may preempt, dry-run preemption on the nodes where it might help, pick
the candidate with the cheapest victims, evict them and nominate the node.
The pod itself is bound in a later cycle, once the victims are gone.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from typing import Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from ksched.api import PodCondition, PodDisruptionBudget
from ksched.framework.cycle_state import CycleState
from ksched.framework.events import ClusterEventWithHint
from ksched.framework.handle import Handle
from ksched.framework.interface import NodeToStatus, PostFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.defaultpreemption.candidates import (
    ERR_NO_VICTIMS,
    calculate_num_candidates,
    dry_run_preemption,
    potential_mask,
)
from ksched.framework.plugins.defaultpreemption.selection import (
    Candidate,
    pick_one_node_for_preemption,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Code, Status, code_of

NAME: Final = names.DEFAULT_PREEMPTION
PREEMPT_NEVER: Final = "Never"
ERR_PREEMPTION_POLICY_NEVER: Final = "not eligible due to preemptionPolicy=Never."
ERR_TERMINATING_ON_NOMINATED: Final = "not eligible due to a terminating pod on the nominated node."
ERR_NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"
ERR_NO_CANDIDATE: Final = "no candidate node for preemption"
MESSAGE_PREFIX: Final = "preemption: "
DISRUPTION_TARGET: Final = "DisruptionTarget"
REASON_PREEMPTION_BY_SCHEDULER: Final = "PreemptionByScheduler"


class DefaultPreemptionArgs(BaseModel):
    """How many candidate nodes the dry run must find before it stops looking."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    min_candidate_nodes_percentage: int = Field(10, ge=0, le=100)
    min_candidate_nodes_absolute: int = Field(100, ge=0)

    @model_validator(mode="after")
    def _not_both_zero(self) -> DefaultPreemptionArgs:
        # validation.ValidateDefaultPreemptionArgs
        if self.min_candidate_nodes_percentage == 0 and self.min_candidate_nodes_absolute == 0:
            raise ValueError(
                "both minCandidateNodesPercentage and minCandidateNodesAbsolute cannot be zero"
            )
        return self


Args = DefaultPreemptionArgs


def pod_terminating_by_preemption(pod: PodInfo) -> bool:
    """Deleted, with the DisruptionTarget condition the scheduler sets on its victims."""
    if pod.pod.metadata.deletion_timestamp is None:
        return False
    for cond in pod.pod.status.conditions:
        if cond.type == DISRUPTION_TARGET:
            return cond.status == "True" and cond.reason == REASON_PREEMPTION_BY_SCHEDULER
    return False


def no_fit_message(num_all_nodes: int, statuses: dict[str, Status], absent: Status) -> str:
    """``FitError.Error()`` of a failed preemption: nodes not tried read as ``absent``."""
    counts: Counter[str] = Counter()
    for status in statuses.values():
        counts.update(status.reasons)
    if len(statuses) < num_all_nodes:
        for reason in absent.reasons:
            counts[reason] += num_all_nodes - len(statuses)
    return _histogram_message(num_all_nodes, counts)


def _histogram_message(num_all_nodes: int, counts: Mapping[str, int]) -> str:
    msg = f"0/{num_all_nodes} nodes are available:"
    if counts:
        msg += " " + ", ".join(sorted(f"{n} {r}" for r, n in counts.items())) + "."
    return msg


class DefaultPreemption:
    """PostFilter that preempts lower-priority pods (upstream ``DefaultPreemption``)."""

    def __init__(self, args: DefaultPreemptionArgs, handle: Handle) -> None:
        self.args = args
        self.handle = handle

    @property
    def name(self) -> str:
        return NAME

    def events_to_register(self) -> list[ClusterEventWithHint]:
        # Upstream registers events only for async preemption, which ksched does not run.
        return []

    # -- PostFilter ---------------------------------------------------------------
    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        result, status = self.preempt(state, pod, statuses)
        if status.message:
            return result, Status(status.code, (MESSAGE_PREFIX + status.message,), "", status.error)
        return result, status

    def preempt(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        """``Evaluator.Preempt``: eligibility, candidates, the best one, its eviction."""
        nominated = pod.pod.status.nominated_node_name or ""
        ok, msg = self.pod_eligible_to_preempt_others(
            pod, statuses.get(nominated) if nominated else None
        )
        if not ok:
            return None, Status.unschedulable(msg)
        fwk = self.handle.framework
        if fwk is None:
            return None, Status.from_error(f"{NAME} needs handle.framework to run the filters")
        snap = fwk.snapshot
        if snap.n == 0:
            return None, Status.from_error("no nodes available")
        mask = potential_mask(snap, statuses)
        potential = int(np.count_nonzero(mask))
        absent = Status.unresolvable(ERR_NOT_HELPFUL)
        if not potential:
            return None, Status.unschedulable(no_fit_message(snap.n, {}, absent))
        if not np.count_nonzero(mask & (snap.min_pod_priority < pod.priority)):
            # No candidate node holds a lower-priority pod: every dry run would find no
            # victims, so the outcome (and upstream's message) is known without running them.
            counts = {ERR_NO_VICTIMS: potential}
            if snap.n > potential:
                counts[ERR_NOT_HELPFUL] = snap.n - potential
            return None, Status.unschedulable(_histogram_message(snap.n, counts))
        nodes = [snap.nodes[i] for i in np.flatnonzero(mask).tolist()]
        offset, num = self.get_offset_and_num_candidates(len(nodes))
        dry = dry_run_preemption(fwk, state, pod, nodes, self._pdbs(), offset, num)
        if not dry.candidates:
            if dry.errors:
                return None, dry.errors[0]
            return None, Status.unschedulable(no_fit_message(snap.n, dry.statuses, absent))
        best = pick_one_node_for_preemption(dry.candidates)
        if best is None or not best.node_name:
            return None, Status.unschedulable(ERR_NO_CANDIDATE)
        status = self.prepare_candidate(best, pod)
        if status is not None:
            return None, status
        result = PostFilterResult(best.node_name, list(best.victims))
        return result, Status(Code.SUCCESS)

    def fails_without_effect(self, pod: PodInfo) -> bool:
        """Would ``post_filter`` fail for ``pod`` now, whatever the statuses, touching nothing?

        Yes when no dry run can happen: a pod that may not preempt, or no node holds a pod
        of lower priority; only the message then depends on the statuses. (A dry run draws
        its start node at random, reads the PDBs, and may find victims.)
        """
        if pod.pod.spec.preemption_policy == PREEMPT_NEVER:
            return True
        snap = self.handle.snapshot
        return not bool(np.count_nonzero(snap.min_pod_priority < pod.priority))

    def pod_eligible_to_preempt_others(
        self, pod: PodInfo, nominated_node_status: Status | None
    ) -> tuple[bool, str]:
        """May ``pod`` preempt now?  Not with preemptionPolicy Never, nor while its victims leave.

        A pod whose nominated node still holds lower-priority pods terminating
        by preemption waits for them instead of preempting again, unless that
        node became UnschedulableAndUnresolvable.
        """
        if pod.pod.spec.preemption_policy == PREEMPT_NEVER:
            return False, ERR_PREEMPTION_POLICY_NEVER
        nominated = pod.pod.status.nominated_node_name
        if nominated:
            if code_of(nominated_node_status) == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            info = self.handle.snapshot.get(nominated)
            if info is not None:
                for p in info.pods.values():
                    if p.priority < pod.priority and pod_terminating_by_preemption(p):
                        return False, ERR_TERMINATING_ON_NOMINATED
        return True, ""

    def get_offset_and_num_candidates(self, num_nodes: int) -> tuple[int, int]:
        """A random start among the nodes, and how many candidates to find."""
        offset = int(self.handle.rng.integers(num_nodes))
        num = calculate_num_candidates(
            num_nodes,
            self.args.min_candidate_nodes_percentage,
            self.args.min_candidate_nodes_absolute,
        )
        return offset, num

    def prepare_candidate(self, candidate: Candidate, pod: PodInfo) -> Status | None:
        """Evict the victims and drop lower-priority nominations to the node (``prepareCandidate``).

        A victim waiting at Permit is rejected instead of deleted; one already
        being deleted is left alone.  Victims get upstream's DisruptionTarget
        condition first, so a later cycle sees them as terminating by preemption.
        """
        client = self.handle.client
        if client is None:
            return Status.from_error("preemption needs a cluster client to evict victims")
        node = candidate.node_name
        message = f"{pod.scheduler_name}: preempting to accommodate a higher priority pod"
        for victim in candidate.victims:
            if victim.pod.metadata.deletion_timestamp is not None:
                continue
            waiting = self.handle.waiting_pods.get(victim.uid)
            if waiting is not None:
                waiting.reject(NAME, "preempted")
            else:
                _set_disruption_target(victim, message)
                try:
                    client.delete_pod(victim, message)
                except Exception as exc:
                    return Status.from_error(exc)
            if self.handle.recorder is not None:
                self.handle.recorder.event(
                    victim,
                    "Normal",
                    "Preempted",
                    "Preempting",
                    f"Preempted by pod {pod.uid} on node {node}",
                )
        # Lower-priority pods nominated here may no longer fit; let them look elsewhere.
        nominator = self.handle.nominator
        if nominator is not None:
            for p in nominator.nominated_pods_for_node(node):
                if p.priority < pod.priority:
                    nominator.delete_nominated_pod_if_exists(p)
                    # Upstream logs a failure here and goes on: it is not critical.
                    with contextlib.suppress(Exception):
                        client.set_nominated_node(p, "")
        return None

    def _pdbs(self) -> list[PodDisruptionBudget]:
        client = self.handle.client
        return [] if client is None else list(client.pdbs())


def _set_disruption_target(victim: PodInfo, message: str) -> None:
    """Record why the victim goes, as upstream patches its status before deleting it."""
    conditions = victim.pod.status.conditions
    cond = PodCondition(
        type=DISRUPTION_TARGET,
        status="True",
        reason=REASON_PREEMPTION_BY_SCHEDULER,
        message=message,
    )
    for i, existing in enumerate(conditions):
        if existing.type == DISRUPTION_TARGET:
            conditions[i] = cond
            return
    conditions.append(cond)


def new(args: DefaultPreemptionArgs | None, handle: Handle) -> DefaultPreemption:
    return DefaultPreemption(args or DefaultPreemptionArgs(), handle)
