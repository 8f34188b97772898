"""Profile resolution against a registry of small fake plugins.

The fakes implement exactly the extension points of the upstream plugins of
the same name, so the expected lists are upstream's default profile.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ksched.config import (
    ConfigError,
    KubeSchedulerProfile,
    Plugin,
    Plugins,
    PluginSet,
    PluginSpec,
    Registry,
    ResolvedProfile,
    default_config,
    load_config,
    resolve_config,
    resolve_profile,
)
from ksched.framework.interface import ExtensionPoint
from ksched.framework.plugins import names


class _Args(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class StrategyType(StrEnum):
    LEAST_ALLOCATED = "LeastAllocated"
    MOST_ALLOCATED = "MostAllocated"
    REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"


class Strategy(_Args):
    type: StrategyType = StrategyType.LEAST_ALLOCATED


class FitArgs(_Args):
    scoring_strategy: Strategy = Strategy()


class InterPodAffinityArgs(_Args):
    hard_pod_affinity_weight: int = Field(1, ge=0, le=100)


class RequiredArgs(_Args):
    threshold: int


class _Fake:
    def __init__(self, name: str) -> None:
        self.name = name


class PreEnqueue(_Fake):
    def pre_enqueue(self, *a: Any) -> None: ...


class QueueSort(_Fake):
    def less(self, *a: Any) -> bool:
        return False


class Filter(_Fake):
    def filter(self, *a: Any) -> None: ...


class PreFilterFilter(Filter):
    def pre_filter(self, *a: Any) -> None: ...


class FilterScore(Filter):
    """TaintToleration: Filter, PreScore, Score (+ NormalizeScore)."""

    def pre_score(self, *a: Any) -> None: ...

    def score(self, *a: Any) -> int:
        return 0

    def normalize_score(self, *a: Any) -> None: ...


class AllFilterScore(FilterScore):
    """NodeAffinity, PodTopologySpread, InterPodAffinity, NodeResourcesFit."""

    def pre_filter(self, *a: Any) -> None: ...


class PreScoreScore(_Fake):
    def pre_score(self, *a: Any) -> None: ...

    def score_nodes(self, *a: Any) -> Any: ...


class ScoreOnly(_Fake):
    def score(self, *a: Any) -> int:
        return 0


class PostFilter(_Fake):
    def post_filter(self, *a: Any) -> Any: ...


class Bind(_Fake):
    def bind(self, *a: Any) -> None: ...


class Permit(_Fake):
    def permit(self, *a: Any) -> Any: ...


FAKES: dict[str, tuple[type[_Fake], type[BaseModel] | None]] = {
    names.SCHEDULING_GATES: (PreEnqueue, None),
    names.PRIORITY_SORT: (QueueSort, None),
    names.NODE_UNSCHEDULABLE: (Filter, None),
    names.NODE_NAME: (Filter, None),
    names.TAINT_TOLERATION: (FilterScore, None),
    names.NODE_AFFINITY: (AllFilterScore, None),
    names.NODE_PORTS: (PreFilterFilter, None),
    names.NODE_RESOURCES_FIT: (AllFilterScore, FitArgs),
    names.POD_TOPOLOGY_SPREAD: (AllFilterScore, None),
    names.INTER_POD_AFFINITY: (AllFilterScore, InterPodAffinityArgs),
    names.DEFAULT_PREEMPTION: (PostFilter, None),
    names.NODE_RESOURCES_BALANCED_ALLOCATION: (PreScoreScore, None),
    names.IMAGE_LOCALITY: (ScoreOnly, None),
    names.DEFAULT_BINDER: (Bind, None),
    "OtherSort": (QueueSort, None),
    "Spread": (FilterScore, None),
    "Gate": (Permit, RequiredArgs),
}


def _factory(cls: type[_Fake], name: str) -> Any:
    return lambda args, handle: cls(name)


def fake_registry(without: tuple[str, ...] = ()) -> Registry:
    registry = Registry()
    for name, (cls, args_type) in FAKES.items():
        if name not in without:
            registry.register(PluginSpec.from_class(name, cls, _factory(cls, name), args_type))
    return registry


def write(tmp_path: Path, body: str, name: str = "sched.yaml") -> Path:
    path = tmp_path / name
    header = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
    path.write_text(header + body)
    return path


DEFAULT_POINTS: dict[ExtensionPoint, tuple[tuple[str, int], ...]] = {
    ExtensionPoint.PRE_ENQUEUE: ((names.SCHEDULING_GATES, 0),),
    ExtensionPoint.QUEUE_SORT: ((names.PRIORITY_SORT, 0),),
    ExtensionPoint.PRE_FILTER: (
        (names.NODE_AFFINITY, 0),
        (names.NODE_PORTS, 0),
        (names.NODE_RESOURCES_FIT, 0),
        (names.POD_TOPOLOGY_SPREAD, 0),
        (names.INTER_POD_AFFINITY, 0),
    ),
    ExtensionPoint.FILTER: (
        (names.NODE_UNSCHEDULABLE, 0),
        (names.NODE_NAME, 0),
        (names.TAINT_TOLERATION, 0),
        (names.NODE_AFFINITY, 0),
        (names.NODE_PORTS, 0),
        (names.NODE_RESOURCES_FIT, 0),
        (names.POD_TOPOLOGY_SPREAD, 0),
        (names.INTER_POD_AFFINITY, 0),
    ),
    ExtensionPoint.POST_FILTER: ((names.DEFAULT_PREEMPTION, 0),),
    ExtensionPoint.PRE_SCORE: (
        (names.TAINT_TOLERATION, 0),
        (names.NODE_AFFINITY, 0),
        (names.NODE_RESOURCES_FIT, 0),
        (names.POD_TOPOLOGY_SPREAD, 0),
        (names.INTER_POD_AFFINITY, 0),
        (names.NODE_RESOURCES_BALANCED_ALLOCATION, 0),
    ),
    ExtensionPoint.SCORE: (
        (names.TAINT_TOLERATION, 3),
        (names.NODE_AFFINITY, 2),
        (names.NODE_RESOURCES_FIT, 1),
        (names.POD_TOPOLOGY_SPREAD, 2),
        (names.INTER_POD_AFFINITY, 2),
        (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
        (names.IMAGE_LOCALITY, 1),
    ),
    ExtensionPoint.RESERVE: (),
    ExtensionPoint.PERMIT: (),
    ExtensionPoint.PRE_BIND: (),
    ExtensionPoint.BIND: ((names.DEFAULT_BINDER, 0),),
    ExtensionPoint.POST_BIND: (),
}


@pytest.fixture(scope="module")
def default_profile() -> ResolvedProfile:
    (profile,) = resolve_config(default_config(), fake_registry())
    return profile


@pytest.mark.parametrize("point", list(ExtensionPoint), ids=[p.value for p in ExtensionPoint])
def test_defaults_at_every_point(default_profile: ResolvedProfile, point: ExtensionPoint) -> None:
    assert default_profile.points[point] == DEFAULT_POINTS[point]


def test_default_profile_args_and_name(default_profile: ResolvedProfile) -> None:
    assert default_profile.scheduler_name == "default-scheduler"
    assert default_profile.percentage_of_nodes_to_score is None
    used = {name for plugins in DEFAULT_POINTS.values() for name, _ in plugins}
    assert set(default_profile.args) == used
    assert default_profile.args[names.NODE_RESOURCES_FIT] == FitArgs()
    assert default_profile.args[names.INTER_POD_AFFINITY] == InterPodAffinityArgs()
    assert default_profile.args[names.NODE_NAME] is None


def _profile(**sets: PluginSet) -> KubeSchedulerProfile:
    return KubeSchedulerProfile(plugins=Plugins(**sets))


def _on(*plugins: Plugin) -> PluginSet:
    return PluginSet(enabled=plugins)


def _off(*plugin_names: str) -> PluginSet:
    return PluginSet(disabled=tuple(Plugin(name=n) for n in plugin_names))


@pytest.mark.parametrize(
    ("profile", "point", "expected"),
    [
        pytest.param(
            _profile(score=_on(Plugin(name=names.IMAGE_LOCALITY, weight=7))),
            ExtensionPoint.SCORE,
            (
                (names.IMAGE_LOCALITY, 7),
                (names.TAINT_TOLERATION, 3),
                (names.NODE_AFFINITY, 2),
                (names.NODE_RESOURCES_FIT, 1),
                (names.POD_TOPOLOGY_SPREAD, 2),
                (names.INTER_POD_AFFINITY, 2),
                (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
            ),
            id="specific-point-overrides-multipoint-first-with-its-weight",
        ),
        pytest.param(
            _profile(score=_on(Plugin(name=names.TAINT_TOLERATION))),
            ExtensionPoint.SCORE,
            (
                (names.TAINT_TOLERATION, 1),
                (names.NODE_AFFINITY, 2),
                (names.NODE_RESOURCES_FIT, 1),
                (names.POD_TOPOLOGY_SPREAD, 2),
                (names.INTER_POD_AFFINITY, 2),
                (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
                (names.IMAGE_LOCALITY, 1),
            ),
            id="override-without-weight-is-1-not-the-multipoint-weight",
        ),
        pytest.param(
            _profile(
                multi_point=_on(Plugin(name=names.TAINT_TOLERATION, weight=9)),
            ),
            ExtensionPoint.SCORE,
            (
                (names.TAINT_TOLERATION, 9),
                (names.NODE_AFFINITY, 2),
                (names.NODE_RESOURCES_FIT, 1),
                (names.POD_TOPOLOGY_SPREAD, 2),
                (names.INTER_POD_AFFINITY, 2),
                (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
                (names.IMAGE_LOCALITY, 1),
            ),
            id="multipoint-reweight-keeps-default-position",
        ),
        pytest.param(
            _profile(filter=_off(names.NODE_PORTS)),
            ExtensionPoint.PRE_FILTER,
            DEFAULT_POINTS[ExtensionPoint.PRE_FILTER],
            id="disabled-at-filter-still-prefilters",
        ),
        pytest.param(
            _profile(filter=_off(names.NODE_PORTS, names.NODE_NAME)),
            ExtensionPoint.FILTER,
            tuple(
                p
                for p in DEFAULT_POINTS[ExtensionPoint.FILTER]
                if p[0] not in (names.NODE_PORTS, names.NODE_NAME)
            ),
            id="disabled-at-one-point",
        ),
        pytest.param(
            _profile(multi_point=_off(names.NODE_PORTS)),
            ExtensionPoint.PRE_FILTER,
            tuple(p for p in DEFAULT_POINTS[ExtensionPoint.PRE_FILTER] if p[0] != names.NODE_PORTS),
            id="disabled-in-multipoint-everywhere",
        ),
        pytest.param(
            _profile(
                filter=PluginSet(
                    disabled=(Plugin(name="*"),),
                    enabled=(Plugin(name="Spread"), Plugin(name=names.NODE_NAME)),
                )
            ),
            ExtensionPoint.FILTER,
            (("Spread", 0), (names.NODE_NAME, 0)),
            id="star-disables-all-defaults-keeps-user-order",
        ),
        pytest.param(
            _profile(multi_point=_on(Plugin(name="Spread", weight=4))),
            ExtensionPoint.SCORE,
            (*DEFAULT_POINTS[ExtensionPoint.SCORE], ("Spread", 4)),
            id="new-multipoint-plugin-appended",
        ),
        pytest.param(
            _profile(filter=_on(Plugin(name="Spread"))),
            ExtensionPoint.FILTER,
            (*DEFAULT_POINTS[ExtensionPoint.FILTER], ("Spread", 0)),
            id="new-specific-plugin-after-multipoint",
        ),
        pytest.param(
            _profile(filter=_on(Plugin(name="Spread"))),
            ExtensionPoint.SCORE,
            DEFAULT_POINTS[ExtensionPoint.SCORE],
            id="specific-enable-does-not-leak-to-other-points",
        ),
        pytest.param(
            _profile(
                multi_point=PluginSet(
                    disabled=(Plugin(name="*"),),
                    enabled=(
                        Plugin(name=names.PRIORITY_SORT),
                        Plugin(name=names.DEFAULT_BINDER),
                        Plugin(name=names.IMAGE_LOCALITY, weight=5),
                    ),
                )
            ),
            ExtensionPoint.SCORE,
            ((names.IMAGE_LOCALITY, 5),),
            id="multipoint-star-replaces-defaults",
        ),
    ],
)
def test_merge_and_expansion(
    profile: KubeSchedulerProfile, point: ExtensionPoint, expected: tuple[tuple[str, int], ...]
) -> None:
    assert resolve_profile(profile, fake_registry()).points[point] == expected


EXAMPLE = """\
percentageOfNodesToScore: 30
profiles:
  - schedulerName: default-scheduler
    plugins:
      multiPoint:
        enabled:
          - name: Spread
            weight: 5
      score:
        disabled:
          - name: ImageLocality
        enabled:
          - name: NodeResourcesFit
            weight: 10
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
      - name: Gate
        args:
          threshold: 3
  - schedulerName: bin-packer
    percentageOfNodesToScore: 50
    plugins:
      score:
        disabled:
          - name: "*"
        enabled:
          - name: NodeResourcesFit
            weight: 5
          - name: ImageLocality
      filter:
        disabled:
          - name: NodePorts
      permit:
        enabled:
          - name: Gate
    pluginConfig:
      - name: Gate
        args: {threshold: 7}
      - name: NotInstalled
        args: {anything: goes}
