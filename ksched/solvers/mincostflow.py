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
from dataclasses import dataclass, field
from typing import Final, Literal

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


def _fit_counts(
    free: NDArray[np.int64],
    gpu_free: NDArray[np.int64],
    demand: NDArray[np.int64],
    k: int,
    milli: int,
) -> NDArray[np.int64]:
    """How many pods of one shape each node (rows of ``free``) could hold alone."""
    need = demand > 0
    if need.any():
        counts: NDArray[np.int64] = (free[:, need] // demand[need]).min(axis=1)
    else:
        counts = np.full(len(free), 1 << 30, dtype=np.int64)
    if k:
        per_card = np.where(gpu_free >= milli, gpu_free // milli, 0).sum(axis=1) // k
        counts = np.minimum(counts, per_card)
    return np.maximum(counts, 0)


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
    for c, p in enumerate(reps):
        cand = problem.candidates[p]
        fit = _fit_counts(
            free[cand], gpu_free[cand], problem.demand[p], int(problem.num_gpu[p]),
            int(problem.gpu_milli[p]),
        )  # fmt: skip
        fit = np.minimum(fit, count[c])
        np.maximum.at(node_cap, cand, fit)
        cost = (top - problem.scores[p]).astype(np.int64)
        ok = np.flatnonzero(fit > 0)
        if slack is not None and len(ok):
            # Firmament's pruning: the cheapest arcs that could hold the class `slack` times.
            ok = ok[np.argsort(cost[ok], kind="stable")]
            enough = np.searchsorted(np.cumsum(fit[ok]), slack * count[c]) + 1
            ok = np.sort(ok[:enough])
        cand, fit, cost = cand[ok], fit[ok], cost[ok]
        if zones is not None and len(cand):
            z = zones[cand]
            uz = np.unique(z)
            zcap = np.minimum(np.bincount(z, weights=fit, minlength=n_zones)[uz], count[c])
            zcost = np.full(n_zones, np.iinfo(np.int64).max)
            np.minimum.at(zcost, z, cost)
            target = -1 - uz.astype(np.int64)
            head = n_classes + n_nodes + uz.astype(np.int64)
            fit, cost = zcap.astype(np.int64), zcost[uz]
        else:
            target = cand.astype(np.int64)
            head = n_classes + target
        tails.append(np.full(len(head), c, dtype=np.int64))
        heads.append(head)
        caps.append(fit)
        costs.append(cost)
        arc_class.append(np.full(len(head), c, dtype=np.int64))
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
        # Room only shrinks, so a node that stops fitting one pod of the class fits no later one.
        hits, i = cand[ok].tolist(), 0
        for p in pods:
            while i < len(hits) and not _take(problem, int(p), hits[i], free, gpu_free, out):
                i += 1
            if i == len(hits):
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
