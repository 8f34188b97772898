"""SolverPreemption: a PostFilter that finds the cheapest set of lower-priority pods to evict.

DefaultPreemption tries nodes one by one and keeps a victim set that is
minimal on its node, preferring PDB-respecting candidates. This plugin
instead solves one CP-SAT model over every candidate node within a time
budget: pick one node and the lower-priority pods on it to evict so the
pod fits (resources and, under Open-Gpu-Share, enough cards with its
share free), minimising the evicted priority (each victim costs its
priority above the lowest plus one, so fewer and less important victims
win), and never exceeding a PodDisruptionBudget's ``disruptionsAllowed``
(a hard constraint here, where upstream only prefers). The plan (node,
victims, cost, proof status) is verified with the profile's Filter
plugins on the node with the victims removed, then carried out as
DefaultPreemption does (evict, nominate) and kept in ``last_plan``.

Moving pods elsewhere instead of evicting them is not planned: a
scheduler client can only evict, not recreate a pod on another node.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from ortools.sat.python import cp_model
from pydantic import BaseModel, ConfigDict, Field

from ksched.api import PodDisruptionBudget
from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import NodeToStatus, PostFilterResult
from ksched.framework.plugins.defaultpreemption.candidates import potential_rows
from ksched.framework.plugins.defaultpreemption.pdb import selector_matches
from ksched.framework.plugins.defaultpreemption.plugin import (
    DefaultPreemption,
    DefaultPreemptionArgs,
)
from ksched.framework.plugins.defaultpreemption.selection import Candidate
from ksched.framework.plugins.gpushare import GpuRequestError, GpuShareState, gpu_request
from ksched.framework.plugins.names import OPEN_GPU_SHARE
from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Code, Status

__all__ = ["NAME", "PreemptionPlan", "SolverPreemption", "SolverPreemptionArgs", "new"]

NAME: Final = "SolverPreemption"
ERR_NO_PLAN: Final = "no set of lower-priority pods whose eviction lets the pod fit"
ERR_PLAN_REJECTED: Final = "the solver's plan did not pass the Filter plugins"


class SolverPreemptionArgs(BaseModel):
    """``timeLimit``: CP-SAT seconds per attempt; ``maxNodes``: candidate nodes kept."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    time_limit: float = Field(default=1.0, gt=0, alias="timeLimit")
    max_nodes: int = Field(default=200, ge=1, alias="maxNodes")


Args = SolverPreemptionArgs


@dataclass(frozen=True)
class PreemptionPlan:
    """What the solver chose: evict ``victims`` from ``node``; ``optimal`` if proved."""

    pod: str
    node: str
    victims: tuple[str, ...]
    cost: int
    optimal: bool
    seconds: float