"""


def test_two_profile_example(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, EXAMPLE))
    assert cfg.percentage_of_nodes_to_score == 30
    first, packer = resolve_config(cfg, fake_registry())

    assert first.scheduler_name == "default-scheduler"
    assert first.points[ExtensionPoint.SCORE] == (
        (names.NODE_RESOURCES_FIT, 10),
        (names.TAINT_TOLERATION, 3),
        (names.NODE_AFFINITY, 2),
        (names.POD_TOPOLOGY_SPREAD, 2),
        (names.INTER_POD_AFFINITY, 2),
        (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
        ("Spread", 5),
    )
    assert first.points[ExtensionPoint.FILTER] == (
        *DEFAULT_POINTS[ExtensionPoint.FILTER],
        ("Spread", 0),
    )
    assert first.points[ExtensionPoint.PRE_SCORE] == (
        *DEFAULT_POINTS[ExtensionPoint.PRE_SCORE],
        ("Spread", 0),
    )
    assert first.args[names.NODE_RESOURCES_FIT] == FitArgs(
        scoring_strategy=Strategy(type=StrategyType.MOST_ALLOCATED)
    )
    assert "Gate" not in first.args  # configured but not enabled: validated, not used

    assert packer.scheduler_name == "bin-packer"
    assert packer.percentage_of_nodes_to_score == 50
    assert packer.points[ExtensionPoint.SCORE] == (
        (names.NODE_RESOURCES_FIT, 5),
        (names.IMAGE_LOCALITY, 1),
    )
    assert names.NODE_PORTS not in packer.plugins_at(ExtensionPoint.FILTER)
    assert names.NODE_PORTS in packer.plugins_at(ExtensionPoint.PRE_FILTER)
    assert packer.points[ExtensionPoint.PERMIT] == (("Gate", 0),)
    assert packer.args["Gate"] == RequiredArgs(threshold=7)
    assert packer.args[names.NODE_RESOURCES_FIT] == FitArgs()
    assert "NotInstalled" not in packer.args


REFUSALS = [
    pytest.param(
        """\
