"""Min-cost flow placement in the style of Quincy and Firmament.

Pods with the same requests and candidates form an equivalence class (one
supply node); arcs go class -> node (optionally class -> zone -> node, as
Firmament's aggregators do) -> sink, plus one "unscheduled" arc per class
straight to the sink. A class -> node arc costs the profile's score turned
into a cost (max score - score) and carries as many pods of the class as
the node could hold alone; node -> sink carries the most pods any class
could put there (and at most ``pod_slots``).
Leaving a pod unscheduled costs more than any placement, scaled by the
pod's value, so the min-cost flow places as much as the arcs allow.
(Isard et al., "Quincy", SOSP '09, section 4; Gog et al., "Firmament",
OSDI '16, section 3.)

A flow is a relaxation: it never sees that two classes share one node's
CPU, memory and GPU cards. ``solve_flow`` therefore repairs it: pods go to
their flow's nodes while they really fit, and the rest are re-solved on
what is left (a few rounds), then placed greedily, so the returned
assignment always passes ``validate_assignment``.

``FlowScheduler`` keeps node state and pending pods across calls and
re-solves as pods arrive and leave: placed pods become node state, only
pending pods enter the next network. Backends: OR-Tools'
``SimpleMinCostFlow`` (fast) and networkx's network simplex (reference).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal

import networkx as nx
import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from ksched.solvers.problem import NO_NODE, Assignment, PlacementProblem, pick_gpus

__all__ = [
    "FLOW_BACKENDS",
    "FlowBackend",
    "FlowNetwork",
    "FlowScheduler",
    "build_flow_network",
    "pod_classes",
    "solve_flow",
    "solve_network",
]

FlowBackend = Literal["ortools", "networkx"]
FLOW_BACKENDS: Final = ("ortools", "networkx")
_REPAIR_ROUNDS: Final = 3
_UNLIMITED: Final = 1 << 30
# (class, candidate) pairs evaluated at once: bounds the temporary arrays (a few 10 MB).
_CHUNK_PAIRS: Final = 1 << 19
# (class, cost) cells of the pruning histogram, above which it sorts instead.
_LEVELS_MAX: Final = 1 << 21


@dataclass(frozen=True, eq=False)
class FlowNetwork:
    """Arcs as parallel arrays; graph nodes are 0..n_vertices-1 (source-less: supplies).

    Vertices: classes ``[0, C)``, cluster nodes ``[C, C+N)``, zones after
    them, the sink last. ``class_node_arcs`` indexes the class -> node (or
    class -> zone) arcs, ``arc_class``/``arc_target`` say which.
    """

    tail: NDArray[np.int64]
    head: NDArray[np.int64]
    capacity: NDArray[np.int64]
    cost: NDArray[np.int64]
    supply: NDArray[np.int64]
    n_classes: int
    n_nodes: int
    arc_class: NDArray[np.int64]
    arc_target: NDArray[np.int64]  # cluster node index, or -1 - zone index
    class_node_arcs: NDArray[np.int64]
    unscheduled_arcs: NDArray[np.int64]
    zone_node_arcs: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_vertices(self) -> int:
        return len(self.supply)


def pod_classes(problem: PlacementProblem) -> tuple[NDArray[np.intp], list[int]]:
    """(class of each pod, one representative pod per class): equal requests and candidates.

    Candidate arrays shared between pods (as a batch builder shares them) are
    hashed once.
    """
    keys: dict[tuple[bytes, int, int, bytes, bytes], int] = {}
    seen: dict[int, tuple[bytes, bytes]] = {}
    cls = np.empty(problem.n_pods, dtype=np.intp)
    reps: list[int] = []
    for p in range(problem.n_pods):
        cand, score = problem.candidates[p], problem.scores[p]
        ident = id(cand) * 31 + id(score)
        hashed = seen.get(ident)
        if hashed is None:
            hashed = seen[ident] = (cand.tobytes(), score.tobytes())
        key = (
            problem.demand[p].tobytes(),
            int(problem.num_gpu[p]),
            int(problem.gpu_milli[p]),
            *hashed,
        )
        c = keys.get(key)
        if c is None:
            c = keys[key] = len(reps)
            reps.append(p)
        cls[p] = c
    return cls, reps


def _card_room(gpu_free: NDArray[np.int64], millis: NDArray[np.int64]) -> NDArray[np.int64]:
    """(distinct GPU share x node): how many shares of that size the node's cards hold.

    A missing card is -1 and holds none; so does a card with less room than
    one share.
    """
    room = np.maximum(gpu_free, 0)
    table = np.zeros((max(len(millis), 1), len(gpu_free)), dtype=np.int64)
    for u, milli in enumerate(millis.tolist()):
        table[u] = (room // max(milli, 1)).sum(axis=1)
    return table


Spread = Callable[[NDArray[Any]], NDArray[Any]]


def _as_column(values: NDArray[Any]) -> NDArray[Any]:
    return values[:, None]


def _pair_fits(
    free_cols: list[NDArray[np.int64]],
    card_room: NDArray[np.int64],
    cand: NDArray[np.intp],
    spread: Spread,
    demand: NDArray[np.int64],
    num_gpu: NDArray[np.int64],
    share_row: NDArray[np.intp],
) -> NDArray[np.int64]:
    """How many pods of its class each (class, node) pair's node could hold alone.

    Classes are rows of ``demand``, ``num_gpu`` and ``share_row`` (their row
    of ``card_room``); ``spread`` lays such a per-class array out like the
    pairs. Either each class owns the next stretch of ``cand`` (pairs flat,
    ``spread`` repeats by stretch length), or the classes share ``cand``
    (pairs class x candidate, ``spread`` makes a column): the node columns
    are then gathered once for all classes. A dimension a class does not
    ask for does not limit it (capped at 2**30, more than any class holds).
    """
    k = spread(num_gpu)
    counts = np.full(np.broadcast_shapes(k.shape, cand.shape), _UNLIMITED, dtype=np.int64)
    for r, column in enumerate(free_cols):
        d = demand[:, r]
        if not (d > 0).any():
            continue
        q = column[cand] // spread(np.maximum(d, 1))
        q[np.broadcast_to(spread(d <= 0), q.shape)] = _UNLIMITED
        np.minimum(counts, q, out=counts)
    if (num_gpu > 0).any():
        where = spread(share_row) * card_room.shape[1] + cand  # one flat gather in both layouts
        shares = card_room.ravel().take(where) // np.maximum(k, 1)
        shares[np.broadcast_to(k <= 0, shares.shape)] = _UNLIMITED
        np.minimum(counts, shares, out=counts)
    out: NDArray[np.int64] = np.maximum(counts, 0)
    return out


def _cheapest(
    owner: NDArray[np.int64],
    cost: NDArray[np.int64],
    fit: NDArray[np.int64],
    target: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """Per class, its cheapest pairs that together could hold ``target[class]`` pods.

    Firmament's arc pruning. Pairs come grouped by class (``owner`` does not
    decrease); ties in cost keep candidate order, so the pair that reaches
    the target is the last one kept. Costs are small integers (scores), so a
    histogram per (class, cost) finds each class's cut-off cost without
    sorting; only the pairs at that cost need their order.
    """
    if not len(owner):
        return np.zeros(0, dtype=bool)
    local = owner - owner[0]
    low = int(cost.min())
    span, n_classes = int(cost.max()) - low + 1, int(local[-1]) + 1
    if span * n_classes > _LEVELS_MAX:
        return _cheapest_sorted(owner, cost, fit, target)
    level = local * span + (cost - low)
    held = np.bincount(level, weights=fit, minlength=n_classes * span).reshape(n_classes, span)
    cheaper = (np.cumsum(held, axis=1) - held).ravel()[level]  # what cheaper costs hold
    goal = target[owner]
    keep: NDArray[np.bool_] = cheaper < goal
    edge = np.flatnonzero(keep & (cheaper + held.ravel()[level] > goal))  # the cut-off cost
    if len(edge):
        keep[edge] = cheaper[edge] + _before_in_class(owner[edge], fit[edge]) < goal[edge]
    return keep


def _before_in_class(owner: NDArray[np.int64], fit: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each entry, the sum of ``fit`` over earlier entries of its class (grouped)."""
    before = np.cumsum(fit) - fit
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    out: NDArray[np.int64] = before - before[first][np.cumsum(first) - 1]
    return out


