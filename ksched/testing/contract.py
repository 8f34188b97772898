"""The plugin contract as executable checks (in the spirit of scikit-learn's ``check_estimator``).

``check_plugin(plugin)`` runs every check that applies to the extension
points the plugin implements, against small clusters of real Kubernetes
objects, and raises ``AssertionError`` naming the check, the scenario, the
pod and the node.  ``parametrize_with_checks`` turns the same checks into
pytest cases, so a third-party package tests its plugin with two lines.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, get_type_hints

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from ksched.api.pod import Pod
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE, implemented_points
from ksched.framework.pod_info import PodInfo
from ksched.framework.queued_pod import QueuedPodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeSet
from ksched.framework.status import Code, Status
from ksched.testing.scenarios import Scenario, default_scenarios


@dataclass(frozen=True, slots=True)
class PluginUnderTest:
    """How to build fresh instances of the plugin: its factory and (validated) args."""

    name: str
    factory: Callable[[Any, Any], Any]
    args: BaseModel | None = None

    def build(self, snapshot: ClusterSnapshot, seed: int = 0) -> Any:
        handle = Handle(snapshot=snapshot, clock=SimClock(), rng=np.random.default_rng(seed))
        return self.factory(self.args, handle)

    def plugin_class(self) -> type:
        return type(self.build(ClusterSnapshot()))


def as_plugin(plugin: Any, args: BaseModel | dict[str, Any] | None = None) -> PluginUnderTest:
    """A module (``NAME``/``new``/``Args``), a module path, a PluginSpec or a PluginUnderTest."""
    if isinstance(plugin, PluginUnderTest):
        return plugin
    if isinstance(plugin, str):
        plugin = importlib.import_module(plugin)
    if isinstance(plugin, ModuleType):
        name, factory, args_type = plugin.NAME, plugin.new, getattr(plugin, "Args", None)
    else:
        name, factory, args_type = plugin.name, plugin.factory, plugin.args_type
    if isinstance(args, dict):
        if args_type is None:
            raise TypeError(f"plugin {name} takes no args")
        args = args_type.model_validate(args)
    elif args is None and args_type is not None:
        args = args_type()
    assert args is None or isinstance(args, BaseModel)
    return PluginUnderTest(name, factory, args)


Check = Callable[[PluginUnderTest, Scenario], None]


def _codes(plugin: Any, state: CycleState, pod: PodInfo, snap: ClusterSnapshot) -> list[int]:
    """Per-node Filter codes through the per-node form when present, else the vectorised one."""
    if hasattr(plugin, "filter"):
        return [_code(plugin.filter(state, pod, info)) for info in snap.nodes]
    return _vector_codes(plugin, state, pod, snap)


def _vector_codes(plugin: Any, state: CycleState, pod: PodInfo, snap: ClusterSnapshot) -> list[int]:
    out = np.asarray(plugin.filter_nodes(state, pod, snap.all_nodes()))
    if out.dtype == np.bool_:
        return [0 if ok else int(Code.UNSCHEDULABLE) for ok in out.tolist()]
    return [int(c) for c in out.tolist()]


def _code(status: Status | None) -> int:
    return 0 if status is None else int(status.code)


def _pre_filter(plugin: Any, state: CycleState, pod: PodInfo, snap: ClusterSnapshot) -> bool:
    """Run PreFilter if the plugin has one; False when it asks to skip or rejects the pod."""
    if not hasattr(plugin, "pre_filter"):
        return True
    _, status = plugin.pre_filter(state, pod, snap.all_nodes())
    return status is None or status.code == Code.SUCCESS


def _raw_scores(
    plugin: Any, state: CycleState, pod: PodInfo, nodes: NodeSet, vector: bool
) -> NDArray[np.int64]:
    if vector:
        return np.array(plugin.score_nodes(state, pod, nodes), dtype=np.int64)
    return np.array([plugin.score(state, pod, info) for info in nodes.infos], dtype=np.int64)


def _prepared_score_state(
    plugin: Any, pod: PodInfo, snap: ClusterSnapshot
) -> tuple[CycleState, NodeSet] | None:
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        plugin.pre_filter(state, pod, snap.all_nodes())
    nodes = snap.all_nodes()
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, pod, nodes)
        if status is not None and status.code != Code.SUCCESS:
            return None
    return state, nodes


def check_has_name_and_points(put: PluginUnderTest, scenario: Scenario) -> None:
    plugin = put.build(scenario.snapshot())
    assert isinstance(plugin.name, str) and plugin.name, "plugin.name must be a non-empty string"
    assert plugin.name == put.name, (
        f"plugin.name {plugin.name!r} differs from its NAME {put.name!r}"
    )
    assert implemented_points(plugin), f"{put.name} implements no extension point"


def check_filter_forms_agree(put: PluginUnderTest, scenario: Scenario) -> None:
    """The vectorised Filter must give every node the per-node form's code."""
    snap = scenario.snapshot()
    plugin = put.build(snap)
    if not (hasattr(plugin, "filter") and hasattr(plugin, "filter_nodes")):
        return
    for pod in scenario.pods():
        state = CycleState()
        if not _pre_filter(plugin, state, pod, snap):
            continue
        scalar = _codes(plugin, state, pod, snap)
        vector = _vector_codes(plugin, state, pod, snap)
        for info, a, b in zip(snap.nodes, scalar, vector, strict=True):
            assert a == b or (a != 0 and b != 0 and _bool_only(plugin)), (
                f"{put.name}: filter and filter_nodes disagree for pod {pod.key} on node "
                f"{info.name}: {Code(a)!s} vs {Code(b)!s} (scenario {scenario.name})"
            )


