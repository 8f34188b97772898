"""Batch placement with OR-Tools CP-SAT: one model for a window of pending pods.

Variables: x[p, n] (pod p on candidate node n) and, for GPU pods, z[p, n, g]
(pod p takes its share on card g of n). Constraints: each pod at most once;
per node, the placed requests fit every resource; a GPU pod takes exactly
``num_gpu`` cards on its node; per card, the shares fit its free milli.
The objective combines the terms of ``ksched.solvers.objective``. CP-SAT
runs under a time budget and keeps its best incumbent; the greedy placement
is given as a hint and is returned when CP-SAT finds nothing, so a solve
always answers. The gap is (bound - objective) / bound, CP-SAT's own.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from ksched.solvers.greedy import solve_greedy
from ksched.solvers.objective import DEFAULT_OBJECTIVE, Objective, evaluate
from ksched.solvers.problem import GPU_MILLI_PER_CARD, Assignment, PlacementProblem

__all__ = ["solve_cpsat"]


def solve_cpsat(
    problem: PlacementProblem,
    *,
    objective: Objective = DEFAULT_OBJECTIVE,
    time_limit: float = 1.0,
    workers: int = 1,
    seed: int = 0,
    hint: bool = True,
    start_from: Assignment | None = None,
) -> Assignment:
    """Solve with ``time_limit`` seconds for CP-SAT (building the model is extra).

    The status is "optimal", "feasible" (time ran out; best incumbent) or
    "greedy ..." (CP-SAT found nothing better than the greedy placement).
    ``start_from``: a valid placement to use instead of ``solve_greedy``'s as
    hint and fallback (the batch placer's dry run).
    """
    if time_limit <= 0:
        raise ValueError(
            f"The 'time_limit' parameter of solve_cpsat must be > 0. Got {time_limit!r} instead."
        )
    start = time.perf_counter()
    greedy = solve_greedy(problem) if start_from is None else start_from
    greedy.objective = evaluate(problem, greedy, objective)
    model = cp_model.CpModel()
    x: dict[tuple[int, int], Any] = {}
    z: dict[tuple[int, int, int], Any] = {}
    by_node: dict[int, list[int]] = defaultdict(list)
    card_terms: dict[tuple[int, int], list[tuple[int, Any]]] = defaultdict(list)
    terms: list[tuple[int, Any]] = []
    derived: list[tuple[Any, list[Any]]] = []  # (indicator, the variables that switch it on)
    for p in range(problem.n_pods):
        k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
        cand = problem.candidates[p]
        # Which candidates can hold the pod now, for all of them at once.
        fits = ~(problem.demand[p] > problem.free[cand]).any(axis=1)
        room = problem.gpu_free[cand] >= milli if k else None
        if room is not None:
            fits &= room.sum(axis=1) >= k
        row: list[Any] = []
        placed = objective.placed * int(problem.value[p])
        for c in np.flatnonzero(fits).tolist():
            n = int(cand[c])
            var = model.new_bool_var(f"x{p}_{n}")
            x[p, n] = var
            row.append(var)
            by_node[n].append(p)
            terms.append((placed + objective.score * int(problem.scores[p][c]), var))
            if room is not None:
                zs = []
                for g in np.flatnonzero(room[c]).tolist():
                    zv = model.new_bool_var(f"z{p}_{n}_{g}")
                    z[p, n, g] = zv
                    zs.append(zv)
                    card_terms[n, g].append((milli, zv))
                model.add(cp_model.LinearExpr.sum(zs) == k * var)
        if len(row) > 1:
            model.add_at_most_one(row)
    for n, pods in by_node.items():
        total = problem.demand[pods].sum(axis=0)
        for r in np.flatnonzero(total > problem.free[n]).tolist():
            users = [p for p in pods if problem.demand[p, r]]
            model.add(
                cp_model.LinearExpr.weighted_sum(
                    [x[p, n] for p in users], [int(problem.demand[p, r]) for p in users]
                )
                <= int(problem.free[n, r])
            )
    for (n, g), shares in card_terms.items():
        cap = int(problem.gpu_free[n, g])
        if sum(m for m, _ in shares) > cap:
            model.add(
                cp_model.LinearExpr.weighted_sum([v for _, v in shares], [m for m, _ in shares])
                <= cap
            )
        opening = [v for m, v in shares if m < GPU_MILLI_PER_CARD]
        if objective.frag and cap == GPU_MILLI_PER_CARD and opening:
            opened = model.new_bool_var(f"o{n}_{g}")
            model.add(cp_model.LinearExpr.sum(opening) <= len(opening) * opened)
            terms.append((-objective.frag, opened))
            derived.append((opened, opening))
    if objective.nodes and problem.node_used is not None:
        for n, pods in by_node.items():
            if not problem.node_used[n]:
                used = model.new_bool_var(f"u{n}")
                members = [x[p, n] for p in pods]
                model.add(cp_model.LinearExpr.sum(members) <= len(pods) * used)
                terms.append((-objective.nodes, used))
                derived.append((used, members))
    model.maximize(cp_model.LinearExpr.weighted_sum([v for _, v in terms], [w for w, _ in terms]))
    if hint:
        values: dict[Any, bool] = {}
        for (p, n), var in x.items():
            values[var] = int(greedy.node[p]) == n
        for (p, n, g), var in z.items():
            values[var] = int(greedy.node[p]) == n and g in greedy.gpus[p]
        for indicator, members in derived:
            values[indicator] = any(values[v] for v in members)
        # Straight into the proto: one add_hint call per variable costs more than the solve.
        given: Any = model.proto.solution_hint  # (the stubs type this message field as bool)
        given.vars.extend(var.index for var in values)
        given.values.extend(int(v) for v in values.values())
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    solver.parameters.log_search_progress = bool(os.environ.get("KSCHED_CPSAT_LOG"))
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        greedy.status = f"greedy (CP-SAT {solver.status_name(code)})"
        greedy.wall_seconds = time.perf_counter() - start
        return greedy
    out = Assignment.empty(problem.n_pods, "optimal" if code == cp_model.OPTIMAL else "feasible")
    for (p, n), var in x.items():
        if solver.boolean_value(var):
            out.node[p] = n
    for (p, n, g), var in z.items():
        if out.node[p] == n and solver.boolean_value(var):
            out.gpus[p] = (*out.gpus[p], g)
    out.objective = evaluate(problem, out, objective)
    out.bound = float(solver.best_objective_bound)
    if out.objective < greedy.objective:
        # Only when time ran out before CP-SAT's incumbent caught up with its own hint.
        greedy.status, greedy.bound = "greedy (better than the incumbent)", out.bound
        out = greedy
    out.wall_seconds = time.perf_counter() - start
    out.detail = {
        "variables": float(len(x) + len(z)),
        "greedy_objective": greedy.objective,
        "cpsat_wall": solver.wall_time,
    }
    return out
