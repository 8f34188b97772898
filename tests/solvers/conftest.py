"""Random placement problems shared by the solver tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from ksched.solvers.problem import PlacementProblem

MakeProblem = Callable[..., PlacementProblem]


@pytest.fixture
def make_problem() -> MakeProblem:
    return random_problem


def random_problem(
    seed: int,
    *,
    nodes: int = 3,
    pods: int = 4,
    cards: int = 2,
    candidates: int | None = None,
    classes: int | None = None,
) -> PlacementProblem:
    """Nodes with CPU, memory, pod slots and up to ``cards`` GPU cards, some partly used."""
    rng = np.random.default_rng(seed)
    free = np.stack(
        [
            rng.integers(2000, 9000, nodes),
            rng.integers(2, 12, nodes) << 30,
            rng.integers(2, 6, nodes),
        ],
        axis=1,
    )
    gpu_free = np.full((nodes, cards), -1, dtype=np.int64)
    for n in range(nodes):
        count = int(rng.integers(0, cards + 1))
        gpu_free[n, :count] = rng.choice([1000, 1000, 700, 500, 300], count)
    shapes = classes or pods
    cpu = rng.integers(500, 4000, shapes)
    mem = rng.integers(1, 4, shapes) << 30
    num_gpu = rng.choice([0, 1, 1, 2], shapes)
    milli = np.where(num_gpu == 1, rng.choice([200, 300, 500, 700, 1000], shapes), 1000)
    milli = np.where(num_gpu == 0, 0, milli)
    which = rng.integers(0, shapes, pods) if classes else np.arange(pods)
    demand = np.stack([cpu[which], mem[which], np.ones(pods, dtype=np.int64)], axis=1)
    per_class = [
        np.sort(rng.choice(nodes, candidates or nodes, replace=False)).astype(np.intp)
        for _ in range(shapes)
    ]
    scores = [rng.integers(0, 100, len(c)).astype(np.int64) for c in per_class]
    return PlacementProblem(
        free=free.astype(np.int64),
        gpu_free=gpu_free,
        demand=demand.astype(np.int64),
        num_gpu=num_gpu[which].astype(np.int64),
        gpu_milli=milli[which].astype(np.int64),
        candidates=[per_class[c] for c in which],
        scores=[scores[c] for c in which],
        value=(num_gpu * milli + 100)[which].astype(np.int64),
        node_used=rng.random(nodes) < 0.5,
    )
