"""DefaultPreemption: eligibility, victim selection, candidate choice, eviction, nomination.

Expected outcomes follow kube-scheduler's documented preemption behaviour and
the cases of upstream default_preemption_test.go / preemption_test.go,
rewritten.  Unit tests drive a real ``Framework`` over a ``ClusterSnapshot``;
the end-to-end ones go through ``ksched.scheduler.Scheduler``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from pydantic import ValidationError

from ksched.api import Node, Pod, PodDisruptionBudget
from ksched.config import (
    DEFAULT_MULTI_POINT,
    KubeSchedulerConfiguration,
    KubeSchedulerProfile,
    Plugin,
    Plugins,
    PluginSet,
    PluginSpec,
    Registry,
)
from ksched.config.feature_gates import POP_FROM_BACKOFF_Q
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.interface import ExtensionPoint, NodeToStatus
from ksched.framework.nominated import filter_with_nominated_pods
from ksched.framework.nominator import Nominator
from ksched.framework.plugins import names, node_unschedulable
from ksched.framework.plugins.defaultpreemption import plugin as dp
from ksched.framework.plugins.defaultpreemption.candidates import (
    calculate_num_candidates,
    potential_nodes,
    select_victims_on_node,
)
from ksched.framework.plugins.defaultpreemption.pdb import (
    filter_pods_with_pdb_violation,
    selector_matches,
)
from ksched.framework.plugins.defaultpreemption.selection import (
    Candidate,
    pick_one_node_for_preemption,
    start_time_ns,
)
from ksched.framework.plugins.noderesources import fit
from ksched.framework.plugins.registry import IN_TREE_MODULES
from ksched.framework.pod_info import PodInfo
from ksched.framework.runtime import Framework
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Code, Status
from ksched.framework.waiting_pods import WaitingPod
from ksched.scheduler import Scheduler, ScheduleResult
from ksched.scheduler.local_client import LocalClient
from ksched.testing import check_plugin
from ksched.testing.scenarios import node_json, pod_json

# -- builders ---------------------------------------------------------------------------


def make_node(name: str, cpu: str = "4", pods: int = 110, **kw: Any) -> Node:
    return Node.model_validate(node_json(name, cpu=cpu, memory="64Gi", pods=pods, **kw))


def make_pod(
    name: str,
    cpu: str = "1",
    priority: int = 0,
    node: str = "",
    labels: dict[str, str] | None = None,
    start: str | None = None,
    namespace: str = "default",
    nominated: str = "",
    **spec: Any,
) -> PodInfo:
    data = pod_json(name, cpu=cpu, memory="1Gi", labels=labels, node_name=node, **spec)
    data["spec"]["priority"] = priority
    data["metadata"]["namespace"] = namespace
    status: dict[str, Any] = {}
    if start:
        status["startTime"] = start
    if nominated:
        status["nominatedNodeName"] = nominated
    data["status"] = status
    return PodInfo.from_pod(Pod.model_validate(data))


def make_pdb(
    name: str,
    match_labels: dict[str, str],
    allowed: int,
    namespace: str = "default",
    disrupted: tuple[str, ...] = (),
) -> PodDisruptionBudget:
    return PodDisruptionBudget.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": match_labels}},
            "status": {
                "disruptionsAllowed": allowed,
                "disruptedPods": {p: "2024-01-01T00:00:00Z" for p in disrupted},
            },
        }
    )


@dataclass
class FakeClient:
    """Evicts by removing the pod from the snapshot, as an API server plus informer would."""

    snapshot: ClusterSnapshot
    pdb_list: list[PodDisruptionBudget] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    nominations: dict[str, str] = field(default_factory=dict)

    def bind(self, pod: PodInfo, node_name: str) -> None:
        pod.pod.spec.node_name = node_name

    def delete_pod(self, pod: PodInfo, reason: str) -> None:
        self.deleted.append(pod.key)
        self.snapshot.remove_pod(pod)

    def set_nominated_node(self, pod: PodInfo, node_name: str) -> None:
        self.nominations[pod.key] = node_name
        pod.pod.status.nominated_node_name = node_name or None

    def pdbs(self) -> list[PodDisruptionBudget]:
        return self.pdb_list


class _Counts:
    """Exclusive pods per node; cloned per cycle-state clone."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def clone(self) -> _Counts:
        return _Counts(dict(self.counts))


class Exclusive:
    """Test plugin: an ``exclusive`` pod shares its node with no other ``exclusive`` pod.

    Its Filter reads only the PreFilter state, so preemption succeeds through
    it only if the dry run updates that state with the PreFilter extensions.
    """

    name = "Exclusive"

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[None, Status | None]:
        if "exclusive" not in pod.labels:
            return None, Status.skip()
        counts = {
            ni.name: sum("exclusive" in p.labels for p in ni.pods.values()) for ni in nodes.infos
        }
        state.write(self.name, _Counts(counts))
        return None, None

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        if "exclusive" in other.labels:
            state.read(self.name).counts[node.name] += 1

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        if "exclusive" in other.labels:
            state.read(self.name).counts[node.name] -= 1

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if state.read(self.name).counts[node.name] > 0:
            return Status.unschedulable("node(s) already run an exclusive pod")
        return None


class Exploding:
    """Test plugin with only the vectorised form; raises once armed (the runtime lets it out)."""

    name = "Exploding"

    def __init__(self) -> None:
        self.armed = False

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Any:
        if self.armed:
            raise RuntimeError("boom")
        return np.ones(len(nodes), dtype=bool)


