"""Finding preemption candidates: which nodes to try, and the victims on each.

Upstream ``findCandidates``/``DryRunPreemption`` (pkg/scheduler/framework/preemption/preemption.go)
and ``SelectVictimsOnNode``/``calculateNumCandidates`` (defaultpreemption/default_preemption.go).
The dry run edits the real snapshot and a cloned CycleState, then puts every
pod back, so a failed or raising dry run leaves the cluster view untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ksched.api import PodDisruptionBudget
from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import NodeToStatus
from ksched.framework.nominated import (
    filter_with_nominated_pods,
    run_pre_filter_extension_add_pod,
    run_pre_filter_extension_remove_pod,
)
from ksched.framework.plugins.defaultpreemption.pdb import filter_pods_with_pdb_violation
from ksched.framework.plugins.defaultpreemption.selection import Candidate, importance_key
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo
from ksched.framework.status import Code, Status, code_of

if TYPE_CHECKING:
    from ksched.framework.runtime import Framework

__all__ = [
    "ERR_NO_VICTIMS",
    "DryRunResult",
    "calculate_num_candidates",
    "dry_run_preemption",
    "potential_mask",
    "potential_nodes",
    "potential_rows",
    "select_victims_on_node",
]

ERR_NO_VICTIMS = "No preemption victims found for incoming pod"
# Compared with uint8 codes: a numpy scalar, not the enum member numpy would convert each time.
_UNSCHEDULABLE = np.uint8(Code.UNSCHEDULABLE)


def potential_nodes(snapshot: ClusterSnapshot, statuses: NodeToStatus) -> list[NodeInfo]:
    """Nodes whose filter failure removing pods might fix: those rejected as Unschedulable.

    UnschedulableAndUnresolvable nodes (taints, node affinity, a PreFilter
    result that left them out) are never tried; upstream ``NodesForStatusCode``
    with code Unschedulable, which also leaves out Pending ones.
    """
    return [snapshot.nodes[i] for i in potential_rows(snapshot, statuses).tolist()]


def potential_rows(snapshot: ClusterSnapshot, statuses: NodeToStatus) -> NDArray[np.intp]:
    """``potential_nodes`` as snapshot rows, without building the list of NodeInfo."""
    return np.flatnonzero(potential_mask(snapshot, statuses))


def potential_mask(snapshot: ClusterSnapshot, statuses: NodeToStatus) -> NDArray[np.bool_]:
    """``potential_rows`` as a mask over the snapshot's rows.

    A mask: a failed pod's preemption only counts the rows or crosses them with
    other per-row arrays, so listing their positions is spared.
    """
    codes = statuses.codes()
    absent = code_of(statuses.absent)
    if codes is not None and len(codes) != snapshot.n:
        named = np.zeros(snapshot.n, dtype=np.bool_)
        for ni in snapshot.nodes:
            named[ni.index] = code_of(statuses.get(ni.name)) == Code.UNSCHEDULABLE
        return named
    if codes is None:
        # No per-row codes (a PreFilter rejection): every node reads ``absent`` but those named.
        effective = np.full(snapshot.n, absent, dtype=np.uint8)
    elif not statuses.statuses:
        # Row code 0 means the node was not rejected by a filter: it reads the absent status.
        rejected: NDArray[np.bool_] = codes == _UNSCHEDULABLE
        return rejected | (codes == 0) if absent == Code.UNSCHEDULABLE else rejected
    else:
        effective = np.where(codes == 0, np.uint8(absent), codes)
    for name, status in statuses.statuses.items():
        row = snapshot.index.get(name)
        if row is not None:
            effective[row] = status.code
    unschedulable: NDArray[np.bool_] = effective == _UNSCHEDULABLE
    return unschedulable


def calculate_num_candidates(num_nodes: int, percentage: int, absolute: int) -> int:
    """``percentage`` of the nodes, at least ``absolute``, at most all of them."""
    n = num_nodes * percentage // 100
    return min(max(n, absolute), num_nodes)


def select_victims_on_node(
    framework: Framework,
    state: CycleState,
    pod: PodInfo,
    node: NodeInfo,
    pdbs: Sequence[PodDisruptionBudget],
) -> tuple[list[PodInfo], int, Status | None]:
    """The fewest lower-priority pods to evict from ``node`` so that ``pod`` fits.

    Removes every lower-priority pod, checks that the pod then fits, and
    reprieves pods one by one, most important first and PDB-violating ones
    before the others, keeping a pod only if the preemptor still fits.
    Returns (victims most important first, PDB violations among them, status);
    ``state`` must be a clone: the PreFilter extensions edit it.
    """
    potential = [p for p in node.pods.values() if p.priority < pod.priority]
    if not potential:
        return [], 0, Status.unresolvable(ERR_NO_VICTIMS)
    snap = framework.snapshot
    order = list(node.pods)
    removed: dict[str, PodInfo] = {}

    def remove(p: PodInfo) -> Status | None:
        snap.remove_pod(p)
        removed[p.key] = p
        return run_pre_filter_extension_remove_pod(framework, state, pod, p, node)

    def add(p: PodInfo) -> Status | None:
        snap.add_pod(p, node.name)
        del removed[p.key]
        return run_pre_filter_extension_add_pod(framework, state, pod, p, node)

    try:
        for p in potential:
            status = remove(p)
            if status is not None:
                return [], 0, status
        # Affinity of the preemptor to its own victims is not considered (as upstream).
        status = filter_with_nominated_pods(framework, state, pod, node)
        if status is not None and status.code != Code.SUCCESS:
            return [], 0, status
        potential.sort(key=importance_key)
        violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)
        victims: list[PodInfo] = []
        num_violating = 0
        for group, is_violating in ((violating, True), (non_violating, False)):
            for p in group:
                status = add(p)
                if status is not None:
                    return [], 0, status
                fits = filter_with_nominated_pods(framework, state, pod, node)
                if fits is None or fits.code == Code.SUCCESS:
                    continue
                status = remove(p)
                if status is not None:
                    return [], 0, status
                victims.append(p)
                num_violating += is_violating
        if violating and non_violating:
            victims.sort(key=importance_key)
        return victims, num_violating, None
    finally:
        for p in removed.values():
            snap.add_pod(p, node.name)
        if list(node.pods) != order:
            pods = dict(node.pods)
            node.pods.clear()
            node.pods.update((key, pods[key]) for key in order)


@dataclass(slots=True)
class DryRunResult:
    """Candidates (PDB-respecting ones first) and why the other tried nodes failed."""

    candidates: list[Candidate]
    statuses: dict[str, Status] = field(default_factory=dict)
    errors: list[Status] = field(default_factory=list)


_NO_VICTIMS = Status.unresolvable(ERR_NO_VICTIMS)


def dry_run_preemption(
    framework: Framework,
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    pdbs: Sequence[PodDisruptionBudget],
    offset: int,
    num_candidates: int,
) -> DryRunResult:
    """Try ``nodes`` from ``offset`` on, until ``num_candidates`` are found with one PDB-respecting.

    Upstream runs the nodes in parallel and keeps at most ``num_candidates``
    of each kind; running them in order makes the outcome deterministic.
    """
    non_violating: list[Candidate] = []
    violating: list[Candidate] = []
    result = DryRunResult([])
    n = len(nodes)
    lowest = framework.snapshot.min_pod_priority
    for i in range(n):
        node = nodes[(offset + i) % n]
        if lowest[node.index] >= pod.priority:
            # No lower-priority pod here: nothing to evict (checked without cloning the state).
            result.statuses[node.name] = _NO_VICTIMS
            continue
        victims, num_violations, status = select_victims_on_node(
            framework, state.clone(), pod, node, pdbs
        )
        if status is None or status.code == Code.SUCCESS:
            if victims:
                found = Candidate(node.name, tuple(victims), num_violations)
                kept = violating if num_violations else non_violating
                if len(kept) < num_candidates:
                    kept.append(found)
                if non_violating and len(non_violating) + len(violating) >= num_candidates:
                    break
                continue
            status = Status.from_error(f"expected at least one victim pod on node {node.name!r}")
        if status.code == Code.ERROR:
            result.errors.append(status)
        result.statuses[node.name] = status
    result.candidates = non_violating + violating
    return result