def _bool_only(plugin: Any) -> bool:
    return bool(getattr(plugin, "filter_nodes_returns_bool", False))


def check_score_forms_agree(put: PluginUnderTest, scenario: Scenario) -> None:
    """The vectorised Score must equal the per-node Score on every node."""
    snap = scenario.snapshot()
    plugin = put.build(snap)
    if not (hasattr(plugin, "score") and hasattr(plugin, "score_nodes")):
        return
    for pod in scenario.pods():
        prepared = _prepared_score_state(plugin, pod, snap)
        if prepared is None or snap.n == 0:
            continue
        state, nodes = prepared
        a = _raw_scores(plugin, state, pod, nodes, vector=False)
        b = _raw_scores(plugin, state, pod, nodes, vector=True)
        bad = np.flatnonzero(a != b)
        assert not len(bad), (
            f"{put.name}: score and score_nodes disagree for pod {pod.key} on node "
            f"{snap.nodes[int(bad[0])].name}: {a[bad[0]]} vs {b[bad[0]]} (scenario {scenario.name})"
        )


def check_scores_in_range(put: PluginUnderTest, scenario: Scenario) -> None:
    """After NormalizeScore every score lies in [0, 100]."""
    snap = scenario.snapshot()
    plugin = put.build(snap)
    if not (hasattr(plugin, "score") or hasattr(plugin, "score_nodes")):
        return
    for pod in scenario.pods():
        prepared = _prepared_score_state(plugin, pod, snap)
        if prepared is None or snap.n == 0:
            continue
        state, nodes = prepared
        scores = _raw_scores(plugin, state, pod, nodes, vector=hasattr(plugin, "score_nodes"))
        if hasattr(plugin, "normalize_score"):
            status = plugin.normalize_score(state, pod, scores)
            assert status is None or status.code == Code.SUCCESS, (
                f"normalize_score failed: {status}"
            )
        assert scores.dtype == np.int64
        assert ((scores >= MIN_NODE_SCORE) & (scores <= MAX_NODE_SCORE)).all(), (
            f"{put.name}: scores {scores.tolist()} for pod {pod.key} leave [0, 100] after "
            f"normalisation (scenario {scenario.name})"
        )


def _dump(snap: ClusterSnapshot, pods: Sequence[PodInfo]) -> Any:
    return (
        [info.node.model_dump() for info in snap.nodes],
        [p.pod.model_dump() for info in snap.nodes for p in info.pods.values()],
        [p.pod.model_dump() for p in pods],
        snap.requested.copy(),
        snap.allocatable.copy(),
    )


