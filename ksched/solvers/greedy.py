"""Greedy placement: the fallback when CP-SAT finds nothing in time, and its first hint.

Pods go by priority, then by GPU demand, then by size (first-fit
decreasing, the classic bin-packing heuristic); each takes its first
candidate node, in the profile's ranking, that still has room, and on it the
best-fitting GPU cards.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

from ksched.framework.resources import CPU_COL
from ksched.solvers.problem import Assignment, PlacementProblem, pick_gpus

__all__ = ["greedy_order", "solve_greedy"]


def greedy_order(
    demand: NDArray[np.int64], gpu: NDArray[np.int64], priority: NDArray[np.int64]
) -> list[int]:
    """Priority, then GPU milli, then the CPU request, then the window's order."""
    n = len(demand)
    cpu = demand[:, CPU_COL] if demand.size else np.zeros(n, dtype=np.int64)
    keys = np.lexsort((np.arange(n), -cpu, -gpu, -priority))
    return [int(p) for p in keys]


def solve_greedy(problem: PlacementProblem, *, status: str = "greedy") -> Assignment:
    start = time.perf_counter()
    free = problem.free.copy()
    gpu_free = problem.gpu_free.copy()
    out = Assignment.empty(problem.n_pods, status)
    order = greedy_order(problem.demand, problem.num_gpu * problem.gpu_milli, problem.priority)
    for p in order:
        demand = problem.demand[p]
        k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
        for n in problem.candidates[p].tolist():
            if (demand > free[n]).any():
                continue
            gpus = pick_gpus(gpu_free[n], k, milli)
            if gpus is None:
                continue
            free[n] -= demand
            for g in gpus:
                gpu_free[n, g] -= milli
            out.node[p] = n
            out.gpus[p] = gpus
            break
    out.objective = float(problem.value[out.node >= 0].sum())
    out.wall_seconds = time.perf_counter() - start
    return out
