"""The scheduling loop: one pod at a time, as kube-scheduler's ``schedule_one.go``.

A synchronous scheduling cycle (PreFilter, Filter, PostFilter, PreScore,
Score, Reserve, Permit) is followed by the binding cycle (PreBind, Bind,
PostBind).  Every failure path unreserves the pod and forgets it from the
snapshot.  Here the binding cycle runs in the same thread: in replay there
is nothing to wait for, and a live client may block in ``bind`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ksched.api import Node, Pod
from ksched.config import KubeSchedulerConfiguration, default_config, resolve_config
from ksched.config.feature_gates import POP_FROM_BACKOFF_Q, resolve_feature_gates
from ksched.config.registry import Registry
from ksched.framework import events as ev
from ksched.framework.clock import Clock, SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.equivalence import KnownFailure
from ksched.framework.handle import ClusterClient, EventRecorder, Handle
from ksched.framework.interface import NodeToStatus, PreFilterResult
from ksched.framework.nominated import filter_with_nominated_pods
from ksched.framework.pod_info import PodInfo
from ksched.framework.queue import SchedulingQueue
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.framework.runtime import (
    CycleError,
    Framework,
    ScoreOutcome,
    num_feasible_nodes_to_find,
)
from ksched.framework.snapshot import ClusterSnapshot, NodeSet
from ksched.framework.status import Code, Status
from ksched.framework.waiting_pods import WaitingPod
from ksched.scheduler.explain import Explanation, explain
from ksched.scheduler.fit_error import Diagnosis, fit_error_message

TieBreak = Literal["random", "smallest-name"]
ERR_NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass(slots=True)
class ScheduleResult:
    """Outcome of one scheduling attempt."""

    pod: PodInfo
    node: str = ""
    status: Status | None = None
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    nominated_node: str = ""
    message: str = ""
    waiting: bool = False

    @property
    def scheduled(self) -> bool:
        return bool(self.node) and self.status is None and not self.waiting


@dataclass(slots=True)
class Metrics:
    """Counters named after kube-scheduler's metrics (``scheduler_schedule_attempts_total``)."""

    attempts: dict[str, int] = field(
        default_factory=lambda: {"scheduled": 0, "unschedulable": 0, "error": 0}
    )
    preemption_attempts: int = 0
    preemption_victims: int = 0


class _KnownFitError(Exception):
    def __init__(self, failure: KnownFailure) -> None:
        super().__init__("no fit, as last time")
        self.failure = failure


class _FitError(Exception):
    def __init__(
        self, num_nodes: int, diagnosis: Diagnosis, token: tuple[int, int] | None = None
    ) -> None:
        super().__init__("no fit")
        self.num_nodes = num_nodes
        self.diagnosis = diagnosis
        # The snapshot's (generation, resource version) when the failure may be remembered
        # for the pod's class: found from its cached arrays, PreFilter passing, no nominations.
        self.token = token

    def message(self) -> str:
        return fit_error_message(self.num_nodes, self.diagnosis)


def _pre_enqueue_of(
    profiles: Mapping[str, Framework],
) -> Callable[[PodInfo], Status | None]:
    """The queue's PreEnqueue gate: the pod's own profile decides.

    A closure over the profiles, not a bound method: the scheduler owns the
    queue, and a reference back would put both in a cycle.
    """

    def pre_enqueue(pod: PodInfo) -> Status | None:
        fwk = profiles.get(pod.scheduler_name)
        return None if fwk is None else fwk.run_pre_enqueue(pod)

    return pre_enqueue