@dataclass
class Env:
    fwk: Framework
    plugin: dp.DefaultPreemption
    client: FakeClient
    nominator: Nominator
    snapshot: ClusterSnapshot

    def statuses(self, state: CycleState, pod: PodInfo, vectorised: bool = True) -> NodeToStatus:
        """PreFilter and Filter as a failed cycle runs them (per node when not ``vectorised``)."""
        restrict, status = self.fwk.run_pre_filter(state, pod)
        if status is not None:
            return NodeToStatus(status)
        if vectorised:
            outcome = self.fwk.find_feasible(state, pod, restrict)
            assert len(outcome.feasible) == 0, "the pod must not fit anywhere"
            return outcome.statuses
        statuses = NodeToStatus()
        for ni in self.snapshot.nodes:
            st = self.fwk.run_filters_on_node(state, pod, ni)
            assert st is not None, "the pod must not fit anywhere"
            statuses.set(ni.name, st)
        return statuses

    def preempt(self, pod: PodInfo, vectorised: bool = True) -> tuple[Any, Status | None]:
        state = CycleState()
        return self.plugin.post_filter(state, pod, self.statuses(state, pod, vectorised))


def build(
    nodes: list[Node],
    bound: list[PodInfo],
    pdbs: tuple[PodDisruptionBudget, ...] = (),
    extra: tuple[Any, ...] = (),
    args: dict[str, Any] | None = None,
    seed: int = 0,
) -> Env:
    snap = ClusterSnapshot()
    snap.add_nodes(nodes)
    for p in bound:
        snap.add_pod(p, p.node_name)
    client = FakeClient(snap, list(pdbs))
    nominator = Nominator()
    handle = Handle(
        snapshot=snap, rng=np.random.default_rng(seed), client=client, nominator=nominator
    )
    factories: dict[str, Any] = {
        names.NODE_UNSCHEDULABLE: node_unschedulable.new,
        names.NODE_RESOURCES_FIT: fit.new,
        names.DEFAULT_PREEMPTION: dp.new,
    }
    for plugin in extra:
        factories[plugin.name] = lambda a, h, p=plugin: p
    pre_filter = [names.NODE_RESOURCES_FIT] + [p.name for p in extra if hasattr(p, "pre_filter")]
    filters = [names.NODE_UNSCHEDULABLE, names.NODE_RESOURCES_FIT] + [p.name for p in extra]
    profile = SimpleNamespace(
        scheduler_name="default-scheduler",
        percentage_of_nodes_to_score=None,
        points={
            ExtensionPoint.PRE_FILTER: [(n, None) for n in pre_filter],
            ExtensionPoint.FILTER: [(n, None) for n in filters],
            ExtensionPoint.POST_FILTER: [(names.DEFAULT_PREEMPTION, None)],
        },
        args={names.DEFAULT_PREEMPTION: dp.Args.model_validate(args)} if args else {},
    )
    registry = {name: SimpleNamespace(factory=f) for name, f in factories.items()}
    fwk = Framework(cast(Any, profile), cast(Any, registry), handle)
    plugin = fwk.plugins[names.DEFAULT_PREEMPTION]
    return Env(fwk, plugin, client, nominator, snap)


def snapshot_view(snap: ClusterSnapshot) -> tuple[Any, ...]:
    return (
        snap.requested.copy().tolist(),
        snap.non_zero_requested.copy().tolist(),
        [list(ni.pods) for ni in snap.nodes],
        [dict(ni.used_ports) for ni in snap.nodes],
        dict(snap.pod_nodes),
    )


T0 = "2024-01-01T00:00:00Z"
T1 = "2024-01-01T01:00:00Z"
T2 = "2024-01-01T02:00:00Z"

# -- Args ------------------------------------------------------------------------------


def test_args_defaults_and_aliases() -> None:
    args = dp.Args()
    assert (args.min_candidate_nodes_percentage, args.min_candidate_nodes_absolute) == (10, 100)
    parsed = dp.Args.model_validate(
        {"minCandidateNodesPercentage": 20, "minCandidateNodesAbsolute": 0}
    )
    assert (parsed.min_candidate_nodes_percentage, parsed.min_candidate_nodes_absolute) == (20, 0)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"minCandidateNodesPercentage": -1}, id="percentage-negative"),
        pytest.param({"minCandidateNodesPercentage": 101}, id="percentage-over-100"),
        pytest.param({"minCandidateNodesAbsolute": -1}, id="absolute-negative"),
        pytest.param(
            {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0}, id="both-zero"
        ),
        pytest.param({"minCandidateNodes": 3}, id="unknown-field"),
    ],
)
def test_args_rejected(raw: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        dp.Args.model_validate(raw)


@pytest.mark.parametrize(
    ("num_nodes", "percentage", "absolute", "expected"),
    [
        pytest.param(10, 5, 0, 0, id="percentage-rounds-down"),
        pytest.param(100, 10, 5, 10, id="percentage-wins"),
        pytest.param(100, 10, 50, 50, id="absolute-wins"),
        pytest.param(10, 10, 100, 10, id="capped-at-nodes"),
        pytest.param(1000, 0, 1, 1, id="percentage-zero"),
        pytest.param(5000, 100, 100, 5000, id="all"),
    ],
)
def test_calculate_num_candidates(
    num_nodes: int, percentage: int, absolute: int, expected: int
) -> None:
    assert calculate_num_candidates(num_nodes, percentage, absolute) == expected


def test_offset_is_random_but_seeded() -> None:
    env = build([make_node(f"n{i}") for i in range(300)], [], args={"minCandidateNodesAbsolute": 7})
    offsets = {env.plugin.get_offset_and_num_candidates(300)[0] for _ in range(20)}
    assert len(offsets) > 1 and all(0 <= o < 300 for o in offsets)
    assert env.plugin.get_offset_and_num_candidates(300)[1] == 30
    assert env.plugin.get_offset_and_num_candidates(50)[1] == 7


# -- PDBs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        pytest.param(None, {"a": "1"}, False, id="nil-matches-nothing"),
        pytest.param({}, {"a": "1"}, False, id="empty-matches-nothing"),
        pytest.param({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True, id="labels"),
        pytest.param({"matchLabels": {"a": "1"}}, {"a": "2"}, False, id="labels-differ"),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]},
            {"a": "2"},
            True,
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]},
            {"b": "1"},
            True,
            id="notin-absent-key",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True, id="exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]},
            {"a": "1"},
            False,
            id="does-not-exist",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            {"a": "1"},
            False,
            id="invalid-in-without-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["0"]}]},
            {"a": "1"},
            False,
            id="invalid-operator",
        ),
    ],
)
def test_selector_matches(selector: Any, labels: dict[str, str], expected: bool) -> None:
    pdb = PodDisruptionBudget.model_validate({"spec": {"selector": selector}})
    assert selector_matches(pdb.spec.selector, labels) is expected


