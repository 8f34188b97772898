"""The contract checks catch each kind of broken plugin, and pass a correct one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Status
from ksched.testing import PluginUnderTest, check_plugin
from ksched.testing.contract import (
    check_deterministic,
    check_filter_forms_agree,
    check_no_mutation,
    check_reserve_unreserve,
    check_score_forms_agree,
    check_scores_in_range,
    check_undeclared_annotations_ignored,
)
from ksched.testing.scenarios import default_scenarios


class GoodScore:
    name = "GoodScore"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return node.index * 10 % 101

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return (nodes.indices * 10 % 101).astype(np.int64)


class DisagreeingScore(GoodScore):
    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return (nodes.indices * 10 % 101 + (nodes.indices == 2)).astype(np.int64)


class OutOfRangeScore(GoodScore):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 1000

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return np.full(len(nodes), 1000, dtype=np.int64)


class DisagreeingFilter:
    name = "DisagreeingFilter"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return Status.unschedulable("odd") if node.index % 2 else None

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.bool_]:
        return np.ones(len(nodes), dtype=bool)


class MutatingFilter:
    name = "MutatingFilter"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        node.labels["touched"] = "yes"
        return None


class RandomScore(GoodScore):
    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return int(self.rng.integers(0, 100))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return self.rng.integers(0, 100, len(nodes)).astype(np.int64)


class AnnotationReadingScore(GoodScore):
    """Says it reads no pod annotation, and scores by how many the pod has."""

    node_local = True
    pod_annotations: frozenset[str] = frozenset()

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return min(100, 10 * len(pod.pod.metadata.annotations))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return np.full(len(nodes), self.score(state, pod, nodes.infos[0]), dtype=np.int64)


class LeakyReserve:
    name = "LeakyReserve"

    def __init__(self) -> None:
        self.claimed: set[str] = set()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return Status.unschedulable("claimed") if node.name in self.claimed else None

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        self.claimed.add(node_name)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        pass


def _put(cls: type, name: str | None = None) -> PluginUnderTest:
    def factory(args: Any, handle: Any) -> Any:
        return cls()

    return PluginUnderTest(name or cls.name, factory)  # type: ignore[attr-defined]


MIXED = default_scenarios()[0]


@pytest.mark.parametrize(
    ("cls", "check", "message"),
    [
        pytest.param(DisagreeingScore, check_score_forms_agree, "disagree", id="score-forms"),
        pytest.param(OutOfRangeScore, check_scores_in_range, "leave [0, 100]", id="score-range"),
        pytest.param(DisagreeingFilter, check_filter_forms_agree, "disagree", id="filter-forms"),
        pytest.param(MutatingFilter, check_no_mutation, "mutated the nodes", id="mutation"),
        pytest.param(RandomScore, check_deterministic, "not deterministic", id="determinism"),
        pytest.param(LeakyReserve, check_reserve_unreserve, "reserve+unreserve", id="unreserve"),
        pytest.param(
            AnnotationReadingScore,
            check_undeclared_annotations_ignored,
            "declares pod_annotations",
            id="undeclared-annotation",
        ),
    ],
)
def test_each_check_rejects_its_broken_plugin(cls: type, check: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("+", r"\+")):
        check(_put(cls, "GoodScore" if issubclass(cls, GoodScore) else None), MIXED)


def test_a_correct_plugin_passes_every_check() -> None:
    check_plugin(_put(GoodScore))


def test_name_must_match_the_module_name() -> None:
    with pytest.raises(AssertionError, match="differs from its NAME"):
        check_plugin(_put(GoodScore, "SomethingElse"))
