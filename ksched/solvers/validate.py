"""One invariant checker for every solver's assignment (as networkx's ``validate_flows``).

A solver may place fewer pods than possible, but what it places must be
real: each pod at most once, on one of its candidate nodes (so every Filter
of the profile passed it), within every node's free resources, on distinct
GPU cards that each have the pod's share free after everything else put on
them.
"""

from __future__ import annotations

import numpy as np

from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem

__all__ = ["InvalidAssignmentError", "validate_assignment"]


class InvalidAssignmentError(ValueError):
    """An assignment breaks an invariant; the message names the pod or node and why."""


def validate_assignment(problem: PlacementProblem, assignment: Assignment) -> None:
    """Raise ``InvalidAssignmentError`` on the first broken invariant."""
    node = assignment.node
    if node.shape != (problem.n_pods,) or len(assignment.gpus) != problem.n_pods:
        raise InvalidAssignmentError(
            f"assignment covers {len(node)} pods ({len(assignment.gpus)} GPU lists), "
            f"the problem has {problem.n_pods}"
        )
    used = np.zeros_like(problem.free)
    gpu_used = np.zeros_like(problem.gpu_free)
    for p in range(problem.n_pods):
        n = int(node[p])
        gpus = assignment.gpus[p]
        if n == NO_NODE:
            if gpus:
                raise InvalidAssignmentError(f"{problem.pod_label(p)} is not placed but holds GPUs")
            continue
        if n not in set(problem.candidates[p].tolist()):
            raise InvalidAssignmentError(
                f"{problem.pod_label(p)} is on {problem.node_label(n)}, not one of its "
                "candidate nodes (a Filter rejected it or it was never considered)"
            )
        used[n] += problem.demand[p]
        k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
        if len(gpus) != k or len(set(gpus)) != k:
            raise InvalidAssignmentError(
                f"{problem.pod_label(p)} needs {k} distinct GPU cards, got {list(gpus)}"
            )
        for g in gpus:
            if not 0 <= g < problem.gpu_free.shape[1] or problem.gpu_free[n, g] < 0:
                raise InvalidAssignmentError(
                    f"{problem.pod_label(p)} uses GPU {g}, which {problem.node_label(n)} lacks"
                )
            gpu_used[n, g] += milli
    over = np.argwhere(used > problem.free)
    if len(over):
        n, r = (int(v) for v in over[0])
        raise InvalidAssignmentError(
            f"{problem.node_label(n)} is over capacity in resource column {r}: "
            f"{int(used[n, r])} placed, {int(problem.free[n, r])} free"
        )
    over = np.argwhere(gpu_used > np.maximum(problem.gpu_free, 0))
    if len(over):
        n, g = (int(v) for v in over[0])
        raise InvalidAssignmentError(
            f"GPU {g} of {problem.node_label(n)} is over capacity: "
            f"{int(gpu_used[n, g])} milli placed, {int(problem.gpu_free[n, g])} free"
        )
