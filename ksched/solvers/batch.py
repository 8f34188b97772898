"""Batch placement inside the framework: a window of pending pods, one solve, normal binding.

The profile decides what is possible and what is good: for every pod its
PreFilter and Filter plugins give the feasible nodes and its Score plugins
rank them; the ``top_k`` best by framework score, plus the ``top_k`` with
the tightest fit (GPU best fit, the packing signal a spreading profile
lacks), become the pod's candidates. A solver (``ksched.solvers.SOLVERS``)
places the window; each decision then runs through the scheduler's normal
cycle with the node fixed (``Scheduler.schedule_one(hints=...)``): the
Filter plugins check that node once more, then Reserve, Permit and Bind, so
events, metrics and explain see batch decisions as any other.

GPU shares come from Open-Gpu-Share's per-card state (``GpuShareState``)
when the profile runs the OpenGpuShare plugin: the solver's chosen cards are
written to the pod's ``gpu-index`` annotation, which its Reserve honours.
Without it, GPUs count only as the aggregate extended resource, as the
profile itself sees them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins.gpushare import (
    GPU_INDEX,
    GpuRequest,
    GpuRequestError,
    GpuSelector,
    GpuShareState,
    format_gpu_index,
    gpu_request,
)
from ksched.framework.plugins.names import OPEN_GPU_SHARE
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL, PODS_COL
from ksched.framework.runtime import Framework
from ksched.framework.snapshot import NodeSet
from ksched.scheduler.scheduler import Scheduler, ScheduleResult
from ksched.solvers.cpsat import solve_cpsat
from ksched.solvers.greedy import greedy_order
from ksched.solvers.objective import DEFAULT_OBJECTIVE, Objective, evaluate
from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem, pick_gpus

__all__ = ["SOLVERS", "BatchOutcome", "BatchPlacer", "SolverName"]

SolverName = Literal["cpsat", "greedy"]
WindowOrder = Literal["size", "arrival"]
Solve = Callable[[PlacementProblem], Assignment]
SOLVERS: Final = ("cpsat", "greedy")
# What a placed pod is worth besides its GPU milli, so CPU-only pods count too.
POD_VALUE: Final = 100


@dataclass(eq=False)
class BatchOutcome:
    """One window: the solver's assignment and the scheduler's result for each pod."""

    problem: PlacementProblem
    assignment: Assignment
    results: list[ScheduleResult]
    build_seconds: float
    commit_seconds: float
    rejected_at_commit: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class BatchPlacer:
    """Places windows of queued pods of one profile of ``scheduler``. Keyword parameters only.

    ``solver``: "cpsat" or "greedy". ``top_k``: candidates per pod from each
    ranking (framework score, tightest fit). ``time_limit``: CP-SAT seconds
    per window. ``objective``: the weights of ``ksched.solvers.objective``.
    ``order``: the dry run's pod order, "size" (priority, then largest
    first, as first-fit decreasing) or "arrival" (priority, then queue order).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        *,
        profile: str | None = None,
        solver: SolverName = "cpsat",
        top_k: int = 8,
        time_limit: float = 0.5,
        objective: Objective = DEFAULT_OBJECTIVE,
        workers: int = 1,
        seed: int = 0,
        order: WindowOrder = "size",
    ) -> None:
        names = list(scheduler.profiles)
        name = profile or names[0]
        if name not in scheduler.profiles:
            raise ValueError(
                f"profile {name!r} is not in the scheduler (it has {', '.join(names)})"
            )
        if solver not in SOLVERS:
            raise ValueError(
                f"The 'solver' parameter of BatchPlacer must be one of {SOLVERS}. "
                f"Got {solver!r} instead."
            )
        if top_k < 1:
            raise ValueError(
                f"The 'top_k' parameter of BatchPlacer must be >= 1. Got {top_k!r} instead."
            )
        self.scheduler = scheduler
        self.framework: Framework = scheduler.profiles[name]
        self.solver: SolverName = solver
        self.top_k = top_k
        self.time_limit = time_limit
        self.objective = objective
        self.workers = workers
        self.seed = seed
        self.order: WindowOrder = order
        self.per_card = any(p.name == OPEN_GPU_SHARE for p in self.framework.reserve)
        self.gpus = GpuShareState.of(scheduler.snapshot) if self.per_card else None
        top = max((w for _, w in self.framework.scores), default=0)
        self.selector: GpuSelector | None = next(
            (
                p
                for p, w in self.framework.scores
                if w == top and callable(getattr(p, "select_gpus", None))
            ),
            None,
        )

    # -- the problem ------------------------------------------------------------------
    def problem(self, pods: Sequence[PodInfo]) -> tuple[PlacementProblem, Assignment]:
        """The window's problem and its dry-run placement (valid for it, the greedy answer)."""
        snap = self.scheduler.snapshot
        for pod in pods:
            snap.pod_vector(pod)  # new extended resources get their columns first
        free = snap.allocatable - snap.requested
        demand = (
            np.stack([snap.pod_vector(p) for p in pods])
            if pods
            else np.zeros((0, free.shape[1]), dtype=np.int64)
        )
        gpu_free, num_gpu, milli = self._gpus(pods, snap.n)
        candidates: list[NDArray[np.intp]] = [np.zeros(0, dtype=np.intp)] * len(pods)
        scores: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)] * len(pods)
        priority = np.asarray([p.priority for p in pods], dtype=np.int64)
        if self.order == "size":
            order = greedy_order(demand, num_gpu * milli, priority)
        else:
            order = [int(p) for p in np.lexsort((np.arange(len(pods)), -priority))]
        assumed: list[PodInfo] = []
        dry = Assignment.empty(len(pods), "greedy")
        # Equal scores go as the scheduler's tie-break would send them: the smallest name,
        # else (upstream's random choice has no order to keep) the tightest fit.
        names = None
        if self.scheduler.tie_break == "smallest-name":
            names = np.argsort(np.argsort(np.asarray(snap.names, dtype=object)))
        try:
            for p in order:
                pod = pods[p]
                rows, total = self._feasible(pod)
                if not len(rows):
                    continue
                k, m = int(num_gpu[p]), int(milli[p])
                left = snap.allocatable[rows, CPU_COL] - snap.requested[rows, CPU_COL]
                tight = _tightness(self._gpu_free(rows), k, m) + left // 1000
                ties = names[rows] if names is not None else tight
                by_score = np.lexsort((ties, -total))[: self.top_k]
                by_fit = np.lexsort((-total, tight))[: self.top_k]
                keep = np.unique(np.concatenate([by_score, by_fit]))
                keep = keep[np.lexsort((ties[keep], -total[keep]))]
                candidates[p], scores[p] = rows[keep], total[keep]
                cards = self._assume(pod, int(rows[keep[0]]), k, m)
                if cards is None:
                    snap.remove_pod(pod)
                    continue
                dry.node[p], dry.gpus[p] = rows[keep[0]], cards
                assumed.append(pod)
        finally:
            for pod in reversed(assumed):
                if self.gpus is not None:
                    self.gpus.release(pod.key)
                snap.remove_pod(pod)
        rank = np.searchsorted(np.unique(priority), priority) if len(pods) else priority
        value = (num_gpu * milli + POD_VALUE) * (1 + rank)
        problem = PlacementProblem(
            free=free,
            gpu_free=gpu_free,
            demand=demand,
            num_gpu=num_gpu,
            gpu_milli=milli,
            candidates=candidates,
            scores=scores,
            value=value.astype(np.int64),
            priority=priority,
            node_used=snap.requested[:, PODS_COL] > 0,
            pod_keys=[p.key for p in pods],
            node_names=snap.names,
        )
        dry.objective = evaluate(problem, dry, self.objective)
        return problem, dry

    def _gpus(
        self, pods: Sequence[PodInfo], n_nodes: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        num_gpu = np.zeros(len(pods), dtype=np.int64)
        milli = np.zeros(len(pods), dtype=np.int64)
        if self.gpus is None:
            return np.full((n_nodes, 1), -1, dtype=np.int64), num_gpu, milli
        state = self.gpus
        state.sync()
        for p, pod in enumerate(pods):
            try:
                request = gpu_request(pod)
            except GpuRequestError:
                request = None  # its PreFilter rejects it: it gets no candidates
            if request is not None:
                num_gpu[p], milli[p] = request.count, request.milli
        slots = np.arange(state.width)
        gpu_free = np.where(slots[None, :] < state.gpus[:, None], state.free, -1)
        return gpu_free.astype(np.int64), num_gpu, milli

    def _gpu_free(self, rows: NDArray[np.intp]) -> NDArray[np.int64]:
        if self.gpus is None:
            return np.full((len(rows), 1), -1, dtype=np.int64)
        state = self.gpus
        slots = np.arange(state.width)
        out: NDArray[np.int64] = np.where(
            slots[None, :] < state.gpus[rows, None], state.free[rows], -1
        )
        return out

    def _assume(self, pod: PodInfo, row: int, k: int, milli: int) -> tuple[int, ...] | None:
        """Dry run: hold ``pod`` on ``row`` so the next pods of the window see it there.

        Returns the cards it holds (() without GPUs), None if Reserve could not choose any.
        """
        snap = self.scheduler.snapshot
        node = snap.nodes[row].name
        snap.add_pod(pod, node)
        request = gpu_request(pod) if self.gpus is not None and k else None
        if request is None or self.gpus is None:
            return ()
        cards = self._select_cards(pod, request, row)
        if cards is not None:
            self.gpus.hold(pod, node, cards, request, written=False)
        return cards

    def _select_cards(self, pod: PodInfo, request: GpuRequest, row: int) -> tuple[int, ...] | None:
        """Cards as Reserve would choose them: the top score plugin's choice, else best fit."""
        assert self.gpus is not None
        if self.selector is not None:
            chosen: tuple[int, ...] | None = self.selector.select_gpus(pod, request, row, self.gpus)
            return chosen
        return pick_gpus(
            self._gpu_free(np.array([row], dtype=np.intp))[0], request.count, request.milli
        )

    def _feasible(self, pod: PodInfo) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
        """The rows every Filter plugin passes and their weighted framework scores."""
        fwk, snap = self.framework, self.scheduler.snapshot
        none = (np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64))
        state = CycleState()
        restrict, status = fwk.run_pre_filter(state, pod)
        if status is not None or snap.n == 0:
            return none
        # The scheduler's per-class arrays when it keeps them (same verdicts and raw scores,
        # patched on the rows that changed since the class was last seen).
        sched = self.scheduler
        cached = sched.equivalence_cache and restrict is None and len(sched.nominator) == 0
        outcome = fwk.find_feasible_cached(state, pod, snap.n, 0) if cached else None
        if outcome is None:
            cached = False
            outcome = fwk.find_feasible(state, pod, restrict, None, 0)
        rows = outcome.feasible
        if not len(rows):
            return none
        nodes = NodeSet(snap, rows)
        if fwk.run_pre_score(state, pod, nodes) is not None:
            return none
        scores = fwk.run_score_cached(state, pod, nodes) if cached else None
        if scores is None:
            scores = fwk.run_score(state, pod, nodes)
        return rows.astype(np.intp), scores.total.astype(np.int64)

    # -- solving and committing ---------------------------------------------------------
    def solve(self, problem: PlacementProblem, dry_run: Assignment) -> Assignment:
        if self.solver == "greedy":
            return dry_run
        return solve_cpsat(
            problem,
            start_from=dry_run,
            objective=self.objective,
            time_limit=self.time_limit,
            workers=self.workers,
            seed=self.seed,
        )

    def place(self, pods: Sequence[PodInfo]) -> BatchOutcome:
        """Solve for ``pods`` (all queued in the scheduler) and run their cycles."""
        t0 = time.perf_counter()
        problem, dry_run = self.problem(pods)
        t1 = time.perf_counter()
        assignment = self.solve(problem, dry_run)
        t2 = time.perf_counter()
        results, rejected = self.commit(pods, problem, assignment)
        t3 = time.perf_counter()
        return BatchOutcome(
            problem,
            assignment,
            results,
            build_seconds=t1 - t0,
            commit_seconds=t3 - t2,
            rejected_at_commit=rejected,
            timings={"solve": t2 - t1},
        )

    def commit(
        self, pods: Sequence[PodInfo], problem: PlacementProblem, assignment: Assignment
    ) -> tuple[list[ScheduleResult], int]:
        """Run each pod's cycle on its assigned node; (results in ``pods`` order, rejections)."""
        names = problem.node_names
        hints: dict[str, str] = {}
        for p, pod in enumerate(pods):
            n = int(assignment.node[p])
            hints[pod.key] = "" if n == NO_NODE else names[n]
            if n != NO_NODE and assignment.gpus[p] and self.per_card:
                pod.pod.metadata.annotations[GPU_INDEX] = format_gpu_index(assignment.gpus[p])
        by_key: dict[str, ScheduleResult] = {}
        sched = self.scheduler
        while len(by_key) < len(pods):
            result = sched.schedule_one(hints)
            if result is None:
                break
            if result.pod.key in hints:
                by_key[result.pod.key] = result
        rejected = 0
        out = []
        for pod in pods:
            result = by_key.get(pod.key) or ScheduleResult(pod)
            if not result.scheduled:
                if hints[pod.key]:
                    rejected += 1
                if self.per_card:
                    pod.pod.metadata.annotations.pop(GPU_INDEX, None)
            out.append(result)
        return out, rejected


def _tightness(gpu_free: NDArray[np.int64], k: int, milli: int) -> NDArray[np.int64]:
    """Lower is tighter: milli left on the best-fit card, idle cards left, or idle milli."""
    if k == 0:
        out: NDArray[np.int64] = np.maximum(gpu_free, 0).sum(axis=1)
        return out
    if milli < 1000:
        room = np.where(gpu_free >= milli, gpu_free - milli, 1 << 20)
        best: NDArray[np.int64] = np.sort(room, axis=1)[:, :k].sum(axis=1)
        return best
    idle: NDArray[np.int64] = ((gpu_free >= 1000).sum(axis=1) - k) * 1000
    return idle
