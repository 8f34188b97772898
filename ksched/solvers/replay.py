"""The FGD arrival-only protocol with a batch policy: pods wait in a window, one solve places it.

Everything else is ``ksched.sim.ArrivalReplay``: the same tuned pods, node
order, metrics and records. Pods are added to the scheduler as they
arrive; when ``window`` pods are pending (or the last pod has arrived) the
window is placed by a ``BatchPlacer``; a pod the batch does not place is
dropped and counted as failed, never retried, as in the protocol. A record
is written after every arrival, so a pod still waiting in the window counts
as arrived but not yet allocated.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ksched.framework.pod_info import PodInfo
from ksched.sim.arrival_replay import ArrivalReplay
from ksched.sim.result import ReplayResult
from ksched.sim.tuning import TunedPods
from ksched.solvers.batch import BatchPlacer, SolverName, WindowOrder
from ksched.solvers.objective import DEFAULT_OBJECTIVE, Objective
from ksched.traces.workload import Workload

__all__ = ["BatchArrivalReplay"]


class BatchArrivalReplay(ArrivalReplay):
    """``ArrivalReplay`` placing windows of ``window`` pods with a solver (keyword parameters)."""

    progress_label: ClassVar[str] = "batch arrival replay"

    def __init__(
        self,
        workload: Workload,
        *,
        window: int = 100,
        solver: SolverName = "cpsat",
        top_k: int = 8,
        time_limit: float = 0.5,
        objective: Objective = DEFAULT_OBJECTIVE,
        workers: int = 1,
        order: WindowOrder = "size",
        **kwargs: Any,
    ) -> None:
        if window < 1:
            raise ValueError(
                "The 'window' parameter of BatchArrivalReplay must be >= 1. "
                f"Got {window!r} instead."
            )
        super().__init__(workload, **kwargs)
        self.window = window
        self.solver: SolverName = solver
        self.top_k = top_k
        self.time_limit = time_limit
        self.objective = objective
        self.workers = workers
        self.order: WindowOrder = order
        self.statuses: Counter[str] = Counter()
        self.gaps: list[float] = []
        self.rejected_at_commit = 0
        self.solve_seconds = 0.0

    def _replay(self, rows: NDArray[np.intp], infos: list[PodInfo]) -> float:
        self._placer = BatchPlacer(
            self.scheduler,
            profile=self.scheduler_name,
            solver=self.solver,
            top_k=self.top_k,
            time_limit=self.time_limit,
            objective=self.objective,
            workers=self.workers,
            seed=self.seed,
            order=self.order,
        )
        self._window: list[int] = []
        return super()._replay(rows, infos)

    def _schedule(self, i: int) -> float:
        """Hold the ``i``-th pod until the window is full or the last pod came, then place it."""
        window = self._window
        window.append(i)
        if len(window) < self.window and i != len(self._infos) - 1:
            return 0.0
        t0 = time.perf_counter()
        outcome = self._placer.place([self._infos[j] for j in window])
        dt = time.perf_counter() - t0
        self.solve_seconds += outcome.timings["solve"]
        self.statuses[outcome.assignment.status.split(" ")[0]] += 1
        if not math.isnan(outcome.assignment.gap):
            self.gaps.append(outcome.assignment.gap)
        self.rejected_at_commit += outcome.rejected_at_commit
        for j, result in zip(window, outcome.results, strict=True):
            self._settle(j, result, dt / len(window), i)
        window.clear()
        return dt

    def _result(
        self, tuned: TunedPods, node_names: list[str], sched_seconds: float, wall: float
    ) -> ReplayResult:
        result = super()._result(tuned, node_names, sched_seconds, wall)
        return replace(
            result,
            meta={
                **result.meta,
                "batch_window": self.window,
                "batch_solver": self.solver,
                "batch_top_k": self.top_k,
                "batch_order": self.order,
                "batch_time_limit_s": self.time_limit,
                "batch_objective": self.objective.model_dump(),
                "batch_windows_by_status": dict(self.statuses),
                "batch_mean_gap": float(np.mean(self.gaps)) if self.gaps else math.nan,
                "batch_rejected_at_commit": self.rejected_at_commit,
                "batch_solve_seconds": self.solve_seconds,
            },
        )