def _names(pods: list[PodInfo]) -> list[str]:
    return [p.name for p in pods]


@pytest.mark.parametrize(
    ("pdbs", "violating", "non_violating"),
    [
        pytest.param([], [], ["a", "b", "c", "x"], id="no-pdbs"),
        pytest.param(
            [make_pdb("p", {"app": "web"}, 1)], ["b", "c"], ["a", "x"], id="budget-of-one"
        ),
        pytest.param(
            [make_pdb("p", {"app": "web"}, 0)], ["a", "b", "c"], ["x"], id="budget-of-zero"
        ),
        pytest.param(
            [make_pdb("p", {"app": "web"}, 0, namespace="other")],
            [],
            ["a", "b", "c", "x"],
            id="other-namespace",
        ),
        pytest.param(
            [make_pdb("p", {"app": "web"}, 1, disrupted=("a",))],
            ["c"],
            ["a", "b", "x"],
            id="already-disrupted-spends-nothing",
        ),
        pytest.param(
            [make_pdb("p", {"app": "web"}, 5), make_pdb("q", {"tier": "front"}, 0)],
            ["a"],
            ["b", "c", "x"],
            id="any-pdb-violated",
        ),
    ],
)
def test_filter_pods_with_pdb_violation(
    pdbs: list[PodDisruptionBudget], violating: list[str], non_violating: list[str]
) -> None:
    pods = [
        make_pod("a", labels={"app": "web", "tier": "front"}),
        make_pod("b", labels={"app": "web"}),
        make_pod("c", labels={"app": "web"}),
        make_pod("x"),
    ]
    v, nv = filter_pods_with_pdb_violation(pods, pdbs)
    assert (_names(v), _names(nv)) == (violating, non_violating)


# -- choosing a candidate ------------------------------------------------------------------


def _cand(node: str, *victims: tuple[int, str | None], pdb: int = 0) -> Candidate:
    pods = tuple(
        make_pod(f"{node}-v{i}", priority=prio, start=start)
        for i, (prio, start) in enumerate(victims)
    )
    return Candidate(node, pods, pdb)


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        pytest.param(
            [_cand("a", (1, T0), pdb=1), _cand("b", (100, T0), (100, T0))],
            "b",
            id="fewest-pdb-violations",
        ),
        pytest.param(
            [_cand("a", (10, T0)), _cand("b", (5, T0), (5, T0), (5, T0))],
            "b",
            id="lowest-highest-priority",
        ),
        pytest.param(
            [_cand("a", (10, T0), (9, T0)), _cand("b", (10, T0), (1, T0))],
            "b",
            id="smallest-priority-sum",
        ),
        pytest.param(
            [_cand("a", (-5, T0), (-5, T0)), _cand("b", (-5, T0))],
            "b",
            id="negative-priorities-count-as-more",
        ),
        pytest.param(
            [_cand("a", (10, T0), (0, T0)), _cand("b", (10, T0))],
            "b",
            id="fewer-victims-smaller-offset-sum",
        ),
        pytest.param(
            [_cand("a", (10, T0), (1, T2)), _cand("b", (10, T1), (1, T0))],
            "b",
            id="latest-start-of-top-victims",
        ),
        pytest.param(
            [_cand("a", (10, T1)), _cand("b", (10, T1))],
            "a",
            id="tie-first",
        ),
        pytest.param([_cand("only", (1, None))], "only", id="single"),
    ],
)
def test_pick_one_node_for_preemption(candidates: list[Candidate], expected: str) -> None:
    best = pick_one_node_for_preemption(candidates)
    assert best is not None and best.node_name == expected


def test_pick_one_node_for_no_candidates() -> None:
    assert pick_one_node_for_preemption([]) is None


def test_start_time_falls_back_to_creation_timestamp() -> None:
    started = make_pod("s", start=T1)
    created = make_pod("c")
    created.pod.metadata.creation_timestamp = T0
    unknown = make_pod("u")
    assert start_time_ns(created) < start_time_ns(started) < start_time_ns(unknown)
    assert start_time_ns(created) == 1_704_067_200 * 10**9


# -- eligibility ------------------------------------------------------------------------------


def _terminating(p: PodInfo, by_preemption: bool = True) -> PodInfo:
    p.pod.metadata.deletion_timestamp = T1
    if by_preemption:
        dp._set_disruption_target(p, "test")
    return p


