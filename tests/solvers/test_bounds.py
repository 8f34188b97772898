"""The offline allocation bound: exact on hand-made cases, never below a real placement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ksched import solvers
from ksched.solvers.bounds import allocation_bound
from ksched.traces.synthetic import synthetic
from ksched.traces.workload import NodeTable, PodTable


def _nodes(gpus: list[int], cpu: int = 64000, model: str = "V100") -> NodeTable:
    n = len(gpus)
    return NodeTable.from_columns(
        name=[f"n{i}" for i in range(n)],
        cpu_milli=[cpu] * n,
        memory_bytes=[1 << 36] * n,
        gpu_count=gpus,
        gpu_model=[model] * n,
        max_pods=[110] * n,
    )


def _pods(shapes: list[tuple[int, int, int]], models: tuple[str, ...] = ()) -> PodTable:
    """(cpu_milli, num_gpu, gpu_milli) per pod."""
    n = len(shapes)
    allowed = np.empty(n, dtype=object)
    allowed[:] = [models] * n
    return PodTable.from_columns(
        name=[f"p{i}" for i in range(n)],
        cpu_milli=[s[0] for s in shapes],
        memory_bytes=[1 << 30] * n,
        num_gpu=[s[1] for s in shapes],
        gpu_milli=[s[2] for s in shapes],
        gpu_models=allowed,
    )


CASES = [
    # Three 600-milli shares on two cards: only two fit (at most one big share per card).
    ("big-shares", [2], [(1000, 1, 600)] * 3, 1200),
    # Three 500s and a 400 on one card pair: 500+500 and 500+400 (the cut allows it).
    ("halves", [2], [(1000, 1, 500)] * 3 + [(1000, 1, 400)], 1900),
    # A 2-GPU pod cannot use a 1-GPU node.
    ("too-many-cards", [1, 1], [(1000, 2, 1000)], 0),
    # CPU binds: 3 pods of 30 cores on a 64-core node.
    ("cpu-bound", [4], [(30000, 1, 1000)] * 3, 2000),
]


@pytest.mark.parametrize(
    ("gpus", "shapes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bound_on_small_cases(
    gpus: list[int], shapes: list[tuple[int, int, int]], expected: int
) -> None:
    bound = allocation_bound(_nodes(gpus), _pods(shapes))
    assert bound.ilp_optimal
    assert bound.ilp_milli == pytest.approx(expected)
    assert bound.lp_milli >= bound.ilp_milli - 1e-6


def test_model_constraint_excludes_other_cards() -> None:
    bound = allocation_bound(_nodes([4], model="T4"), _pods([(1000, 1, 1000)] * 2, ("V100",)))
    assert bound.ilp_milli == 0


def test_repeated_rows_count_as_copies() -> None:
    pods = _pods([(1000, 1, 1000)])
    bound = allocation_bound(_nodes([8]), pods, np.zeros(5, dtype=np.intp))
    assert bound.requested_milli == 5000
    assert bound.ilp_milli == pytest.approx(5000)
    assert bound.ilp_pct == pytest.approx(62.5)


def test_bound_is_above_a_greedy_replay() -> None:
    from ksched.config import load_config
    from ksched.solvers.replay import BatchArrivalReplay

    wl = synthetic(n_nodes=30, n_pods=300, seed=3, gpu_nodes_only=True)
    config = load_config(Path(solvers.__file__).parent / "profiles" / "batch-gpushare.yaml")
    result = BatchArrivalReplay(wl, config=config, window=20, solver="greedy", seed=1).run()
    bound = allocation_bound(wl.nodes, wl.pods)
    placed = result.pods[~result.pods["failed"]]
    got = int((placed["num_gpu"] * placed["gpu_milli"]).sum())
    assert 0 < got <= bound.ilp_milli