def _run_all(plugin: Any, pod: PodInfo, snap: ClusterSnapshot) -> list[Any]:
    """Every read-only extension point on every node; returns what the plugin answered."""
    out: list[Any] = []
    state = CycleState()
    nodes = snap.all_nodes()
    if hasattr(plugin, "pre_enqueue"):
        out.append(_code(plugin.pre_enqueue(pod)))
    if hasattr(plugin, "pre_filter"):
        result, status = plugin.pre_filter(state, pod, nodes)
        out.append((_code(status), None if result is None else result.node_names))
        if status is not None and status.code != Code.SUCCESS:
            state.skip_filter_plugins.add(plugin.name)
    if (hasattr(plugin, "filter") or hasattr(plugin, "filter_nodes")) and (
        plugin.name not in state.skip_filter_plugins
    ):
        out.append(_codes(plugin, state, pod, snap))
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, pod, nodes)
        out.append(_code(status))
        if status is not None:
            return out
    if snap.n and (hasattr(plugin, "score") or hasattr(plugin, "score_nodes")):
        scores = _raw_scores(plugin, state, pod, nodes, vector=hasattr(plugin, "score_nodes"))
        if hasattr(plugin, "normalize_score"):
            plugin.normalize_score(state, pod, scores)
        out.append(scores.tolist())
    return out


def check_no_mutation(put: PluginUnderTest, scenario: Scenario) -> None:
    """Filter and Score must not change pods, nodes or the snapshot's accounting."""
    snap = scenario.snapshot()
    pods = scenario.pods()
    plugin = put.build(snap)
    before = _dump(snap, pods)
    for pod in pods:
        _run_all(plugin, pod, snap)
    after = _dump(snap, pods)
    for what, a, b in zip(
        ("nodes", "bound pods", "incoming pods"), before[:3], after[:3], strict=True
    ):
        assert a == b, f"{put.name} mutated the {what} (scenario {scenario.name})"
    assert np.array_equal(before[3], after[3]) and np.array_equal(before[4], after[4]), (
        f"{put.name} mutated the snapshot's resource arrays (scenario {scenario.name})"
    )


def check_deterministic(put: PluginUnderTest, scenario: Scenario) -> None:
    """Two fresh instances on the same state answer the same."""
    for pod_index in range(len(scenario.incoming)):
        answers = []
        for _ in range(2):
            snap = scenario.snapshot()
            plugin = put.build(snap, seed=7)
            answers.append(_run_all(plugin, scenario.pods()[pod_index], snap))
        assert answers[0] == answers[1], (
            f"{put.name} is not deterministic for pod "
            f"{scenario.incoming[pod_index]['metadata']['name']}"
            f" (scenario {scenario.name}): {answers[0]} vs {answers[1]}"
        )


# An annotation no plugin declares: its presence must change no ``node_local`` plugin's answer.
PROBE_ANNOTATION = "contract.ksched.io/probe"


def check_undeclared_annotations_ignored(put: PluginUnderTest, scenario: Scenario) -> None:
    """A ``node_local`` plugin that declares ``pod_annotations`` answers the same for a pod
    whose other annotations are removed and a new one added: the equivalence cache shares its
    answers between such pods."""
    plugin = put.build(ClusterSnapshot())
    declared = getattr(plugin, "pod_annotations", None)
    if not getattr(plugin, "node_local", False) or declared is None:
        return
    for pod_index, doc in enumerate(scenario.incoming):
        variant = copy.deepcopy(doc)
        meta = variant["metadata"]
        notes = meta.get("annotations") or {}
        meta["annotations"] = {k: v for k, v in notes.items() if k in declared}
        meta["annotations"][PROBE_ANNOTATION] = "1"
        answers = []
        for pod in (scenario.pods()[pod_index], PodInfo.from_pod(Pod.model_validate(variant))):
            snap = scenario.snapshot()
            answers.append(_run_all(put.build(snap, seed=7), pod, snap))
        assert answers[0] == answers[1], (
            f"{put.name} declares pod_annotations {sorted(declared)} but answers differently for "
            f"pod {meta.get('name')} once its other annotations change (scenario "
            f"{scenario.name}): {answers[0]} vs {answers[1]}"
        )


