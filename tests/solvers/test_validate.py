"""The shared assignment validator: each broken invariant is caught and named."""

from __future__ import annotations

import numpy as np
import pytest

from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem
from ksched.solvers.validate import InvalidAssignmentError, validate_assignment


def _problem() -> PlacementProblem:
    """Two nodes; node 0 has cards [1000, 400], node 1 none. Pods: share 300, CPU-only, 2 GPUs."""
    return PlacementProblem(
        free=np.array([[4000, 10], [1000, 10]], dtype=np.int64),
        gpu_free=np.array([[1000, 400], [-1, -1]], dtype=np.int64),
        demand=np.array([[1000, 1], [900, 1], [1000, 1]], dtype=np.int64),
        num_gpu=np.array([1, 0, 2], dtype=np.int64),
        gpu_milli=np.array([300, 0, 300], dtype=np.int64),
        candidates=[np.array([0]), np.array([0, 1]), np.array([0])],
        scores=[np.array([5]), np.array([1, 2]), np.array([3])],
        value=np.array([400, 100, 700], dtype=np.int64),
        pod_keys=["a", "b", "c"],
        node_names=["n0", "n1"],
    )


CASES = [
    ("valid", [0, 1, NO_NODE], [(1,), (), ()], None),
    ("all-three", [0, 0, 0], [(1,), (), (0, 1)], "GPU 1 of n0 is over capacity"),
    ("not-a-candidate", [NO_NODE, NO_NODE, NO_NODE], [(), (), ()], None),
    ("wrong-node", [1, NO_NODE, NO_NODE], [(), (), ()], "a is on n1, not one of its candidate"),
    ("cards-missing", [0, NO_NODE, NO_NODE], [(), (), ()], "a needs 1 distinct GPU cards"),
    ("same-card-twice", [NO_NODE, NO_NODE, 0], [(), (), (0, 0)], "c needs 2 distinct"),
    ("absent-card", [NO_NODE, NO_NODE, 0], [(), (), (0, 5)], "uses GPU 5, which n0 lacks"),
    (
        "unplaced-holds-cards",
        [NO_NODE, NO_NODE, NO_NODE],
        [(0,), (), ()],
        "a is not placed but holds GPUs",
    ),
    ("cpu-over", [0, 0, 0], [(0,), (), (0, 1)], "n0 is over capacity in resource column 0"),
]


@pytest.mark.parametrize(
    ("nodes", "gpus", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validator(nodes: list[int], gpus: list[tuple[int, ...]], error: str | None) -> None:
    problem = _problem()
    if error == "n0 is over capacity in resource column 0":
        problem.free[0, 0] = 2500
    a = Assignment(np.asarray(nodes, dtype=np.intp), gpus, "test")
    if error is None:
        validate_assignment(problem, a)
        return
    with pytest.raises(InvalidAssignmentError, match=error):
        validate_assignment(problem, a)


def test_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidAssignmentError, match="covers 2 pods"):
        validate_assignment(_problem(), Assignment(np.zeros(2, dtype=np.intp), [(), ()], "x"))


def test_problem_shapes_are_checked() -> None:
    p = _problem()
    with pytest.raises(ValueError, match="'scores' does not match"):
        PlacementProblem(
            p.free, p.gpu_free, p.demand, p.num_gpu, p.gpu_milli, p.candidates,
            [np.array([1, 2])] * 3, p.value,
        )  # fmt: skip
