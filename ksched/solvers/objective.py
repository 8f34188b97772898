"""Selectable, combinable objectives shared by the solvers, with one evaluator.

Every term is a weight times an integer count, so CP-SAT (integers only)
and the evaluator agree exactly:

- ``placed``: the sum of ``value`` over placed pods (the batch builder makes
  it GPU milli plus one per pod, scaled by priority);
- ``score``: the profile's framework score of each pod's chosen node;
- ``nodes``: minus the nodes that held nothing before and hold a pod now;
- ``frag``: minus the idle GPU cards a GPU-sharing pod breaks into, a proxy
  for FGD's fragmentation (a card that a share opens is one that whole-GPU
  pods can no longer use; Weng et al., ATC '23, section 3).
"""

from __future__ import annotations

from typing import Final

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ksched.solvers.problem import GPU_MILLI_PER_CARD, NO_NODE, Assignment, PlacementProblem

__all__ = ["DEFAULT_OBJECTIVE", "Objective", "evaluate"]


class Objective(BaseModel):
    """Weights of the objective terms (non-negative integers; 0 switches a term off)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    placed: int = Field(default=100, ge=0)
    score: int = Field(default=1, ge=0)
    nodes: int = Field(default=0, ge=0)
    frag: int = Field(default=1000, ge=0)


DEFAULT_OBJECTIVE: Final = Objective()


def evaluate(problem: PlacementProblem, assignment: Assignment, objective: Objective) -> float:
    """The objective value of ``assignment`` (what CP-SAT maximises), for any solver."""
    node = assignment.node
    placed = node != NO_NODE
    total = objective.placed * int(problem.value[placed].sum())
    if objective.score:
        for p in np.flatnonzero(placed).tolist():
            cand = problem.candidates[p]
            total += objective.score * int(problem.scores[p][cand == node[p]][0])
    if objective.nodes and problem.node_used is not None:
        opened = {int(n) for n in node[placed].tolist() if not problem.node_used[n]}
        total -= objective.nodes * len(opened)
    if objective.frag:
        cards = {
            (int(node[p]), g)
            for p in np.flatnonzero(placed).tolist()
            if 0 < problem.gpu_milli[p] < GPU_MILLI_PER_CARD
            for g in assignment.gpus[p]
            if problem.gpu_free[node[p], g] == GPU_MILLI_PER_CARD
        }
        total -= objective.frag * len(cards)
    return float(total)