@pytest.mark.parametrize(
    ("preemptor", "bound", "nominated_status", "eligible", "msg"),
    [
        pytest.param(
            make_pod("p", priority=10, preemptionPolicy="Never"),
            [],
            None,
            False,
            dp.ERR_PREEMPTION_POLICY_NEVER,
            id="policy-never",
        ),
        pytest.param(
            make_pod("p", priority=10, preemptionPolicy="PreemptLowerPriority"),
            [],
            None,
            True,
            "",
            id="policy-lower-priority",
        ),
        pytest.param(
            make_pod("p", priority=10, nominated="n1"),
            [_terminating(make_pod("v", priority=1, node="n1"))],
            Status.unschedulable("Insufficient cpu"),
            False,
            dp.ERR_TERMINATING_ON_NOMINATED,
            id="victim-still-terminating",
        ),
        pytest.param(
            make_pod("p", priority=10, nominated="n1"),
            [_terminating(make_pod("v", priority=1, node="n1"))],
            Status.unresolvable("node(s) had untolerated taint"),
            True,
            "",
            id="nominated-node-now-unresolvable",
        ),
        pytest.param(
            make_pod("p", priority=10, nominated="n1"),
            [_terminating(make_pod("v", priority=10, node="n1"))],
            None,
            True,
            "",
            id="terminating-pod-not-lower-priority",
        ),
        pytest.param(
            make_pod("p", priority=10, nominated="n1"),
            [_terminating(make_pod("v", priority=1, node="n1"), by_preemption=False)],
            None,
            True,
            "",
            id="terminating-not-by-preemption",
        ),
        pytest.param(
            make_pod("p", priority=10, nominated="n2"),
            [_terminating(make_pod("v", priority=1, node="n1"))],
            None,
            True,
            "",
            id="terminating-on-another-node",
        ),
    ],
)
def test_pod_eligible_to_preempt_others(
    preemptor: PodInfo,
    bound: list[PodInfo],
    nominated_status: Status | None,
    eligible: bool,
    msg: str,
) -> None:
    env = build([make_node("n1"), make_node("n2")], bound)
    assert env.plugin.pod_eligible_to_preempt_others(preemptor, nominated_status) == (
        eligible,
        msg,
    )


# -- which nodes are tried ---------------------------------------------------------------


def test_potential_nodes_skip_unresolvable_in_both_forms() -> None:
    nodes = [
        make_node("busy", cpu="2"),
        make_node("cordoned", cpu="8", unschedulable=True),
        make_node("tiny", cpu="1"),
        make_node("busy2", cpu="2"),
    ]
    bound = [make_pod("b1", cpu="2", node="busy"), make_pod("b2", cpu="2", node="busy2")]
    env = build(nodes, bound)
    pod = make_pod("p", cpu="2", priority=10)
    vec = potential_nodes(env.snapshot, env.statuses(CycleState(), pod, vectorised=True))
    per = potential_nodes(env.snapshot, env.statuses(CycleState(), pod, vectorised=False))
    assert [n.name for n in vec] == [n.name for n in per] == ["busy", "busy2"]


def test_potential_nodes_read_absent_status() -> None:
    env = build([make_node("a"), make_node("b")], [])
    assert potential_nodes(env.snapshot, NodeToStatus(Status.unschedulable("x"))) == list(
        env.snapshot.nodes
    )
    assert potential_nodes(env.snapshot, NodeToStatus(Status.unresolvable("x"))) == []


@pytest.mark.parametrize(
    ("absent", "named", "expected"),
    [
        (None, {}, ["b"]),
        (Status.unschedulable("x"), {}, ["a", "b", "d"]),
        (Status.unresolvable("x"), {}, ["b"]),
        (Status.unschedulable("x"), {"d": Status.unresolvable("y")}, ["a", "b"]),
        (None, {"c": Status.unschedulable("y")}, ["b", "c"]),
    ],
)
def test_potential_nodes_read_row_codes_then_the_absent_then_the_named_statuses(
    absent: Status | None, named: dict[str, Status], expected: list[str]
) -> None:
    env = build([make_node(n) for n in "abcd"], [])
    codes = np.asarray([0, Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, 0], np.uint8)
    statuses = NodeToStatus.from_arrays(env.snapshot.index, codes, lambda _: None, absent)
    for name, status in named.items():
        statuses.set(name, status)
    assert [n.name for n in potential_nodes(env.snapshot, statuses)] == expected