def _cheapest_sorted(
    owner: NDArray[np.int64],
    cost: NDArray[np.int64],
    fit: NDArray[np.int64],
    target: NDArray[np.int64],
) -> NDArray[np.bool_]:
    """``_cheapest`` by one stable sort, for costs too spread for a histogram."""
    order = np.lexsort((cost, owner))  # stable: ties stay in candidate order
    o = owner[order]
    keep = np.zeros(len(owner), dtype=bool)
    keep[order[_before_in_class(o, fit[order]) < target[o]]] = True
    return keep


def _class_arcs(
    problem: PlacementProblem,
    reps: list[int],
    count: NDArray[np.int64],
    free: NDArray[np.int64],
    gpu_free: NDArray[np.int64],
    top: int,
    slack: int | None,
    node_cap: NDArray[np.int64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(class, node, capacity, cost) of every class -> node arc, classes in order.

    Vectorised over all (class, candidate) pairs, a bounded number of pairs
    at a time; raises ``node_cap`` to the most pods of one class each node
    could hold.
    """
    rep = np.asarray(reps, dtype=np.intp)
    lengths = np.fromiter((len(problem.candidates[p]) for p in reps), np.int64, len(reps))
    ends = np.cumsum(lengths)
    demand, num_gpu = problem.demand[rep], problem.num_gpu[rep].astype(np.int64)
    milli = np.where(num_gpu > 0, problem.gpu_milli[rep], 0).astype(np.int64)
    millis, share_row = np.unique(milli, return_inverse=True)
    card_room = _card_room(gpu_free, millis)
    free_cols = [np.ascontiguousarray(free[:, r]) for r in range(free.shape[1])]
    parts: list[tuple[NDArray[np.int64], ...]] = []
    start = 0
    while start < len(reps):
        base = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _CHUNK_PAIRS, side="right")))
        chunk = reps[start:stop]
        if int(ends[stop - 1]) > base:
            score = np.concatenate([problem.scores[p] for p in chunk]).astype(np.int64)
            owner = np.repeat(np.arange(start, stop, dtype=np.int64), lengths[start:stop])
            shared = problem.candidates[chunk[0]]
            if all(problem.candidates[p] is shared for p in chunk[1:]):
                block = _pair_fits(
                    free_cols, card_room, shared.astype(np.intp), _as_column,
                    demand[start:stop], num_gpu[start:stop], share_row[start:stop],
                )  # fmt: skip
                block = np.minimum(block, count[start:stop, None])
                np.maximum.at(node_cap, shared, block.max(axis=0))
                cand, fit = np.tile(shared.astype(np.intp), stop - start), block.ravel()
            else:
                cand = np.concatenate([problem.candidates[p] for p in chunk]).astype(np.intp)
                fit = _pair_fits(
                    free_cols, card_room, cand, partial(np.repeat, repeats=lengths[start:stop]),
                    demand[start:stop], num_gpu[start:stop], share_row[start:stop],
                )  # fmt: skip
                fit = np.minimum(fit, count[owner])
                np.maximum.at(node_cap, cand, fit)
            cost = top - score
            keep = fit > 0
            if slack is not None:
                kept = np.flatnonzero(keep)
                keep[kept] = _cheapest(owner[kept], cost[kept], fit[kept], slack * count)
            parts.append((owner[keep], cand[keep].astype(np.int64), fit[keep], cost[keep]))
        start = stop
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    owner_, cand_, fit_, cost_ = (np.concatenate(col) for col in zip(*parts, strict=True))
    return owner_, cand_, fit_, cost_


def build_flow_network(
    problem: PlacementProblem,
    classes: NDArray[np.intp],
    reps: list[int],
    *,
    zones: NDArray[np.intp] | None = None,
    free: NDArray[np.int64] | None = None,
    gpu_free: NDArray[np.int64] | None = None,
    pod_slots: NDArray[np.int64] | None = None,
    slack: int | None = 2,
) -> FlowNetwork:
    """The network for ``problem``'s pods on ``free`` (default: the problem's free capacity).

    ``zones`` (a zone index per node) routes class -> zone -> node: the
    class -> zone arc costs the class's best cost in the zone and carries
    what the zone's nodes could hold; zone -> node arcs cost nothing.
    ``slack``: keep only a class's cheapest arcs that together could hold
    ``slack`` times its pods (None: every candidate).
    """
    free = problem.free if free is None else free
    gpu_free = problem.gpu_free if gpu_free is None else gpu_free
    n_classes, n_nodes = len(reps), problem.n_nodes
    count = np.bincount(classes, minlength=n_classes).astype(np.int64)
    top = max((int(problem.scores[p].max()) for p in reps if len(problem.scores[p])), default=0)
    n_zones = 0 if zones is None else int(zones.max(initial=-1)) + 1
    sink = n_classes + n_nodes + n_zones
    tails: list[NDArray[np.int64]] = []
    heads: list[NDArray[np.int64]] = []
    caps: list[NDArray[np.int64]] = []
    costs: list[NDArray[np.int64]] = []
    arc_class: list[NDArray[np.int64]] = []
    arc_target: list[NDArray[np.int64]] = []
    node_cap = np.zeros(n_nodes, dtype=np.int64)
    owner, cand, fit, cost = _class_arcs(problem, reps, count, free, gpu_free, top, slack, node_cap)
    if zones is not None:
        # One class -> zone arc per zone the class reaches: its best cost, what the zone holds.
        key, inverse = np.unique(owner * n_zones + zones[cand], return_inverse=True)
        owner, zone = key // n_zones, key % n_zones
        fit = np.minimum(np.bincount(inverse, weights=fit, minlength=len(key)), count[owner])
        fit = fit.astype(np.int64)
        best = np.full(len(key), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, inverse, cost)
        cost, target = best, -1 - zone
        head = n_classes + n_nodes + zone
    else:
        target, head = cand, n_classes + cand
    tails.append(owner)
    heads.append(head)
    caps.append(fit)
    costs.append(cost)
    arc_class.append(owner)
    arc_target.append(target)
    n_cn = int(sum(len(t) for t in tails))
    # A node takes at most what its most numerous class could put there alone.
    slots = node_cap if pod_slots is None else np.minimum(node_cap, pod_slots)
    nodes = np.arange(n_nodes, dtype=np.int64)
    zone_arcs = np.zeros(0, dtype=np.int64)
    if zones is not None:
        zone_arcs = np.arange(n_nodes, dtype=np.int64) + n_cn
        tails.append(n_classes + n_nodes + zones.astype(np.int64))
        heads.append(n_classes + nodes)
        caps.append(np.maximum(slots, 0).astype(np.int64))
        costs.append(np.zeros(n_nodes, dtype=np.int64))
    tails.append(n_classes + nodes)
    heads.append(np.full(n_nodes, sink, dtype=np.int64))
    caps.append(np.maximum(slots, 0).astype(np.int64))
    costs.append(np.zeros(n_nodes, dtype=np.int64))
    # Unscheduled: dearer than any placement, and dearer for pods worth more.
    value = problem.value[np.asarray(reps, dtype=np.intp)].astype(np.int64)
    unscheduled = n_cn + (n_nodes if zones is not None else 0) + n_nodes
    tails.append(np.arange(n_classes, dtype=np.int64))
    heads.append(np.full(n_classes, sink, dtype=np.int64))
    caps.append(count)
    costs.append((top + 1) * (1 + value))
    supply = np.zeros(sink + 1, dtype=np.int64)
    supply[:n_classes] = count
    supply[sink] = -int(count.sum())
    return FlowNetwork(
        tail=np.concatenate(tails),
        head=np.concatenate(heads),
        capacity=np.concatenate(caps),
        cost=np.concatenate(costs),
        supply=supply,
        n_classes=n_classes,
        n_nodes=n_nodes,
        arc_class=np.concatenate(arc_class) if arc_class else np.zeros(0, np.int64),
        arc_target=np.concatenate(arc_target) if arc_target else np.zeros(0, np.int64),
        class_node_arcs=np.arange(n_cn, dtype=np.int64),
        unscheduled_arcs=np.arange(unscheduled, unscheduled + n_classes, dtype=np.int64),
        zone_node_arcs=zone_arcs,
    )


def solve_network(
    net: FlowNetwork, backend: FlowBackend = "ortools"
) -> tuple[int, NDArray[np.int64]]:
    """(total cost, flow per arc) of a min-cost flow meeting every supply."""
    if backend == "ortools":
        smcf = min_cost_flow.SimpleMinCostFlow()
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(net.tail, net.head, net.capacity, net.cost)
        smcf.set_nodes_supplies(np.arange(net.n_vertices), net.supply)
        status = smcf.solve()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"SimpleMinCostFlow ended with status {status}")
        return int(smcf.optimal_cost()), np.asarray(smcf.flows(arcs), dtype=np.int64)
    if backend == "networkx":
        graph = nx.DiGraph()
        for v, s in enumerate(net.supply.tolist()):
            graph.add_node(v, demand=-s)
        for i, (t, h, cap, cost) in enumerate(
            zip(net.tail.tolist(), net.head.tolist(), net.capacity.tolist(), net.cost.tolist(),
                strict=True)
        ):  # fmt: skip
            graph.add_edge(t, h, capacity=cap, weight=cost, index=i)
        cost, flow_dict = nx.network_simplex(graph)
        flows = np.zeros(len(net.tail), dtype=np.int64)
        for t, h, data in graph.edges(data=True):
            flows[data["index"]] = flow_dict[t][h]
        return int(cost), flows
    raise ValueError(
        f"The 'backend' parameter of solve_network must be one of {FLOW_BACKENDS}. "
        f"Got {backend!r} instead."
    )


def _route(
    net: FlowNetwork,
    flows: NDArray[np.int64],
    zones: NDArray[np.intp] | None,
    candidates: list[NDArray[np.intp]],
) -> list[list[tuple[int, int]]]:
    """Per class, (cluster node, pods) pairs the flow sends; zones spread over their nodes."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(net.n_classes)]
    cn = net.class_node_arcs
    if zones is None:
        for a in cn[flows[cn] > 0].tolist():
            out[int(net.arc_class[a])].append((int(net.arc_target[a]), int(flows[a])))
        return out
    # Firmament's aggregator: a zone's inflow goes to its nodes in proportion to their arcs.
    node_flow = flows[net.zone_node_arcs].copy()
    for a in cn[flows[cn] > 0].tolist():
        zone = -1 - int(net.arc_target[a])
        want = int(flows[a])
        c = int(net.arc_class[a])
        mine = candidates[c][zones[candidates[c]] == zone]
        for n in mine[node_flow[mine] > 0].tolist():
            take = min(want, int(node_flow[n]))
            if take:
                out[c].append((n, take))
                node_flow[n] -= take
                want -= take
            if not want:
                break
    return out


def solve_flow(
    problem: PlacementProblem,
    *,
    backend: FlowBackend = "ortools",
    zones: NDArray[np.intp] | None = None,
    slack: int | None = 2,
) -> Assignment:
    """Place ``problem``'s pods by min-cost flow, repaired into a valid assignment."""
    start = time.perf_counter()
    classes, reps = pod_classes(problem)
    out = Assignment.empty(problem.n_pods, "flow")
    free, gpu_free = problem.free.copy(), problem.gpu_free.copy()
    waiting = [list(np.flatnonzero(classes == c)) for c in range(len(reps))]
    first_cost = np.nan
    for _ in range(_REPAIR_ROUNDS):
        left = [p for pods in waiting for p in pods]
        if not left:
            break
        sub_classes = classes[left]
        used = sorted(set(sub_classes.tolist()))
        remap = {c: i for i, c in enumerate(used)}
        sub_reps = [reps[c] for c in used]
        local = np.asarray([remap[c] for c in sub_classes.tolist()], dtype=np.intp)
        net = build_flow_network(
            problem, local, sub_reps, zones=zones, free=free, gpu_free=gpu_free, slack=slack
        )
        cost, flows = solve_network(net, backend)
        if np.isnan(first_cost):
            first_cost = float(cost)
        placed_any = False
        cands = [problem.candidates[p] for p in sub_reps]
        for i, pairs in enumerate(_route(net, flows, zones, cands)):
            c = used[i]
            for n, amount in pairs:
                placed_any |= _take_many(problem, waiting[c], n, amount, free, gpu_free, out)
        if not placed_any:
            break
    for pods in waiting:  # what the flow's relaxation over-promised: first fit on what is left
        if not pods:
            continue
        p0 = pods[0]
        cand = problem.candidates[p0]
        k, milli = int(problem.num_gpu[p0]), int(problem.gpu_milli[p0])
        ok = (free[cand] >= problem.demand[p0]).all(axis=1)
        if k:
            ok &= (gpu_free[cand] >= milli).sum(axis=1) >= k
        # Room only shrinks, so a node that stops fitting one pod of the class fits no later
        # one: fill each node in turn, pods in order (``_take_many`` pops from the end).
        rest = [int(p) for p in reversed(pods)]
        for n in cand[ok].tolist():
            _take_many(problem, rest, n, len(rest), free, gpu_free, out)
            if not rest:
                break
    out.objective = -first_cost
    out.wall_seconds = time.perf_counter() - start
    return out


def _take_many(
    problem: PlacementProblem,
    waiting: list[int],
    n: int,
    amount: int,
    free: NDArray[np.int64],
    gpu_free: NDArray[np.int64],
    out: Assignment,
) -> bool:
    """Put up to ``amount`` pods of one class (popped from ``waiting``) on node ``n``."""
    if not waiting or not amount:
        return False
    p = waiting[-1]
    demand = problem.demand[p]
    need = demand > 0
    room = int((free[n, need] // demand[need]).min()) if need.any() else amount
    amount = min(amount, room, len(waiting))
    if problem.num_gpu[p] == 0:  # no cards to choose: the whole block at once
        pods = [waiting.pop() for _ in range(amount)]
        out.node[pods] = n
        free[n] -= amount * demand
        return amount > 0
    k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
    row = gpu_free[n].tolist()  # a handful of cards: plain Python beats numpy here
    taken = 0
    for _ in range(amount):
        room_cards = sorted((f, g) for g, f in enumerate(row) if f >= milli)
        if len(room_cards) < k:
            break
        cards = tuple(sorted(g for _, g in room_cards[:k]))  # best fit, as pick_gpus
        for g in cards:
            row[g] -= milli
        q = waiting.pop()
        out.node[q], out.gpus[q] = n, cards
        taken += 1
    gpu_free[n] = row
    free[n] -= taken * demand
    return taken > 0


def _take(
    problem: PlacementProblem,
    p: int,
    n: int,
    free: NDArray[np.int64],
    gpu_free: NDArray[np.int64],
    out: Assignment,
) -> bool:
    demand = problem.demand[p]
    if (demand > free[n]).any():
        return False
    k, milli = int(problem.num_gpu[p]), int(problem.gpu_milli[p])
    cards = pick_gpus(gpu_free[n], k, milli)
    if cards is None:
        return False
    free[n] -= demand
    gpu_free[n, list(cards)] -= milli
    out.node[p], out.gpus[p] = n, cards
    return True


_Pending = tuple[NDArray[np.int64], int, int, NDArray[np.intp], NDArray[np.int64], int]


class FlowScheduler:
    """Nodes and pending pods kept across solves; pods arrive, get placed, and leave.

    ``add_pods`` queues pods (rows of a demand array with GPU asks and
    candidates); ``solve`` places what it can by min-cost flow and keeps
    the rest pending; ``remove`` gives a placed pod's capacity back. Each
    solve builds the network of the pending pods on the current node state
    (SimpleMinCostFlow has no warm start, so the flow is solved anew).
    """

    def __init__(
        self,
        free: NDArray[np.int64],
        gpu_free: NDArray[np.int64],
        *,
        backend: FlowBackend = "ortools",
    ) -> None:
        self.free = free.copy()
        self.gpu_free = gpu_free.copy()
        self.backend: FlowBackend = backend
        self.pending: dict[
            str, tuple[NDArray[np.int64], int, int, NDArray[np.intp], NDArray[np.int64], int]
        ] = {}
        self.placed: dict[str, tuple[int, tuple[int, ...], NDArray[np.int64], int]] = {}

    def add_pod(
        self,
        key: str,
        demand: NDArray[np.int64],
        num_gpu: int,
        gpu_milli: int,
        candidates: NDArray[np.intp],
        scores: NDArray[np.int64],
        value: int = 1,
    ) -> None:
        if key in self.pending or key in self.placed:
            raise ValueError(f"pod {key!r} is already known to the flow scheduler")
        self.pending[key] = (demand, num_gpu, gpu_milli, candidates, scores, value)

    def remove(self, key: str) -> None:
        """A pod leaves: pending ones are dropped, placed ones free their node."""
        if self.pending.pop(key, None) is not None:
            return
        held = self.placed.pop(key, None)
        if held is None:
            raise KeyError(f"pod {key!r} is not known to the flow scheduler")
        n, cards, demand, milli = held
        self.free[n] += demand
        self.gpu_free[n, list(cards)] += milli

    def problem(self) -> tuple[PlacementProblem, list[str]]:
        keys = list(self.pending)
        rows = [self.pending[k] for k in keys]
        width = self.free.shape[1]
        return (
            PlacementProblem(
                free=self.free,
                gpu_free=self.gpu_free,
                demand=np.stack([r[0] for r in rows]) if rows else np.zeros((0, width), np.int64),
                num_gpu=np.asarray([r[1] for r in rows], dtype=np.int64),
                gpu_milli=np.asarray([r[2] for r in rows], dtype=np.int64),
                candidates=[r[3] for r in rows],
                scores=[r[4] for r in rows],
                value=np.asarray([r[5] for r in rows], dtype=np.int64),
                pod_keys=keys,
            ),
            keys,
        )

    def solve(self) -> dict[str, int]:
        """Place pending pods; returns pod key -> node index for the ones placed now."""
        problem, keys = self.problem()
        if not keys:
            return {}
        assignment = solve_flow(problem, backend=self.backend)
        placed: dict[str, int] = {}
        for p, key in enumerate(keys):
            n = int(assignment.node[p])
            if n == NO_NODE:
                continue
            demand, _, milli, *_ = self.pending.pop(key)
            cards = assignment.gpus[p]
            self.free[n] -= demand
            self.gpu_free[n, list(cards)] -= milli
            self.placed[key] = (n, cards, demand, milli)
            placed[key] = n
        return placed
