"""Min-cost flow: networkx and OR-Tools agree on the cost; the scheduler re-solves as pods come and go."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest

from ksched.solvers import mincostflow
from ksched.solvers.mincostflow import (
    FlowScheduler,
    build_flow_network,
    pod_classes,
    solve_flow,
    solve_network,
)
from ksched.solvers.problem import PlacementProblem
from ksched.solvers.validate import validate_assignment

MakeProblem = Callable[..., PlacementProblem]


@pytest.mark.parametrize("zoned", [False, True], ids=["nodes", "zones"])
@pytest.mark.parametrize("slack", [None, 2], ids=["all-arcs", "pruned"])
@pytest.mark.parametrize("seed", range(8))
def test_networkx_and_ortools_costs_agree(
    seed: int, slack: int | None, zoned: bool, make_problem: MakeProblem
) -> None:
    problem = make_problem(seed, nodes=30, pods=120, cards=4, candidates=12, classes=6)
    classes, reps = pod_classes(problem)
    zones = np.arange(problem.n_nodes) % 4 if zoned else None
    net = build_flow_network(problem, classes, reps, zones=zones, slack=slack)
    cost_nx, flow_nx = solve_network(net, "networkx")
    cost_or, flow_or = solve_network(net, "ortools")
    assert cost_nx == cost_or
    for flows in (flow_nx, flow_or):
        assert (flows >= 0).all() and (flows <= net.capacity).all()
        balance = np.zeros(net.n_vertices, dtype=np.int64)
        np.add.at(balance, net.tail, -flows)
        np.add.at(balance, net.head, flows)
        assert (balance == -net.supply).all()  # conservation: inflow - outflow = demand
        assert int((flows * net.cost).sum()) == cost_or


def test_classes_group_equal_pods(make_problem: MakeProblem) -> None:
    problem = make_problem(1, nodes=10, pods=50, classes=3)
    classes, reps = pod_classes(problem)
    assert len(reps) <= 3
    for p in range(problem.n_pods):
        r = reps[classes[p]]
        assert (problem.demand[p] == problem.demand[r]).all()
        assert (problem.candidates[p] == problem.candidates[r]).all()


def test_unscheduled_arc_takes_what_does_not_fit(make_problem: MakeProblem) -> None:
    problem = make_problem(2, nodes=2, pods=40, classes=2)
    got = solve_flow(problem)
    validate_assignment(problem, got)
    assert 0 < got.placed < problem.n_pods


def test_unknown_backend_is_refused(make_problem: MakeProblem) -> None:
    problem = make_problem(0)
    classes, reps = pod_classes(problem)
    net = build_flow_network(problem, classes, reps)
    with pytest.raises(ValueError, match="'backend' parameter of solve_network"):
        solve_network(net, "glpk")  # type: ignore[arg-type]


def test_flow_scheduler_resolves_as_pods_arrive_and_leave() -> None:
    free = np.array([[4000, 4], [4000, 4]], dtype=np.int64)
    gpu_free = np.array([[1000, 1000], [1000, -1]], dtype=np.int64)
    sched = FlowScheduler(free, gpu_free)
    both = np.array([0, 1], dtype=np.intp)
    scores = np.array([10, 0], dtype=np.int64)
    for i in range(3):
        sched.add_pod(f"gpu-{i}", np.array([1000, 1]), 1, 1000, both, scores)
    placed = sched.solve()
    assert sorted(placed) == ["gpu-0", "gpu-1", "gpu-2"]
    assert sorted(placed.values()) == [0, 0, 1]  # the higher-scored node first, all cards used
    sched.add_pod("late", np.array([1000, 1]), 1, 1000, both, scores)
    assert sched.solve() == {}  # no card left: it stays pending
    assert list(sched.pending) == ["late"]
    sched.remove("gpu-0")  # a pod leaves: its card is free again
    assert sched.solve() == {"late": placed["gpu-0"]}
    assert not sched.pending
    with pytest.raises(ValueError, match="already known"):
        sched.add_pod("late", np.array([1, 1]), 0, 0, both, scores)
    with pytest.raises(KeyError, match="not known"):
        sched.remove("never")


def _reference_arcs(
    problem: PlacementProblem, classes: np.ndarray, reps: list[int], slack: int | None
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Class -> node arcs written plainly, one class and one node at a time."""
    count = np.bincount(classes, minlength=len(reps))
    top = max(int(problem.scores[p].max()) for p in reps if len(problem.scores[p]))
    out: tuple[list[int], list[int], list[int], list[int]] = ([], [], [], [])
    for c, p in enumerate(reps):
        arcs = []
        for n, score in zip(
            problem.candidates[p].tolist(), problem.scores[p].tolist(), strict=True
        ):
            fit = int(count[c])
            for have, need in zip(
                problem.free[n].tolist(), problem.demand[p].tolist(), strict=True
            ):
                if need > 0:
                    fit = min(fit, have // need)
            k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
            if k:
                fit = min(
                    fit, sum(f // milli for f in problem.gpu_free[n].tolist() if f >= milli) // k
                )
            if fit > 0:
                arcs.append((n, fit, top - score))
        if slack is not None:
            by_cost = sorted(range(len(arcs)), key=lambda i: arcs[i][2])  # stable
            kept, held = [], 0
            for i in by_cost:
                if held >= slack * count[c]:
                    break
                kept.append(i)
                held += arcs[i][1]
            arcs = [arcs[i] for i in sorted(kept)]
        for n, fit, cost in arcs:
            for column, value in zip(out, (c, n, fit, cost), strict=True):
                column.append(value)
    return out


@pytest.mark.parametrize("chunk", [None, 7], ids=["one-chunk", "chunked"])
@pytest.mark.parametrize("slack", [None, 1, 2], ids=["all-arcs", "slack1", "slack2"])
@pytest.mark.parametrize("seed", range(4))
def test_vectorised_arcs_equal_the_plain_loop(
    seed: int, slack: int | None, chunk: int | None, make_problem: MakeProblem,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if chunk is not None:
        monkeypatch.setattr(mincostflow, "_CHUNK_PAIRS", chunk)
    problem = make_problem(seed, nodes=40, pods=200, cards=4, candidates=15, classes=9)
    classes, reps = pod_classes(problem)
    net = build_flow_network(problem, classes, reps, slack=slack)
    arcs = net.class_node_arcs
    got = (net.arc_class.tolist(), net.arc_target.tolist(), net.capacity[arcs].tolist(),
           net.cost[arcs].tolist())  # fmt: skip
    assert got == _reference_arcs(problem, classes, reps, slack)


def test_cheapest_arcs_do_not_depend_on_the_cost_scale() -> None:
    rng = np.random.default_rng(5)
    owner = np.repeat(np.arange(30, dtype=np.int64), 20)
    cost = rng.integers(0, 6, len(owner))  # many ties
    fit = rng.integers(1, 4, len(owner))
    target = rng.integers(1, 12, 30)
    small = mincostflow._cheapest(owner, cost, fit, target)
    huge = mincostflow._cheapest(owner, cost * (1 << 58), fit, target)  # the lexsort path
    assert small.any() and (small == huge).all()


@pytest.mark.parametrize("chunk", [None, 30], ids=["one-chunk", "chunked"])
@pytest.mark.parametrize("seed", range(4))
def test_shared_candidates_equal_the_plain_loop(
    seed: int, chunk: int | None, make_problem: MakeProblem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Classes given one candidate array (all nodes, as a batch builder shares it)."""
    if chunk is not None:
        monkeypatch.setattr(mincostflow, "_CHUNK_PAIRS", chunk)
    base = make_problem(seed, nodes=12, pods=80, cards=4, classes=7)
    everyone = np.arange(base.n_nodes, dtype=np.intp)[::-1].copy()  # not sorted, on purpose
    rng = np.random.default_rng(seed)
    shapes = [rng.integers(0, 100, base.n_nodes).astype(np.int64) for _ in range(3)]
    problem = dataclasses.replace(
        base,
        candidates=[everyone] * base.n_pods,
        scores=[shapes[p % 3] for p in range(base.n_pods)],
    )
    classes, reps = pod_classes(problem)
    for slack in (None, 2):
        net = build_flow_network(problem, classes, reps, slack=slack)
        arcs = net.class_node_arcs
        got = (net.arc_class.tolist(), net.arc_target.tolist(), net.capacity[arcs].tolist(),
               net.cost[arcs].tolist())  # fmt: skip
        assert got == _reference_arcs(problem, classes, reps, slack)
    validate_assignment(problem, solve_flow(problem))
