"""Solver-backed scheduling: batch placement (CP-SAT), min-cost flow, fallback preemption, bounds.

One algorithm per module, every one answering the same ``PlacementProblem``
with an ``Assignment`` that ``validate_assignment`` checks:

- ``cpsat``: one CP-SAT model per window of pending pods (``solve_cpsat``);
- ``greedy``: first-fit decreasing, CP-SAT's hint and fallback;
- ``mincostflow``: Quincy/Firmament-style flow (OR-Tools and networkx);
- ``fallback``: the ``SolverPreemption`` PostFilter plugin;
- ``bounds``: the offline ILP/LP upper bound on GPU allocation;
- ``batch`` and ``replay``: the batch policy inside the scheduler and the
  FGD arrival-only replay with it. Profiles for it are in ``profiles/``.
"""

from ksched.solvers.batch import SOLVERS, BatchOutcome, BatchPlacer, SolverName, WindowOrder
from ksched.solvers.bounds import AllocationBound, allocation_bound
from ksched.solvers.cpsat import solve_cpsat
from ksched.solvers.greedy import solve_greedy
from ksched.solvers.mincostflow import FlowScheduler, solve_flow
from ksched.solvers.objective import DEFAULT_OBJECTIVE, Objective, evaluate
from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem
from ksched.solvers.replay import BatchArrivalReplay
from ksched.solvers.validate import InvalidAssignmentError, validate_assignment

__all__ = [
    "DEFAULT_OBJECTIVE",
    "NO_NODE",
    "SOLVERS",
    "AllocationBound",
    "Assignment",
    "BatchArrivalReplay",
    "BatchOutcome",
    "BatchPlacer",
    "FlowScheduler",
    "InvalidAssignmentError",
    "Objective",
    "PlacementProblem",
    "SolverName",
    "WindowOrder",
    "allocation_bound",
    "evaluate",
    "solve_cpsat",
    "solve_flow",
    "solve_greedy",
    "validate_assignment",
]