# -- victims on one node --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_cpu", "pod_cpu", "bound", "pdbs", "victims", "violations"),
    [
        pytest.param(
            "3",
            "2",
            [make_pod("lo", priority=1, node="n"), make_pod("mid", priority=5, node="n")],
            (),
            ["lo"],
            0,
            id="lowest-priority-goes",
        ),
        pytest.param(
            "3",
            "2",
            [
                make_pod("old", priority=1, node="n", start=T0),
                make_pod("new", priority=1, node="n", start=T1),
            ],
            (),
            ["new"],
            0,
            id="equal-priority-newest-goes",
        ),
        pytest.param(
            "4",
            "2",
            [
                make_pod("big", cpu="2", priority=2, node="n"),
                make_pod("lo1", priority=1, node="n", start=T0),
                make_pod("lo2", priority=1, node="n", start=T1),
            ],
            (),
            ["lo1", "lo2"],
            0,
            id="higher-priority-reprieved-even-if-more-victims",
        ),
        pytest.param(
            "3",
            "2",
            [
                make_pod("web", priority=1, node="n", labels={"app": "web"}),
                make_pod("batch", priority=5, node="n"),
            ],
            (make_pdb("web", {"app": "web"}, 0),),
            ["batch"],
            0,
            id="pdb-protected-reprieved-first",
        ),
        pytest.param(
            "3",
            "2",
            [
                make_pod("web", cpu="2", priority=1, node="n", labels={"app": "web"}),
                make_pod("batch", priority=5, node="n"),
            ],
            (make_pdb("web", {"app": "web"}, 0),),
            ["web"],
            1,
            id="pdb-violation-when-unavoidable",
        ),
        pytest.param(
            "6",
            "4",
            [
                make_pod("web", cpu="3", priority=1, node="n", labels={"app": "web"}),
                make_pod("a", cpu="2", priority=3, node="n"),
                make_pod("b", priority=2, node="n"),
            ],
            (make_pdb("web", {"app": "web"}, 0),),
            ["b", "web"],
            1,
            id="victims-sorted-by-importance",
        ),
    ],
)
def test_select_victims_on_node(
    node_cpu: str,
    pod_cpu: str,
    bound: list[PodInfo],
    pdbs: tuple[PodDisruptionBudget, ...],
    victims: list[str],
    violations: int,
) -> None:
    env = build([make_node("n", cpu=node_cpu)], bound, pdbs)
    pod = make_pod("p", cpu=pod_cpu, priority=10)
    state = CycleState()
    env.fwk.run_pre_filter(state, pod)
    assert env.fwk.run_filters_on_node(state, pod, env.snapshot["n"]) is not None
    before = snapshot_view(env.snapshot)
    got, num, status = select_victims_on_node(env.fwk, state.clone(), pod, env.snapshot["n"], pdbs)
    assert status is None
    assert ([p.name for p in got], num) == (victims, violations)
    assert snapshot_view(env.snapshot) == before


def test_select_victims_none_lower_priority() -> None:
    env = build([make_node("n", cpu="2")], [make_pod("same", cpu="2", priority=10, node="n")])
    pod = make_pod("p", cpu="2", priority=10)
    victims, _, status = select_victims_on_node(env.fwk, CycleState(), pod, env.snapshot["n"], ())
    assert victims == []
    assert status == Status.unresolvable("No preemption victims found for incoming pod")


def test_select_victims_uses_pre_filter_extensions_on_a_clone() -> None:
    excl = Exclusive()
    bound = [
        make_pod("e-lo", cpu="1", priority=1, node="n", labels={"exclusive": ""}),
        make_pod("plain", cpu="1", priority=1, node="n"),
    ]
    env = build([make_node("n", cpu="8")], bound, extra=(excl,))
    pod = make_pod("p", cpu="1", priority=10, labels={"exclusive": ""})
    state = CycleState()
    env.fwk.run_pre_filter(state, pod)
    clone = state.clone()
    victims, _, status = select_victims_on_node(env.fwk, clone, pod, env.snapshot["n"], ())
    assert status is None and [v.name for v in victims] == ["e-lo"]
    assert state.read("Exclusive").counts == {"n": 1}, "the caller's state is untouched"


def test_select_victims_restores_snapshot_when_a_filter_raises() -> None:
    boom = Exploding()
    bound = [make_pod(f"v{i}", cpu="1", priority=1, node="n", host_port=8000 + i) for i in range(3)]
    env = build([make_node("n", cpu="3")], bound, extra=(boom,))
    pod = make_pod("p", cpu="2", priority=10)
    before = snapshot_view(env.snapshot)
    boom.armed = True
    with pytest.raises(RuntimeError, match="boom"):
        select_victims_on_node(env.fwk, CycleState(), pod, env.snapshot["n"], ())
    assert snapshot_view(env.snapshot) == before


# -- PostFilter ------------------------------------------------------------------------------


@pytest.mark.parametrize("vectorised", [True, False], ids=["array-statuses", "per-node-statuses"])
def test_preempts_minimal_victims_on_cheapest_node(vectorised: bool) -> None:
    nodes = [make_node("n1", cpu="4"), make_node("n2", cpu="4"), make_node("n3", cpu="4")]
    bound = [
        # n1: evicting the priority-5 pod suffices, but n2's victims are cheaper.
        make_pod("n1-a", cpu="2", priority=5, node="n1"),
        make_pod("n1-b", cpu="2", priority=50, node="n1"),
        # n2: two priority-1 pods must go; the priority-3 one is reprieved.
        make_pod("n2-a", cpu="1", priority=1, node="n2"),
        make_pod("n2-b", cpu="1", priority=1, node="n2"),
        make_pod("n2-c", cpu="2", priority=3, node="n2"),
        # n3: only equal-priority pods, never victims.
        make_pod("n3-a", cpu="4", priority=100, node="n3"),
    ]
    env = build(nodes, bound)
    pod = make_pod("p", cpu="2", priority=100)
    result, status = env.preempt(pod, vectorised)
    assert status == Status(Code.SUCCESS)
    # Fewest-victims loses to lowest-highest-priority (1 < 5): n2 wins with two victims.
    assert result.nominated_node_name == "n2"
    assert sorted(v.name for v in result.victims) == ["n2-a", "n2-b"]
    assert sorted(env.client.deleted) == ["default/n2-a", "default/n2-b"]
    assert "n3-a" in {p.name for p in env.snapshot["n3"].pods.values()}
    for key in env.client.deleted:
        victim = next(p for p in bound if p.key == key)
        cond = victim.pod.status.conditions[-1]
        assert (cond.type, cond.reason) == ("DisruptionTarget", "PreemptionByScheduler")