class SolverPreemption:
    """PostFilter: minimum-cost, PDB-respecting preemption found by CP-SAT."""

    def __init__(self, args: SolverPreemptionArgs, handle: Any) -> None:
        self.args = args
        self.handle = handle
        self.evictor = DefaultPreemption(DefaultPreemptionArgs(), handle)
        self.last_plan: PreemptionPlan | None = None

    @property
    def name(self) -> str:
        return NAME

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        ok, message = self.evictor.pod_eligible_to_preempt_others(pod, None)
        if not ok:
            return None, Status.unschedulable(message)
        fwk = self.handle.framework
        if fwk is None:
            return None, Status.from_error(f"{NAME} needs handle.framework to run the filters")
        snap = fwk.snapshot
        rows = potential_rows(snap, statuses)
        rows = rows[snap.min_pod_priority[rows] < pod.priority]
        if not len(rows):
            return None, Status.unschedulable(ERR_NO_PLAN)
        if len(rows) > self.args.max_nodes:
            # Keep the nodes with the most evictable room: their lowest priorities first.
            rows = rows[np.argsort(snap.min_pod_priority[rows], kind="stable")][
                : self.args.max_nodes
            ]
        plan = self._solve(pod, [int(r) for r in rows])
        if plan is None:
            return None, Status.unschedulable(ERR_NO_PLAN)
        node = snap[plan.node]
        victims = [node.pods[key] for key in plan.victims]
        if not self._fits_without(state, pod, node.name, victims):
            return None, Status.unschedulable(ERR_PLAN_REJECTED)
        status = self.evictor.prepare_candidate(Candidate(plan.node, tuple(victims), 0), pod)
        if status is not None:
            return None, status
        self.last_plan = plan
        recorder = self.handle.recorder
        if recorder is not None:
            recorder.event(
                pod, "Normal", "PreemptionPlan", "Preempting",
                f"{NAME}: evict {len(victims)} pod(s) from {plan.node} at cost {plan.cost}"
                f" ({'optimal' if plan.optimal else 'best found in time'})",
            )  # fmt: skip
        return PostFilterResult(plan.node, victims), Status(Code.SUCCESS)

    def _pdbs(self) -> list[PodDisruptionBudget]:
        client = self.handle.client
        return [] if client is None else list(client.pdbs())

    def _solve(self, pod: PodInfo, rows: list[int]) -> PreemptionPlan | None:
        start = time.perf_counter()
        snap = self.handle.framework.snapshot
        need = snap.pod_vector(pod)
        free = snap.allocatable - snap.requested
        gpus = self._gpu_state()
        try:
            request = gpu_request(pod) if gpus is not None else None
        except GpuRequestError:
            return None
        model = cp_model.CpModel()
        chosen: dict[int, Any] = {}
        evict: dict[str, Any] = {}
        victims_of: dict[int, list[PodInfo]] = {}
        lowest = min(int(snap.min_pod_priority[r]) for r in rows)
        cost_terms: list[tuple[int, Any]] = []
        for r in rows:
            info = snap.nodes[r]
            pool = [p for p in info.pods.values() if p.priority < pod.priority]
            b = model.new_bool_var(f"node{r}")
            chosen[r] = b
            victims_of[r] = pool
            for v in pool:
                e = model.new_bool_var(f"evict:{v.key}")
                model.add_implication(e, b)
                evict[v.key] = e
                cost_terms.append((v.priority - lowest + 1, e))
            for col in np.flatnonzero(need > 0).tolist():
                short = int(need[col] - free[r, col])
                if short <= 0:
                    continue
                gain = [(int(snap.pod_vector(v)[col]), evict[v.key]) for v in pool]
                gain = [(g, e) for g, e in gain if g > 0]
                if sum(g for g, _ in gain) < short:
                    model.add(b == 0)
                    break
                model.add(sum(g * e for g, e in gain) >= short).only_enforce_if(b)
            if request is not None and gpus is not None:
                self._cards(model, gpus, r, pool, evict, b, request.milli, request.count)
        model.add_exactly_one(chosen.values())
        for pdb, members in self._pdb_members(list(evict)):
            allowed = max(0, pdb.status.disruptions_allowed)
            model.add(sum(evict[k] for k in members) <= allowed)
        model.minimize(sum(c * e for c, e in cost_terms))
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = self.args.time_limit
        solver.parameters.num_workers = 1
        code = solver.solve(model)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        node_row = next(r for r, b in chosen.items() if solver.boolean_value(b))
        victims = tuple(v.key for v in victims_of[node_row] if solver.boolean_value(evict[v.key]))
        return PreemptionPlan(
            pod=pod.key,
            node=snap.nodes[node_row].name,
            victims=victims,
            cost=round(solver.objective_value),
            optimal=code == cp_model.OPTIMAL,
            seconds=time.perf_counter() - start,
        )

    def _gpu_state(self) -> GpuShareState | None:
        fwk = self.handle.framework
        if not any(p.name == OPEN_GPU_SHARE for p in fwk.filters):
            return None
        return GpuShareState.of(fwk.snapshot)

    @staticmethod
    def _cards(
        model: cp_model.CpModel,
        gpus: GpuShareState,
        row: int,
        pool: list[PodInfo],
        evict: dict[str, Any],
        chosen: Any,
        milli: int,
        count: int,
    ) -> None:
        """On the chosen node, ``count`` cards must have ``milli`` free once victims leave."""
        gpus.sync()
        freed: dict[int, list[tuple[int, Any]]] = defaultdict(list)
        for v in pool:
            held = gpus.holdings.get(v.key)
            if held is not None:
                for g in held.indices:
                    freed[g].append((held.milli, evict[v.key]))
        usable: list[Any] = []
        for g in range(int(gpus.gpus[row])):
            short = milli - int(gpus.free[row, g])
            if short <= 0:
                usable.append(1)
                continue
            gain = freed.get(g, [])
            if sum(m for m, _ in gain) < short:
                continue
            ok = model.new_bool_var(f"card{row}_{g}")
            model.add(sum(m * e for m, e in gain) >= short).only_enforce_if(ok)
            usable.append(ok)
        model.add(sum(usable) >= count).only_enforce_if(chosen)

    def _pdb_members(self, keys: list[str]) -> list[tuple[PodDisruptionBudget, list[str]]]:
        """Per PDB, the candidate victims it covers (those it already counts spend nothing)."""
        pods = self.handle.framework.snapshot.pod_nodes
        snap = self.handle.framework.snapshot
        out: list[tuple[PodDisruptionBudget, list[str]]] = []
        for pdb in self._pdbs():
            members = []
            for key in keys:
                info = snap[pods[key]].pods[key]
                if not info.labels or (pdb.metadata.namespace or "default") != info.namespace:
                    continue
                if info.name in pdb.status.disrupted_pods:
                    continue
                if selector_matches(pdb.spec.selector, info.labels):
                    members.append(key)
            if members:
                out.append((pdb, members))
        return out

    def _fits_without(
        self, state: CycleState, pod: PodInfo, node_name: str, victims: list[PodInfo]
    ) -> bool:
        """Every Filter plugin passes ``node_name`` once ``victims`` are gone (then restored)."""
        fwk = self.handle.framework
        snap = fwk.snapshot
        for v in victims:
            snap.remove_pod(v)
        try:
            return fwk.run_filters_on_node(state.clone(), pod, snap[node_name]) is None
        finally:
            for v in victims:
                snap.add_pod(v, node_name)


def new(args: SolverPreemptionArgs | None, handle: Any) -> SolverPreemption:
    return SolverPreemption(args or SolverPreemptionArgs(), handle)
