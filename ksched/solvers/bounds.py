"""Upper bounds on the GPU allocation any policy can reach on a workload.

An offline integer program over the whole (tuned) workload, with every pod
known in advance and no arrival order: choose how many pods of each class
go on each node type. Pods are grouped into classes by their requests and
allowed GPU models, nodes into types by capacity and GPU model; summing the
per-node constraints over the nodes of a type gives the type's
constraints, so every per-node placement is feasible here and the optimum
bounds every placement from above (online or offline, any policy):

- CPU, memory and pod slots of a type: sum over classes <= the type's total;
- GPU milli: sum of num_gpu x gpu_milli <= 1000 x cards;
- cards: a card holds at most one pod asking more than half of it, and a
  whole-GPU pod holds its cards alone, so the number of such card uses is
  at most the number of cards (a dual feasible function cut, Fekete and
  Schepers, "New classes of fast lower bounds for bin packing problems",
  Math. Programming 2001);
- a class may use a type only if one pod of it fits one node of it.

The LP relaxation bounds it again from above; both are reported, solved by
HiGHS (``scipy.optimize.milp``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import Bounds, LinearConstraint, milp  # type: ignore[import-untyped]
from scipy.sparse import coo_matrix  # type: ignore[import-untyped]

from ksched.traces.workload import NodeTable, PodTable

__all__ = ["AllocationBound", "allocation_bound"]

MILLI = 1000


@dataclass(frozen=True)
class AllocationBound:
    """Bounds in GPU milli and as % of cluster GPU capacity; ``ilp_optimal`` if proved."""

    capacity_milli: int
    requested_milli: int
    ilp_milli: float
    lp_milli: float
    ilp_optimal: bool
    ilp_gap: float
    seconds: float
    classes: int
    node_types: int

    @property
    def ilp_pct(self) -> float:
        return 100.0 * self.ilp_milli / self.capacity_milli

    @property
    def lp_pct(self) -> float:
        return 100.0 * self.lp_milli / self.capacity_milli

    @property
    def requested_pct(self) -> float:
        return 100.0 * self.requested_milli / self.capacity_milli


def _groups(columns: list[NDArray[np.generic]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(group of each row, first row of each group) for rows equal in all ``columns``."""
    keys = list(zip(*(c.tolist() for c in columns), strict=True))
    index: dict[object, int] = {}
    group = np.empty(len(keys), dtype=np.intp)
    first: list[int] = []
    for i, key in enumerate(keys):
        g = index.get(key)
        if g is None:
            g = index[key] = len(first)
            first.append(i)
        group[i] = g
    return group, np.asarray(first, dtype=np.intp)