profiles:
  - plugins:
      score:
        enabled:
          - name: ImageLocality
          - name: TaintToleration
          - name: NodeAfinity
""",
        9,
        "profiles[0].plugins.score.enabled[2].name",
        'plugin "NodeAfinity" not found in registry; did you mean "NodeAffinity"? '
        '(profile "default-scheduler")',
        id="unknown-plugin",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      score:
        enabled:
          - name: ImageLocality
            weight: 0
""",
        8,
        "profiles[0].plugins.score.enabled[0].weight",
        'weight of score plugin "ImageLocality" must be in [1, 100], got 0',
        id="weight-0",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      multiPoint:
        enabled:
          - name: NodeAffinity
            weight: 101
""",
        8,
        "profiles[0].plugins.multiPoint.enabled[0].weight",
        'weight of score plugin "NodeAffinity" must be in [1, 100], got 101',
        id="weight-101",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      filter:
        enabled:
          - name: NodeAffinity
            weight: 2
""",
        8,
        "profiles[0].plugins.filter.enabled[0].weight",
        'a weight applies only at score; remove it from filter plugin "NodeAffinity"',
        id="weight-at-non-score-point",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      multiPoint:
        enabled:
          - name: NodePorts
            weight: 2
""",
        8,
        "profiles[0].plugins.multiPoint.enabled[0].weight",
        'plugin "NodePorts" is not a score plugin, so it takes no weight',
        id="weight-on-non-score-plugin",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      score:
        enabled:
          - name: NodePorts
""",
        7,
        "profiles[0].plugins.score.enabled[0].name",
        'plugin "NodePorts" does not implement score',
        id="plugin-at-point-it-does-not-implement",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      filter:
        enabled:
          - name: Spread
          - name: Spread