def check_reserve_unreserve(put: PluginUnderTest, scenario: Scenario) -> None:
    """Reserve then Unreserve (twice: it must be idempotent) leaves no trace."""
    snap = scenario.snapshot()
    plugin = put.build(snap)
    if not hasattr(plugin, "reserve") or snap.n == 0:
        return
    pods = scenario.pods()
    baseline = [_run_all(plugin, p, snap) for p in pods]
    for pod in pods:
        for info in snap.nodes:
            state = CycleState()
            if hasattr(plugin, "pre_filter"):
                plugin.pre_filter(state, pod, snap.all_nodes())
            status = plugin.reserve(state, pod, info.name)
            assert status is None or isinstance(status, Status)
            plugin.unreserve(state, pod, info.name)
            plugin.unreserve(state, pod, info.name)
    again = [_run_all(plugin, p, snap) for p in pods]
    assert baseline == again, (
        f"{put.name}: reserve+unreserve changed later answers (scenario {scenario.name})"
    )


def check_permit_answers(put: PluginUnderTest, scenario: Scenario) -> None:
    snap = scenario.snapshot()
    plugin = put.build(snap)
    if not hasattr(plugin, "permit") or snap.n == 0:
        return
    for pod in scenario.pods():
        status, timeout = plugin.permit(CycleState(), pod, snap.nodes[0].name)
        assert status is None or status.code in (
            Code.SUCCESS,
            Code.WAIT,
            Code.UNSCHEDULABLE,
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            Code.ERROR,
        ), f"{put.name}: permit returned {status}"
        assert float(timeout) >= 0, f"{put.name}: negative permit timeout {timeout}"


def check_queue_sort_order(put: PluginUnderTest, scenario: Scenario) -> None:
    """``less`` is a strict weak order, and ``sort_key`` (if any) sorts the same way."""
    plugin = put.build(scenario.snapshot())
    if not hasattr(plugin, "less"):
        return
    queued = [QueuedPodInfo(p, timestamp=float(i % 3)) for i, p in enumerate(scenario.pods())]
    for a in queued:
        assert not plugin.less(a, a), f"{put.name}: less(a, a) must be False"
        for b in queued:
            assert not (plugin.less(a, b) and plugin.less(b, a)), (
                f"{put.name}: less is not asymmetric"
            )
    if hasattr(plugin, "sort_key"):
        for a in queued:
            for b in queued:
                assert plugin.less(a, b) == (plugin.sort_key(a) < plugin.sort_key(b)), (
                    f"{put.name}: sort_key disagrees with less for {a.key} vs {b.key}"
                )


CHECKS: tuple[Check, ...] = (
    check_has_name_and_points,
    check_filter_forms_agree,
    check_score_forms_agree,
    check_scores_in_range,
    check_no_mutation,
    check_deterministic,
    check_undeclared_annotations_ignored,
    check_reserve_unreserve,
    check_permit_answers,
    check_queue_sort_order,
)


def iter_checks(
    plugin: Any,
    args: BaseModel | dict[str, Any] | None = None,
    scenarios: Sequence[Scenario] | None = None,
) -> Iterator[tuple[PluginUnderTest, Scenario, Check]]:
    put = as_plugin(plugin, args)
    for scenario in scenarios or default_scenarios():
        for check in CHECKS:
            yield put, scenario, check


def check_plugin(
    plugin: Any,
    args: BaseModel | dict[str, Any] | None = None,
    scenarios: Sequence[Scenario] | None = None,
) -> None:
    """Run every applicable contract check; raises AssertionError on the first violation."""
    for put, scenario, check in iter_checks(plugin, args, scenarios):
        check(put, copy.deepcopy(scenario))


def parametrize_with_checks(plugins: Sequence[Any]) -> Any:
    """``@parametrize_with_checks([module, ...])`` over ``def test(plugin, scenario, check)``."""
    import pytest

    cases = []
    for plugin in plugins:
        for put, scenario, check in iter_checks(plugin):
            cases.append(
                pytest.param(
                    put, scenario, check, id=f"{put.name}-{scenario.name}-{check.__name__}"
                )
            )
    return pytest.mark.parametrize(("plugin", "scenario", "check"), cases)


def plugin_class_of(module: ModuleType) -> type:
    """The class a plugin module's ``new`` returns (from its annotation)."""
    return get_type_hints(module.new)["return"]  # type: ignore[no-any-return]