class Scheduler:
    """Profiles by schedulerName, one queue, one snapshot, one clock."""

    def __init__(
        self,
        config: KubeSchedulerConfiguration | None = None,
        *,
        registry: Registry | None = None,
        clock: Clock | None = None,
        seed: int = 0,
        client: ClusterClient | None = None,
        recorder: EventRecorder | None = None,
        tie_break: TieBreak = "random",
        explain_messages: bool = True,
        equivalence_cache: bool = True,
        feature_gates: Mapping[str, bool] | None = None,
    ) -> None:
        from ksched.framework.plugins.registry import default_registry

        self.config = config or default_config()
        self.registry = registry or default_registry()
        self.clock = clock or SimClock()
        self.rng = np.random.default_rng(seed)
        self.snapshot = ClusterSnapshot()
        self.tie_break: TieBreak = tie_break
        self.explain_messages = explain_messages
        self.equivalence_cache = equivalence_cache
        self.feature_gates = resolve_feature_gates(feature_gates)
        self.metrics = Metrics()
        self.next_start_node_index = 0
        self.pods: dict[str, PodInfo] = {}
        self.bound: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        from ksched.scheduler.local_client import LocalClient

        self.client: ClusterClient = client or LocalClient(self)
        self.recorder = recorder
        resolved = resolve_config(self.config, self.registry)
        self.profiles: dict[str, Framework] = {}
        hints: dict[str, list[ev.ClusterEventWithHint]] = {}
        for profile in resolved:
            handle = Handle(
                snapshot=self.snapshot,
                clock=self.clock,
                rng=self.rng,
                client=self.client,
                recorder=recorder,
            )
            fwk = Framework(profile, self.registry, handle)
            self.profiles[profile.scheduler_name] = fwk
            for name, registered in fwk.events_to_register().items():
                hints.setdefault(name, []).extend(registered)
        first = next(iter(self.profiles.values()))
        sort = first.queue_sort
        self.queue = SchedulingQueue(
            self.clock,
            less=sort.less if sort is not None else None,
            sort_key=getattr(sort, "sort_key", None),
            pre_enqueue=[("PreEnqueue", _pre_enqueue_of(self.profiles))],
            event_hints=hints,
            initial_backoff=float(self.config.pod_initial_backoff_seconds),
            max_backoff=float(self.config.pod_max_backoff_seconds),
            pop_from_backoff=self.feature_gates[POP_FROM_BACKOFF_Q],
        )
        self.nominator = self.queue.nominator
        waiting = first.handle.waiting_pods
        for fwk in self.profiles.values():
            fwk.handle.nominator = self.nominator
            fwk.handle.waiting_pods = waiting
        self.waiting_pods = waiting
        self._waiting_states: dict[str, tuple[Framework, CycleState, QueuedPodInfo, int]] = {}

    # -- cluster events (upstream eventhandlers.go) --------------------------------
    def add_node(self, node: Node) -> None:
        old = self.snapshot.get(node.metadata.name or "")
        if old is not None:
            self.update_node(node)
            return
        self.snapshot.add_node(node)
        self.queue.move_all_to_active_or_backoff(ev.NODE_ADD, None, node)

    def add_nodes(self, nodes: Iterable[Node]) -> None:
        """Add many nodes, then wake the queue once."""
        for node in nodes:
            self.snapshot.add_node(node)
        self.queue.move_all_to_active_or_backoff(ev.NODE_ADD, None, None)

    def update_node(self, node: Node) -> None:
        info = self.snapshot[node.metadata.name or ""]
        old = info.node
        self.snapshot.update_node(node)
        action = ev.ActionType(0)
        if old.status.allocatable != node.status.allocatable:
            action |= ev.ActionType.UPDATE_NODE_ALLOCATABLE
        if old.metadata.labels != node.metadata.labels:
            action |= ev.ActionType.UPDATE_NODE_LABEL
        if old.spec.taints != node.spec.taints or old.spec.unschedulable != node.spec.unschedulable:
            action |= ev.ActionType.UPDATE_NODE_TAINT
        if old.status.conditions != node.status.conditions:
            action |= ev.ActionType.UPDATE_NODE_CONDITION
        if old.metadata.annotations != node.metadata.annotations:
            action |= ev.ActionType.UPDATE_NODE_ANNOTATION
        if action:
            self.queue.move_all_to_active_or_backoff(ev.node_update_event(action), old, node)

    def remove_node(self, name: str) -> list[PodInfo]:
        """Delete a node; its pods are deleted too (as the pod GC would), and returned."""
        info = self.snapshot.get(name)
        if info is None:
            return []
        node = info.node
        pods = self.snapshot.remove_node(name)
        for pod in pods:
            self.pods.pop(pod.key, None)
            self.bound.pop(pod.key, None)
        self.queue.move_all_to_active_or_backoff(ev.NODE_DELETE, node, None)
        return pods

    def add_pod(self, pod: Pod | PodInfo) -> PodInfo:
        """A new pod: bound ones go into the snapshot, ours into the queue, others nowhere."""
        info = pod if isinstance(pod, PodInfo) else PodInfo.from_pod(pod)
        self.pods[info.key] = info
        node = info.node_name
        if node:
            if node in self.snapshot.index:
                self.snapshot.add_pod(info, node)
                self.bound[info.key] = node
            self.queue.move_all_to_active_or_backoff(ev.ASSIGNED_POD_ADD, None, info)
        elif info.scheduler_name in self.profiles:
            self.queue.add(info)
        return info

    def add_pods(self, pods: Iterable[Pod | PodInfo]) -> None:
        for pod in pods:
            self.add_pod(pod)

    def delete_pod(self, key: str) -> PodInfo | None:
        info = self.pods.pop(key, None)
        if info is None:
            return None
        wp = self.waiting_pods.get(info.uid)
        if wp is not None:
            # Upstream RejectWaitingPod: the binding cycle unreserves and forgets it.
            wp.reject("", "pod deleted while waiting")
            self._finish_waiting()
            self.queue.delete(info)
        if self.snapshot.node_of(key) is not None:
            self.snapshot.remove_pod(info)
            self.bound.pop(key, None)
            self.queue.move_all_to_active_or_backoff(ev.ASSIGNED_POD_DELETE, info, None)
        else:
            self.queue.delete(info)
        self.nominator.delete_nominated_pod_if_exists(info)
        return info

    # -- the loop ---------------------------------------------------------------------
    def run(self, max_cycles: int | None = None) -> list[ScheduleResult]:
        """Schedule until ``pop`` has no pod (timers are honoured, time is not advanced).

        That is when activeQ is empty and, with ``SchedulerPopFromBackoffQ``
        on (the default), backoffQ's rejected pods have had their retry too.
        """
        results: list[ScheduleResult] = []
        while max_cycles is None or len(results) < max_cycles:
            self.queue.run_timers()
            results.extend(self._expire_waiting())
            result = self.schedule_one()
            if result is None:
                break
            results.append(result)
        return results

    def schedule_one(self, hints: Mapping[str, str] | None = None) -> ScheduleResult | None:
        """Pop one pod and run its scheduling and binding cycles.

        ``hints`` (pod key -> node name) carries a batch solver's decisions
        (``ksched.solvers``): a hinted pod is filtered and scored on that node
        only ("" means none: the pod is unschedulable), then reserved,
        permitted and bound as any other placement.
        """
        qpi = self.queue.pop()
        if qpi is None:
            return None
        pod = qpi.pod_info
        fwk = self.profiles.get(pod.scheduler_name)
        if fwk is None or pod.key not in self.pods or pod.key in self.bound:
            self.queue.done(pod.key)
            return ScheduleResult(pod, status=Status(Code.ERROR, ("skipped",)))
        cycle = self.queue.scheduling_cycle
        state = CycleState()
        only = None if hints is None else hints.get(pod.key)
        try:
            result = self.schedule_pod(fwk, state, pod, only)
        except _KnownFitError as known:
            return self._repeat_failure(fwk, qpi, cycle, known.failure)
        except _FitError as fit:
            return self._handle_fit_error(fwk, state, qpi, cycle, fit)
        except CycleError as err:
            return self._fail(fwk, qpi, cycle, err.status, err.status.message)
        return self._assume_and_bind(fwk, state, qpi, cycle, result)

    def schedule_pod(
        self, fwk: Framework, state: CycleState, pod: PodInfo, only: str | None = None
    ) -> ScheduleResult:
        """Find the best node (upstream ``schedulePod``); raises _FitError when none fits.

        ``only``: consider that node alone (a batch solver's hint, see ``schedule_one``).
        """
        snap = self.snapshot
        if snap.n == 0:
            # An error, not a FitError, as upstream's ErrNoNodesAvailable: the pod backs off.
            raise CycleError(Status(Code.ERROR, (ERR_NO_NODES_AVAILABLE,)))
        nominated = pod.pod.status.nominated_node_name
        token = None
        if self.equivalence_cache and only is None and not nominated and not len(self.nominator):
            token = (snap.generation, snap.resources.version)
            known = fwk.known_failure(state, pod, token)
            if known is not None:
                raise _KnownFitError(known)
        restrict, status = fwk.run_pre_filter(state, pod)
        if only is not None and status is None:
            hinted = PreFilterResult(frozenset({only} if only else ()))
            restrict = hinted if restrict is None else restrict.merge(hinted)
        if status is not None:
            if status.code == Code.ERROR:
                raise CycleError(status)
            statuses = NodeToStatus(status)
            raise _FitError(snap.n, Diagnosis(statuses, {status.plugin}, status.message))
        if nominated and only is None and nominated in snap.index:
            info = snap[nominated]
            if filter_with_nominated_pods(fwk, state, pod, info) is None:
                return ScheduleResult(pod, nominated, None, 1, 1)
        considered = (
            snap.n if restrict is None or restrict.node_names is None else len(restrict.node_names)
        )
        to_find = num_feasible_nodes_to_find(
            fwk.percentage_of_nodes_to_score
            if fwk.percentage_of_nodes_to_score is not None
            else self.config.percentage_of_nodes_to_score,
            considered,
        )
        if not fwk.scores:
            to_find = min(to_find, 1)  # nothing to rank: the first feasible node will do (upstream)
        cached = self.equivalence_cache and restrict is None and len(self.nominator) == 0
        outcome = None
        if cached:
            outcome = fwk.find_feasible_cached(state, pod, to_find, self.next_start_node_index)
        if outcome is None:
            cached = False
            outcome = fwk.find_feasible(state, pod, restrict, to_find, self.next_start_node_index)
        if snap.n:
            # Modulo all nodes, even under a PreFilterResult, as upstream.
            self.next_start_node_index = (self.next_start_node_index + outcome.processed) % snap.n
        feasible = outcome.feasible
        if len(feasible) == 0:
            diagnosis = Diagnosis(outcome.statuses, outcome.unschedulable_plugins)
            raise _FitError(snap.n, diagnosis, token if cached else None)
        if len(feasible) == 1:
            return ScheduleResult(
                pod, snap.nodes[int(feasible[0])].name, None, outcome.processed, 1
            )
        first, last = int(feasible[0]), int(feasible[-1])
        if last - first + 1 == len(feasible):
            nodes = NodeSet(snap, slice(first, last + 1))  # contiguous: array views, no copies
        else:
            nodes = NodeSet(snap, feasible)
        status = fwk.run_pre_score(state, pod, nodes)
        if status is not None:
            raise CycleError(status)
        scores = fwk.run_score_cached(state, pod, nodes) if cached else None
        if scores is None:
            scores = fwk.run_score(state, pod, nodes)
        row = self.select_host(nodes, scores)
        return ScheduleResult(pod, snap.nodes[row].name, None, outcome.processed, len(feasible))

    def select_host(self, nodes: NodeSet, scores: ScoreOutcome) -> int:
        """Highest total wins; ties by the configured rule (upstream: uniform random)."""
        total = scores.total
        best = total[total.argmax()]  # argmax: cheaper than max() on short arrays
        top = (total == best).nonzero()[0]
        if len(top) == 1:
            return nodes.row(int(top[0]))
        if self.tie_break == "smallest-name":
            tied = nodes.indices[top]
            return int(tied[self.snapshot.name_ranks()[tied].argmin()])
        return nodes.row(int(top[int(self.rng.integers(len(top)))]))

    # -- failure ------------------------------------------------------------------------
    def _handle_fit_error(
        self, fwk: Framework, state: CycleState, qpi: QueuedPodInfo, cycle: int, fit: _FitError
    ) -> ScheduleResult:
        pod = qpi.pod_info
        nominated = ""
        want_message = self.explain_messages or self.recorder is not None
        # Reasons are read before PostFilter: preemption changes the nodes they describe.
        filter_message = fit.message() if want_message else ""
        # PostFilter fails whatever the statuses, touching nothing (``fails_without_effect``)?
        sure_to_fail = self._post_filter_fails(fwk, pod)
        if fwk.post_filter and fit.num_nodes:
            self.metrics.preemption_attempts += 1
            if want_message or not sure_to_fail:  # else its outcome is known, its message unread
                result, status = fwk.run_post_filter(state, pod, fit.diagnosis.statuses)
                if status.code == Code.SUCCESS and result is not None:
                    nominated = result.nominated_node_name
                    self.metrics.preemption_victims += len(result.victims)
                elif status.reasons:
                    fit.diagnosis.post_filter_msg = status.message
        qpi.unschedulable_plugins = set(fit.diagnosis.unschedulable_plugins)
        message = filter_message
        if want_message and fit.diagnosis.post_filter_msg:
            message += f" {fit.diagnosis.post_filter_msg}"
        snap = self.snapshot
        if (
            fit.token is not None
            and sure_to_fail
            and (snap.generation, snap.resources.version) == fit.token
        ):
            # Filter and PostFilter would fail alike until the snapshot changes.
            plugins = frozenset(qpi.unschedulable_plugins)
            fwk.remember_failure(state, KnownFailure(fit.token, plugins, message))
        res = self._fail(
            fwk, qpi, cycle, Status(Code.UNSCHEDULABLE, (message,)), message, nominated
        )
        res.nominated_node = nominated
        return res

    def _post_filter_fails(self, fwk: Framework, pod: PodInfo) -> bool:
        """Does each PostFilter plugin say it fails for ``pod`` now, whatever the filter
        statuses, with no side effect (``fails_without_effect``)?  Then only its message
        depends on the statuses, and the same cycle on the same snapshot fails alike."""
        for plugin in fwk.post_filter:
            fails = getattr(plugin, "fails_without_effect", None)
            if fails is None or not fails(pod):
                return False
        return True

    def _repeat_failure(
        self, fwk: Framework, qpi: QueuedPodInfo, cycle: int, known: KnownFailure
    ) -> ScheduleResult:
        """A twin's remembered failure: what ``_handle_fit_error`` would do again."""
        if fwk.post_filter:
            self.metrics.preemption_attempts += 1
        qpi.unschedulable_plugins = set(known.unschedulable_plugins)
        status = Status(Code.UNSCHEDULABLE, (known.message,))
        return self._fail(fwk, qpi, cycle, status, known.message)

    def _fail(
        self,
        fwk: Framework,
        qpi: QueuedPodInfo,
        cycle: int,
        status: Status,
        message: str,
        nominated: str = "",
    ) -> ScheduleResult:
        pod = qpi.pod_info
        if status.code == Code.ERROR:
            self.metrics.attempts["error"] += 1
            qpi.unschedulable_plugins = set()
        else:
            self.metrics.attempts["unschedulable"] += 1
        self.failures[pod.key] = message
        if self.recorder is not None:
            self.recorder.event(pod, "Warning", "FailedScheduling", "Scheduling", message)
        self.queue.add_unschedulable_if_not_present(qpi, cycle)
        if nominated:
            self.nominator.add_nominated_pod(pod, nominated)
            self.client.set_nominated_node(pod, nominated)
        return ScheduleResult(pod, status=status, message=message, nominated_node=nominated)

    # -- reserve, permit, bind -----------------------------------------------------------
    def _assume_and_bind(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        cycle: int,
        result: ScheduleResult,
    ) -> ScheduleResult:
        pod = qpi.pod_info
        node = result.node
        self.snapshot.add_pod(pod, node)  # assume
        self.nominator.delete_nominated_pod_if_exists(pod)
        status = fwk.run_reserve(state, pod, node)
        if status is not None:
            return self._forget(fwk, state, qpi, cycle, node, status)
        status = fwk.run_permit(state, pod, node)
        if status is not None and status.code == Code.WAIT:
            self._waiting_states[pod.uid] = (fwk, state, qpi, cycle)
            self.queue.done(pod.key)
            result.waiting = True
            return result
        if status is not None:
            return self._forget(fwk, state, qpi, cycle, node, status)
        self.queue.done(pod.key)
        return self._binding_cycle(fwk, state, qpi, cycle, result)

    def _binding_cycle(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        cycle: int,
        result: ScheduleResult,
    ) -> ScheduleResult:
        pod = qpi.pod_info
        node = result.node
        status = fwk.run_pre_bind(state, pod, node)
        if status is None:
            status = fwk.run_bind(state, pod, node)
        if status is not None:
            return self._forget(
                fwk, state, qpi, cycle, node, status, binding_cycle=True, fit_message=False
            )
        self.bound[pod.key] = node
        self.failures.pop(pod.key, None)
        self.nominator.delete_nominated_pod_if_exists(pod)
        self.metrics.attempts["scheduled"] += 1
        if self.recorder is not None:
            self.recorder.event(
                pod,
                "Normal",
                "Scheduled",
                "Binding",
                f"Successfully assigned {pod.namespace}/{pod.name} to {node}",
            )
        fwk.run_post_bind(state, pod, node)
        result.waiting = False
        return result

    def _forget(
        self,
        fwk: Framework,
        state: CycleState,
        qpi: QueuedPodInfo,
        cycle: int,
        node: str,
        status: Status,
        binding_cycle: bool = False,
        fit_message: bool = True,
    ) -> ScheduleResult:
        """Any failure after assume: unreserve, forget, requeue.

        In the binding cycle (upstream handleBindingCycleError) forgetting the
        assumed pod is an AssignedPodDelete event for the others.  Reserve
        and Permit rejections (also after waiting) read as a one-node
        FitError, as upstream; PreBind/Bind ones as the status itself.
        """
        pod = qpi.pod_info
        fwk.run_unreserve(state, pod, node)
        self.snapshot.remove_pod(pod)
        if status.plugin and status.code != Code.ERROR:
            qpi.unschedulable_plugins = {status.plugin}
        self.queue.done(pod.key)
        message = status.message
        if status.is_rejected and fit_message:
            one = NodeToStatus()
            one.set(node, status)
            message = fit_error_message(1, Diagnosis(one, {status.plugin}))
        result = self._fail(fwk, qpi, cycle, status, message)
        if binding_cycle:
            self.queue.move_all_to_active_or_backoff(
                ev.ASSIGNED_POD_DELETE, pod, None, precheck=lambda other: other.uid != pod.uid
            )
        return result

    # -- waiting pods --------------------------------------------------------------------
    def _expire_waiting(self) -> list[ScheduleResult]:
        if not len(self.waiting_pods):
            return []  # the common case, checked once per cycle
        now = self.clock.now()
        for wp in self.waiting_pods:
            wp.expire(now)
        return self._finish_waiting()

    def _finish_waiting(self) -> list[ScheduleResult]:
        """Run the binding cycle of pods released at Permit, or forget rejected ones."""
        results = []
        for wp in self.waiting_pods:
            if not wp.decided:
                continue
            self.waiting_pods.remove(wp.pod.uid)
            fwk, state, qpi, cycle = self._waiting_states.pop(wp.pod.uid)
            if wp.outcome is not None:
                results.append(
                    self._forget(
                        fwk, state, qpi, cycle, wp.node_name, wp.outcome, binding_cycle=True
                    )
                )
            else:
                res = ScheduleResult(wp.pod, wp.node_name)
                results.append(self._binding_cycle(fwk, state, qpi, cycle, res))
        return results

    def release_waiting(self) -> list[ScheduleResult]:
        """Call after a plugin allowed or rejected waiting pods (also done each ``run`` step)."""
        return self._finish_waiting()

    def next_wakeup(self) -> float | None:
        """Earliest queue timer or Permit deadline, for a discrete-event driver."""
        times = [t for t in (self.queue.next_timer_at(),) if t is not None]
        times += [wp.next_deadline for wp in self.waiting_pods]
        return min(times) if times else None

    def waiting_pod(self, uid: str) -> WaitingPod | None:
        return self.waiting_pods.get(uid)

    def explain(self, pod: Pod | PodInfo | str) -> Explanation:
        """Every plugin's verdict and score for ``pod`` (a known pod's ``ns/name``, or a pod)."""
        if isinstance(pod, str):
            info = self.pods[pod]
        elif isinstance(pod, PodInfo):
            info = pod
        else:
            info = PodInfo.from_pod(pod)
        fwk = self.profiles.get(info.scheduler_name)
        if fwk is None:
            raise KeyError(f"no profile for schedulerName {info.scheduler_name!r}")
        return explain(fwk, info)
