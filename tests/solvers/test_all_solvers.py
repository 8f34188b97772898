"""Every solver's answer goes through the one validator, on many random problems."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ksched.solvers.cpsat import solve_cpsat
from ksched.solvers.greedy import solve_greedy
from ksched.solvers.mincostflow import solve_flow
from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem
from ksched.solvers.validate import validate_assignment

MakeProblem = Callable[..., PlacementProblem]
SOLVERS: dict[str, Callable[[PlacementProblem], Assignment]] = {
    "greedy": solve_greedy,
    "cpsat": lambda p: solve_cpsat(p, time_limit=0.5),
    "cpsat-tiny-budget": lambda p: solve_cpsat(p, time_limit=1e-3),
    "flow-ortools": lambda p: solve_flow(p),
    "flow-networkx": lambda p: solve_flow(p, backend="networkx"),
    "flow-all-arcs": lambda p: solve_flow(p, slack=None),
    "flow-zones": lambda p: solve_flow(p, zones=np.arange(p.n_nodes) % 3),
}


@pytest.mark.parametrize("solver", list(SOLVERS.values()), ids=list(SOLVERS))
@pytest.mark.parametrize("seed", range(6))
def test_solver_answers_are_valid(
    solver: Callable[[PlacementProblem], Assignment], seed: int, make_problem: MakeProblem
) -> None:
    problem = make_problem(seed, nodes=12, pods=60, cards=4, candidates=6, classes=5)
    got = solver(problem)
    validate_assignment(problem, got)


@pytest.mark.parametrize("solver", list(SOLVERS.values()), ids=list(SOLVERS))
def test_everything_fits_when_there_is_room(
    solver: Callable[[PlacementProblem], Assignment], make_problem: MakeProblem
) -> None:
    """A node per pod with room to spare: no solver may leave a pod out."""
    problem = make_problem(3, nodes=10, pods=10, cards=2)
    problem.free[:] = 1 << 40
    problem.gpu_free[:] = 1000
    got = solver(problem)
    validate_assignment(problem, got)
    assert (got.node != NO_NODE).all()