def test_array_and_per_node_statuses_agree() -> None:
    def run(vectorised: bool) -> tuple[str, list[str]]:
        nodes = [make_node(f"n{i}", cpu="4") for i in range(6)]
        bound = [
            make_pod(f"n{i}-{j}", cpu="2", priority=(i * 7 + j * 3) % 10, node=f"n{i}")
            for i in range(6)
            for j in range(2)
        ]
        env = build(nodes, bound, seed=3)
        result, status = env.preempt(make_pod("p", cpu="3", priority=8), vectorised)
        assert status == Status(Code.SUCCESS)
        return result.nominated_node_name, sorted(v.name for v in result.victims)

    assert run(True) == run(False)


def test_policy_never_does_not_preempt() -> None:
    env = build([make_node("n", cpu="2")], [make_pod("v", cpu="2", priority=0, node="n")])
    result, status = env.preempt(make_pod("p", cpu="2", priority=100, preemptionPolicy="Never"))
    assert result is None
    assert status == Status.unschedulable("preemption: not eligible due to preemptionPolicy=Never.")
    assert env.client.deleted == []


def test_equal_priority_pods_are_never_victims() -> None:
    nodes = [make_node("n1", cpu="2"), make_node("n2", cpu="2")]
    bound = [
        make_pod("a", cpu="2", priority=10, node="n1"),
        make_pod("b", cpu="2", priority=10, node="n2"),
    ]
    env = build(nodes, bound)
    result, status = env.preempt(make_pod("p", cpu="1", priority=10))
    assert result is None
    assert status == Status.unschedulable(
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    )
    assert env.client.deleted == []