def allocation_bound(
    nodes: NodeTable,
    pods: PodTable,
    rows: NDArray[np.intp] | None = None,
    *,
    time_limit: float = 60.0,
) -> AllocationBound:
    """Bound the GPU milli ``pods`` (rows ``rows``, repeats allowed: tuned copies) can get."""
    start = time.perf_counter()
    rows = np.arange(len(pods), dtype=np.intp) if rows is None else np.asarray(rows, np.intp)
    k = pods.num_gpu[rows].astype(np.int64)
    m = np.where(k > 0, pods.gpu_milli[rows], 0).astype(np.int64)
    models = np.empty(len(rows), dtype=object)
    models[:] = [
        tuple(sorted(x)) if n else () for x, n in zip(pods.gpu_models[rows], k, strict=True)
    ]
    pod_cols = [pods.cpu_milli[rows], pods.memory_bytes[rows], k, m, models]
    pclass, pfirst = _groups(pod_cols)
    count = np.bincount(pclass).astype(np.int64)
    c_cpu, c_mem = pod_cols[0][pfirst].astype(np.int64), pod_cols[1][pfirst].astype(np.int64)
    c_k, c_m, c_models = k[pfirst], m[pfirst], models[pfirst]
    ntype, nfirst = _groups(
        [nodes.cpu_milli, nodes.memory_bytes, nodes.gpu_count, nodes.gpu_model, nodes.max_pods]
    )
    n_of = np.bincount(ntype).astype(np.int64)
    t_cpu, t_mem = nodes.cpu_milli[nfirst].astype(np.int64), nodes.memory_bytes[nfirst]
    t_gpus, t_model = nodes.gpu_count[nfirst].astype(np.int64), nodes.gpu_model[nfirst]
    t_pods = nodes.max_pods[nfirst].astype(np.int64)
    pairs = [
        (c, t)
        for c in range(len(pfirst))
        for t in range(len(nfirst))
        if c_cpu[c] <= t_cpu[t]
        and c_mem[c] <= t_mem[t]
        and c_k[c] <= t_gpus[t]
        and (c_k[c] == 0 or not c_models[c] or t_model[t] in c_models[c])
    ]
    n_var = len(pairs)
    capacity = int(MILLI * nodes.gpu_count.astype(np.int64).sum())
    if n_var == 0:  # no pod fits any node
        return AllocationBound(
            capacity, int((k * m).sum()), 0.0, 0.0, True, 0.0, time.perf_counter() - start,
            len(pfirst), len(nfirst),
        )  # fmt: skip
    pc = np.asarray([c for c, _ in pairs], dtype=np.intp)
    pt = np.asarray([t for _, t in pairs], dtype=np.intp)
    gpu = (c_k * c_m)[pc].astype(float)
    card = np.where(c_m > MILLI // 2, c_k, 0)[pc].astype(float)
    n_types = len(nfirst)
    rows_a: list[NDArray[np.intp]] = []
    cols_a: list[NDArray[np.intp]] = []
    vals_a: list[NDArray[np.float64]] = []
    upper: list[NDArray[np.float64]] = []
    var = np.arange(n_var, dtype=np.intp)
    blocks = (
        (c_cpu[pc].astype(float), (t_cpu * n_of).astype(float)),
        (c_mem[pc].astype(float) / 2**20, (t_mem * n_of).astype(float) / 2**20),
        (np.ones(n_var), (t_pods * n_of).astype(float)),
        (gpu, (MILLI * t_gpus * n_of).astype(float)),
        (card, (t_gpus * n_of).astype(float)),
    )
    offset = 0
    for coef, cap in blocks:
        rows_a.append(offset + pt)
        cols_a.append(var)
        vals_a.append(coef)
        upper.append(cap)
        offset += n_types
    rows_a.append(offset + pc)
    cols_a.append(var)
    vals_a.append(np.ones(n_var))
    upper.append(count.astype(float))
    a = coo_matrix(
        (np.concatenate(vals_a), (np.concatenate(rows_a), np.concatenate(cols_a))),
        shape=(offset + len(pfirst), n_var),
    ).tocsr()
    ub = np.concatenate(upper)
    constraint = LinearConstraint(a, -np.inf, ub)
    lp = milp(-gpu, constraints=constraint, bounds=Bounds(0, np.inf), integrality=np.zeros(n_var))
    ilp = milp(
        -gpu,
        constraints=constraint,
        bounds=Bounds(0, np.inf),
        integrality=np.ones(n_var),
        options={"time_limit": time_limit},
    )
    if lp.status != 0 or ilp.x is None:
        raise RuntimeError(
            f"the bound's programs did not solve: LP {lp.message}; ILP {ilp.message}"
        )
    # Without a proof of optimality the ILP's dual bound is the valid upper bound.
    ilp_bound = -float(ilp.mip_dual_bound) if ilp.mip_dual_bound is not None else -float(ilp.fun)
    return AllocationBound(
        capacity_milli=capacity,
        requested_milli=int((k * m).sum()),
        ilp_milli=ilp_bound,
        lp_milli=-float(lp.fun),
        ilp_optimal=ilp.status == 0,
        ilp_gap=float(ilp.mip_gap) if ilp.mip_gap is not None else float("nan"),
        seconds=time.perf_counter() - start,
        classes=len(pfirst),
        node_types=n_types,
    )