""",
        8,
        "profiles[0].plugins.filter.enabled[1].name",
        'plugin "Spread" is enabled twice (also filter.enabled[0])',
        id="enabled-twice",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      queueSort:
        enabled:
          - name: OtherSort
""",
        5,
        "profiles[0].plugins.queueSort",
        "exactly one queueSort plugin is required, got 2: ['PrioritySort', 'OtherSort']",
        id="two-queue-sort-plugins",
    ),
    pytest.param(
        """\
profiles:
  - schedulerName: a
  - schedulerName: b
    plugins:
      queueSort:
        disabled: [{name: "*"}]
        enabled: [{name: OtherSort}]
""",
        7,
        "profiles[1].plugins.queueSort",
        "queueSort must be the same for all profiles: ['OtherSort'] here, "
        "['PrioritySort'] in profiles[0]",
        id="different-queue-sort-across-profiles",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      bind:
        disabled: [{name: "*"}]
""",
        5,
        "profiles[0].plugins.bind",
        "at least one bind plugin is required",
        id="no-bind-plugin",
    ),
    pytest.param(
        """\
profiles:
  - schedulerName: a
  - schedulerName: a
""",
        5,
        "profiles[1].schedulerName",
        'duplicate schedulerName "a" (also profiles[0])',
        id="duplicate-scheduler-name",
    ),
    pytest.param(
        """\
profiles:
  - pluginConfig:
      - name: NodeResourcesFit
      - name: NodeResourcesFit
""",
        6,
        "profiles[0].pluginConfig[1].name",
        'duplicate config for plugin "NodeResourcesFit" (first at pluginConfig[0])',
        id="duplicate-plugin-config",
    ),
    pytest.param(
        """\
profiles:
  - pluginConfig:
      - name: InterPodAffinity
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: Bogus
""",
        9,
        "profiles[0].pluginConfig[1].args.scoringStrategy.type",
        "Input should be 'LeastAllocated', 'MostAllocated' or 'RequestedToCapacityRatio'",
        id="bad-args-value",
    ),
    pytest.param(
        """\
profiles:
  - pluginConfig:
      - name: InterPodAffinity
        args:
          hardPodAffinityWeight: 1
          softWeight: 2
""",
        8,
        "profiles[0].pluginConfig[0].args.softWeight",
        'unknown field "softWeight"',
        id="unknown-args-field",
    ),
    pytest.param(
        """\
profiles:
  - pluginConfig:
      - name: NodeName
        args: {strict: true}
""",
        6,
        "profiles[0].pluginConfig[0].args",
        'plugin "NodeName" takes no args',
        id="args-for-plugin-without-args",
    ),
    pytest.param(
        """\
profiles:
  - pluginConfig:
      - name: NodeResourcesFit
        args:
          kind: InterPodAffinityArgs
""",
        7,
        "profiles[0].pluginConfig[0].args.kind",
        'must be FitArgs or NodeResourcesFitArgs, got "InterPodAffinityArgs"',
        id="args-of-another-kind",
    ),
    pytest.param(
        """\
profiles:
  - plugins:
      permit:
        enabled: [{name: Gate}]
""",
        4,
        "profiles[0].pluginConfig",
        'plugin "Gate" needs args: threshold: required field is missing',
        id="required-args-missing",
    ),
]


@pytest.mark.parametrize(("body", "line", "field", "reason"), REFUSALS)
def test_refusals_name_file_line_field_and_reason(
    tmp_path: Path, body: str, line: int, field: str, reason: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        resolve_config(load_config(path), fake_registry())
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {field}: ")
    assert reason in message
    assert "Traceback" not in message and "pydantic" not in message


def test_default_plugin_missing_from_registry() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(default_config(), fake_registry(without=(names.IMAGE_LOCALITY,)))
    assert str(info.value) == (
        "<config>: profiles[0].plugins.multiPoint: default plugin "
        '"ImageLocality" not found in registry; register it or list it in '
        'multiPoint.disabled (profile "default-scheduler")'
    )
    disabled = KubeSchedulerProfile(plugins=Plugins(multi_point=_off(names.IMAGE_LOCALITY)))
    resolved = resolve_profile(disabled, fake_registry(without=(names.IMAGE_LOCALITY,)))
    assert names.IMAGE_LOCALITY not in resolved.plugins_at(ExtensionPoint.SCORE)


def test_queue_sort_args_must_match_across_profiles(tmp_path: Path) -> None:
    registry = Registry()
    for name, (cls, _) in FAKES.items():
        args_type = RequiredArgs if name == names.PRIORITY_SORT else FAKES[name][1]
        registry.register(PluginSpec.from_class(name, cls, _factory(cls, name), args_type))
    path = write(
        tmp_path,
        """\
profiles:
  - schedulerName: a
    pluginConfig: [{name: PrioritySort, args: {threshold: 1}}]
  - schedulerName: b
    pluginConfig: [{name: PrioritySort, args: {threshold: 2}}]
""",
    )
    with pytest.raises(ConfigError, match=r"args of queueSort plugin \"PrioritySort\" must be"):
        resolve_config(load_config(path), registry)
