"""CP-SAT batch placement: optimal on small instances (brute force), valid under any budget."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from ksched.solvers.cpsat import solve_cpsat
from ksched.solvers.objective import Objective, evaluate
from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem
from ksched.solvers.validate import InvalidAssignmentError, validate_assignment

MakeProblem = Callable[..., PlacementProblem]

OBJECTIVES = {
    "placed": Objective(placed=1, score=0, frag=0, nodes=0),
    "default": Objective(),
    "score-nodes": Objective(placed=100, score=3, nodes=50, frag=0),
    "frag-heavy": Objective(placed=10, score=1, frag=5000, nodes=0),
}


def _options(problem: PlacementProblem, p: int) -> list[tuple[int, tuple[int, ...]]]:
    out: list[tuple[int, tuple[int, ...]]] = [(NO_NODE, ())]
    k = int(problem.num_gpu[p])
    for n in problem.candidates[p].tolist():
        cards = [g for g in range(problem.gpu_free.shape[1]) if problem.gpu_free[n, g] >= 0]
        out.extend((n, combo) for combo in itertools.combinations(cards, k))
    return out


def brute_force(problem: PlacementProblem, objective: Objective) -> float:
    """The best objective over every assignment (node and cards) that passes the validator."""
    best = -np.inf
    per_pod = [_options(problem, p) for p in range(problem.n_pods)]
    for choice in itertools.product(*per_pod):
        a = Assignment(
            np.asarray([n for n, _ in choice], dtype=np.intp), [g for _, g in choice], "brute"
        )
        try:
            validate_assignment(problem, a)
        except InvalidAssignmentError:
            continue
        best = max(best, evaluate(problem, a, objective))
    return float(best)


@pytest.mark.parametrize("objective", list(OBJECTIVES.values()), ids=list(OBJECTIVES))
@pytest.mark.parametrize("seed", range(12))
def test_cpsat_is_optimal_on_small_instances(
    seed: int, objective: Objective, make_problem: MakeProblem
) -> None:
    problem = make_problem(seed, nodes=3, pods=4, cards=2)
    got = solve_cpsat(problem, objective=objective, time_limit=10.0)
    validate_assignment(problem, got)
    assert got.status == "optimal"
    assert got.gap == 0.0
    assert got.objective == brute_force(problem, objective)


@pytest.mark.parametrize("seed", range(4))
def test_tight_capacity_forces_a_choice(seed: int, make_problem: MakeProblem) -> None:
    """More pods than room: the solver must leave some out and still be optimal."""
    problem = make_problem(100 + seed, nodes=2, pods=5, cards=2)
    got = solve_cpsat(problem, objective=OBJECTIVES["placed"], time_limit=10.0)
    assert got.objective == brute_force(problem, OBJECTIVES["placed"])


@pytest.mark.parametrize("limit", [1e-4, 1e-3, 0.05])
def test_timeout_returns_a_valid_placement(limit: float, make_problem: MakeProblem) -> None:
    """Out of time, CP-SAT's incumbent or the greedy placement comes back, valid and complete."""
    problem = make_problem(7, nodes=40, pods=150, cards=8, candidates=10, classes=12)
    got = solve_cpsat(problem, time_limit=limit)
    validate_assignment(problem, got)
    assert got.node.shape == (problem.n_pods,)
    assert got.status in {"optimal", "feasible"} or got.status.startswith("greedy")
    assert got.placed > 0


def test_bad_time_limit_is_refused(make_problem: MakeProblem) -> None:
    with pytest.raises(ValueError, match="'time_limit' parameter of solve_cpsat must be > 0"):
        solve_cpsat(make_problem(0), time_limit=0)