def test_unresolvable_nodes_are_never_candidates() -> None:
    nodes = [
        make_node("cordoned", cpu="4", unschedulable=True),
        make_node("small", cpu="1"),
        make_node("busy", cpu="2"),
    ]
    bound = [
        make_pod("c", cpu="4", priority=0, node="cordoned"),
        make_pod("s", cpu="1", priority=0, node="small"),
        make_pod("b", cpu="2", priority=50, node="busy"),
    ]
    env = build(nodes, bound)
    result, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert status == Status(Code.SUCCESS)
    assert result.nominated_node_name == "busy"

    env = build(nodes[:2], bound[:2])
    result, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert result is None
    assert status == Status.unschedulable(
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_pdb_makes_the_other_node_preferred() -> None:
    nodes = [make_node("n1", cpu="2"), make_node("n2", cpu="2")]
    bound = [
        # n1's victim has the lower priority but a PDB with no budget left.
        make_pod("guarded", cpu="2", priority=1, node="n1", labels={"app": "db"}),
        make_pod("free", cpu="2", priority=5, node="n2", labels={"app": "web"}),
    ]
    pdb = make_pdb("db", {"app": "db"}, 0)
    env = build(nodes, bound, pdbs=(pdb,))
    result, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert status == Status(Code.SUCCESS)
    assert result.nominated_node_name == "n2"
    assert env.client.deleted == ["default/free"]
    # Without the PDB the lower-priority victim is chosen.
    env = build(
        nodes, [make_pod(p.name, cpu="2", priority=p.priority, node=p.node_name) for p in bound]
    )
    result, _ = env.preempt(make_pod("p", cpu="2", priority=100))
    assert result.nominated_node_name == "n1"


def test_stops_after_enough_candidates() -> None:
    nodes = [make_node(f"n{i}", cpu="1") for i in range(20)]
    bound = [make_pod(f"v{i}", cpu="1", priority=i, node=f"n{i}") for i in range(20)]
    env = build(
        nodes, bound, args={"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 1}
    )
    result, status = env.preempt(make_pod("p", cpu="1", priority=100))
    assert status == Status(Code.SUCCESS)
    # One candidate is enough: the first node tried, at the random offset, wins.
    first = int(np.random.default_rng(0).integers(20))
    assert result.nominated_node_name == f"n{first}"
    assert env.client.deleted == [f"default/v{first}"]


def test_clears_lower_priority_nominations_on_the_node() -> None:
    env = build([make_node("n", cpu="2")], [make_pod("v", cpu="2", priority=0, node="n")])
    low = make_pod("low", cpu="1", priority=5, nominated="n")
    high = make_pod("high", cpu="1", priority=200, nominated="other")
    env.nominator.add_nominated_pod(low, "n")
    env.nominator.add_nominated_pod(high, "other")
    result, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert status == Status(Code.SUCCESS) and result.nominated_node_name == "n"
    assert env.client.nominations == {"default/low": ""}
    assert env.nominator.nominated_pods_for_node("n") == []
    assert low.pod.status.nominated_node_name is None


def test_waiting_victim_is_rejected_not_deleted() -> None:
    victim = make_pod("v", cpu="2", priority=0, node="n")
    env = build([make_node("n", cpu="2")], [victim])
    wp = WaitingPod(victim, "n", pending={"Gate": 100.0})
    env.fwk.handle.waiting_pods.add(wp)
    _, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert status == Status(Code.SUCCESS)
    assert env.client.deleted == []
    assert wp.decided and wp.outcome is not None and wp.outcome.plugin == names.DEFAULT_PREEMPTION


def test_nominated_higher_priority_pod_keeps_its_room() -> None:
    # n1 was freed for a nominated priority-200 pod; preempting there would not help.
    nodes = [make_node("n1", cpu="2"), make_node("n2", cpu="2")]
    bound = [
        make_pod("a", cpu="2", priority=1, node="n1"),
        make_pod("b", cpu="2", priority=2, node="n2"),
    ]
    env = build(nodes, bound)
    env.nominator.add_nominated_pod(make_pod("big", cpu="2", priority=200), "n1")
    result, status = env.preempt(make_pod("p", cpu="2", priority=100))
    assert status == Status(Code.SUCCESS)
    assert result.nominated_node_name == "n2"


# -- filter_with_nominated_pods -------------------------------------------------------------


@pytest.mark.parametrize(
    ("nominated_priority", "fits"),
    [
        pytest.param(None, True, id="no-nominated-pods"),
        pytest.param(5, True, id="lower-priority-nominated-ignored"),
        pytest.param(10, False, id="equal-priority-nominated-counted"),
        pytest.param(50, False, id="higher-priority-nominated-counted"),
    ],
)
def test_filter_with_nominated_pods(nominated_priority: int | None, fits: bool) -> None:
    env = build([make_node("n", cpu="2")], [make_pod("r", cpu="1", priority=0, node="n")])
    if nominated_priority is not None:
        env.nominator.add_nominated_pod(make_pod("nom", cpu="1", priority=nominated_priority), "n")
    pod = make_pod("p", cpu="1", priority=10)
    state = CycleState()
    env.fwk.run_pre_filter(state, pod)
    before = snapshot_view(env.snapshot)
    status = filter_with_nominated_pods(env.fwk, state, pod, env.snapshot["n"])
    assert (status is None) is fits
    if not fits:
        assert status is not None and status.reasons == ("Insufficient cpu",)
    assert snapshot_view(env.snapshot) == before


def test_filter_with_nominated_pods_updates_a_cloned_state() -> None:
    excl = Exclusive()
    env = build([make_node("n", cpu="8")], [], extra=(excl,))
    env.nominator.add_nominated_pod(make_pod("nom", priority=50, labels={"exclusive": ""}), "n")
    pod = make_pod("p", priority=10, labels={"exclusive": ""})
    state = CycleState()
    env.fwk.run_pre_filter(state, pod)
    status = filter_with_nominated_pods(env.fwk, state, pod, env.snapshot["n"])
    assert status is not None and status.plugin == "Exclusive"
    assert state.read("Exclusive").counts == {"n": 0}


def test_filter_with_nominated_pods_skips_itself_and_assumed_pods() -> None:
    env = build([make_node("n", cpu="2")], [])
    pod = make_pod("p", cpu="1", priority=10)
    env.nominator.add_nominated_pod(pod, "n")
    assumed = make_pod("assumed", cpu="1", priority=50)
    env.nominator.add_nominated_pod(assumed, "n")
    env.snapshot.add_pod(assumed, "n")  # assumed at Permit, still nominated
    assert filter_with_nominated_pods(env.fwk, CycleState(), pod, env.snapshot["n"]) is None


# -- end to end, through the Scheduler --------------------------------------------------------


def _registry() -> Registry:
    """The in-tree plugins that exist, so these tests run the default profile as far as it goes."""
    registry = Registry()
    for module in IN_TREE_MODULES:
        try:
            registry.register(PluginSpec.from_module(importlib.import_module(module)))
        except ModuleNotFoundError:
            continue
    return registry


def make_scheduler(
    pdbs: tuple[PodDisruptionBudget, ...] = (), pop_from_backoff: bool = True
) -> tuple[Scheduler, SimClock]:
    registry = _registry()
    missing = tuple(Plugin(name=n) for n, _ in DEFAULT_MULTI_POINT if n not in registry)
    profile = KubeSchedulerProfile(plugins=Plugins(multi_point=PluginSet(disabled=missing)))
    clock = SimClock()
    sched = Scheduler(
        KubeSchedulerConfiguration(profiles=(profile,)),
        registry=registry,
        clock=clock,
        feature_gates={POP_FROM_BACKOFF_Q: pop_from_backoff},
    )
    assert isinstance(sched.client, LocalClient)
    sched.client.pdb_list.extend(pdbs)
    return sched, clock


def _run_until_settled(sched: Scheduler, clock: SimClock) -> list[ScheduleResult]:
    """Schedule, jumping the clock over backoffs, until nothing is left to try."""
    results = sched.run()
    for _ in range(10):
        wake = sched.next_wakeup()
        if wake is None or not sched.queue.pending_pods().get("backoff"):
            break
        clock.set(max(wake, clock.now()))
        results += sched.run()
    return results


def _pod(name: str, cpu: str, priority: int, node: str = "", **kw: Any) -> Pod:
    return make_pod(name, cpu=cpu, priority=priority, node=node, **kw).pod


def _two_full_nodes_and_a_preemptor(
    pop_from_backoff: bool,
) -> tuple[Scheduler, SimClock, PodInfo]:
    """n1 holds pods of priority 5 and 50, n2 of 1 and 3; ``high`` (100) needs one's room."""
    sched, clock = make_scheduler(pop_from_backoff=pop_from_backoff)
    sched.add_nodes([make_node("n1", cpu="4"), make_node("n2", cpu="4")])
    for pod in (
        _pod("n1-a", "2", 5, "n1"),
        _pod("n1-b", "2", 50, "n1"),
        _pod("n2-a", "2", 1, "n2"),
        _pod("n2-b", "2", 3, "n2"),
    ):
        sched.add_pod(pod)
    return sched, clock, sched.add_pod(_pod("high", "2", 100))


def test_e2e_preempts_then_binds_to_nominated_node() -> None:
    sched, clock, high = _two_full_nodes_and_a_preemptor(pop_from_backoff=False)
    first = sched.run()
    assert [r.nominated_node for r in first] == ["n2"]
    assert high.pod.status.nominated_node_name == "n2"
    assert sched.nominator.nominated_pods_for_node("n2") == [high]
    assert cast(LocalClient, sched.client).evicted == ["default/n2-a"]
    assert sched.metrics.preemption_victims == 1
    _run_until_settled(sched, clock)
    assert sched.bound[high.key] == "n2"
    assert sched.nominator.nominated_pods_for_node("n2") == []
    assert "default/n2-b" in sched.bound


def test_e2e_with_pop_from_backoff_binds_in_the_same_run() -> None:
    """The victim's deletion sends the preemptor to backoffQ; an idle queue pops it at once."""
    sched, _, high = _two_full_nodes_and_a_preemptor(pop_from_backoff=True)
    failed, bound = sched.run()
    assert failed.nominated_node == "n2" and not failed.scheduled
    assert bound.scheduled and bound.node == "n2" and sched.bound[high.key] == "n2"
    assert cast(LocalClient, sched.client).evicted == ["default/n2-a"]
    assert sched.nominator.nominated_pods_for_node("n2") == []


def test_e2e_policy_never_and_equal_priority_never_preempt() -> None:
    sched, clock = make_scheduler()
    sched.add_nodes([make_node("n1", cpu="2"), make_node("n2", cpu="2")])
    sched.add_pod(_pod("low", "2", 0, "n1"))
    sched.add_pod(_pod("peer", "2", 10, "n2"))
    never = sched.add_pod(_pod("never", "2", 100, preemptionPolicy="Never"))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == []
    assert "preemption: not eligible due to preemptionPolicy=Never." in sched.failures[never.key]
    assert never.key not in sched.bound

    sched, clock = make_scheduler()
    sched.add_nodes([make_node("n1", cpu="2"), make_node("n2", cpu="2")])
    sched.add_pod(_pod("a", "2", 10, "n1"))
    sched.add_pod(_pod("b", "2", 10, "n2"))
    peer = sched.add_pod(_pod("peer", "1", 10))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == []
    assert (
        "preemption: 0/2 nodes are available: 2 No preemption victims found"
        in (sched.failures[peer.key])
    )


def test_e2e_pdb_steers_preemption_to_the_other_node() -> None:
    sched, clock = make_scheduler(pdbs=(make_pdb("db", {"app": "db"}, 0),))
    sched.add_nodes([make_node("n1", cpu="2"), make_node("n2", cpu="2")])
    sched.add_pod(_pod("db", "2", 1, "n1", labels={"app": "db"}))
    sched.add_pod(_pod("web", "2", 5, "n2", labels={"app": "web"}))
    high = sched.add_pod(_pod("high", "2", 100))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == ["default/web"]
    assert sched.bound[high.key] == "n2"


@pytest.mark.parametrize(
    ("blocked", "spec", "plugin"),
    [
        pytest.param({"unschedulable": True}, {}, names.NODE_UNSCHEDULABLE, id="cordoned"),
        pytest.param(
            {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
            {},
            names.TAINT_TOLERATION,
            id="taint",
        ),
        pytest.param(
            {"labels": {"disk": "hdd"}},
            {
                "affinity": {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "disk", "operator": "NotIn", "values": ["hdd"]}
                                    ]
                                }
                            ]
                        }
                    }
                }
            },
            names.NODE_AFFINITY,
            id="node-affinity",
        ),
    ],
)
def test_e2e_unresolvable_nodes_are_never_candidates(
    blocked: dict[str, Any], spec: dict[str, Any], plugin: str
) -> None:
    sched, clock = make_scheduler()
    if plugin not in sched.registry:
        pytest.skip(f"{plugin} is not in the registry yet")
    sched.add_nodes([make_node("blocked", cpu="4", **blocked), make_node("open", cpu="2")])
    # The blocked node's victim would be the cheaper one, if the node could help at all.
    sched.add_pod(_pod("cheap", "4", 0, "blocked"))
    sched.add_pod(_pod("pricey", "2", 50, "open"))
    high = sched.add_pod(_pod("high", "2", 100, **spec))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == ["default/pricey"]
    assert sched.bound[high.key] == "open"

    # Alone, the blocked node is not even tried.
    sched, clock = make_scheduler()
    sched.add_nodes([make_node("blocked", cpu="4", **blocked)])
    sched.add_pod(_pod("cheap", "4", 0, "blocked"))
    high = sched.add_pod(_pod("high", "2", 100, **spec))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == []
    assert (
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        in sched.failures[high.key]
    )


def test_e2e_anti_affinity_victim_found_through_pre_filter_extensions() -> None:
    sched, clock = make_scheduler()
    if names.INTER_POD_AFFINITY not in sched.registry:
        pytest.skip("InterPodAffinity is not in the registry yet")
    sched.add_nodes([make_node("n1", cpu="8"), make_node("n2", cpu="8")])
    sched.add_pod(_pod("web1", "1", 1, "n1", labels={"app": "web"}))
    sched.add_pod(_pod("web2", "1", 50, "n2", labels={"app": "web"}))
    term = {
        "labelSelector": {"matchLabels": {"app": "web"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    high = sched.add_pod(_pod("high", "1", 100, affinity=anti))
    _run_until_settled(sched, clock)
    assert cast(LocalClient, sched.client).evicted == ["default/web1"]
    assert sched.bound[high.key] == "n1"


def test_passes_the_plugin_contract() -> None:
    check_plugin(dp)
