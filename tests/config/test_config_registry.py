"""The plugin registry and entry-point discovery through real (hand-built) distributions.

Each distribution is a module plus a ``*.dist-info`` with ``METADATA`` and
``entry_points.txt`` on ``sys.path``, which is all ``importlib.metadata``
needs: the same path an installed third-party package takes.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ksched.config import (
    ConfigError,
    EntryPointLoader,
    PluginRegistrationError,
    PluginSpec,
    Registry,
    load_config_text,
    load_entry_point_plugins,
    resolve_config,
)
from ksched.framework.interface import ExtensionPoint

GROUP = "ksched.plugins.configtest"

SCORER = '''\
"""A third-party score plugin, shaped like an in-tree plugin module."""

from typing import Any, Final

from pydantic import BaseModel, ConfigDict

NAME: Final = "{name}"


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    factor: int = 1


class Scorer:
    name = NAME

    def __init__(self, args: Args) -> None:
        self.args = args

    def pre_score(self, *a: Any) -> None: ...

    def score(self, *a: Any) -> int:
        return self.args.factor

    def normalize_score(self, *a: Any) -> None: ...


def new(args: Args, handle: Any) -> Scorer:
    return Scorer(args)
'''

SPEC_OBJECT = """\
from ksched.config import PluginSpec
from ksched.framework.interface import ExtensionPoint


class Gate:
    name = "Gate"

    def permit(self, *a):
        return None, 0.0


SPEC = PluginSpec("Gate", lambda args, handle: Gate(), None, frozenset({ExtensionPoint.PERMIT}))
"""


class Distributions:
    """Builds distributions under one tmp dir on ``sys.path``; forgets their modules afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def add(self, dist: str, version: str, modules: dict[str, str], entry_points: str) -> None:
        for module, source in modules.items():
            (self.root / f"{module}.py").write_text(source)
            self.modules.append(module)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Distributions]:
    monkeypatch.syspath_prepend(str(tmp_path))
    made = Distributions(tmp_path)
    yield made
    for module in made.modules:
        sys.modules.pop(module, None)


def _spec(name: str, points: frozenset[ExtensionPoint] = frozenset()) -> PluginSpec:
    return PluginSpec(name, lambda args, handle: object(), None, points)


def test_registry_mapping_and_duplicates() -> None:
    registry = Registry()
    registry.register(_spec("A"))
    registry.register(_spec("B"), source="distribution b")
    assert registry.names() == ["A", "B"]
    assert "A" in registry and "C" not in registry
    assert registry["B"].name == "B"
    assert registry.source("B") == "distribution b"
    with pytest.raises(KeyError, match='plugin "C" not found in registry'):
        registry["C"]
    with pytest.raises(
        PluginRegistrationError,
        match=r'plugin "B" is registered twice: by distribution b and by ksched \(in-tree\)',
    ):
        registry.register(_spec("B"))


class _ScoreAndFilter:
    def filter(self, *a: Any) -> None: ...

    def score_nodes(self, *a: Any) -> Any: ...


def test_points_come_from_the_plugin_class() -> None:
    spec = PluginSpec.from_class("X", _ScoreAndFilter, lambda args, handle: _ScoreAndFilter())
    assert spec.points == {ExtensionPoint.FILTER, ExtensionPoint.SCORE}


def test_entry_points_discovered_from_distributions(dists: Distributions) -> None:
    dists.add(
        "acme-scorer",
        "1.2",
        {"ksched_cfgtest_acme": SCORER.format(name="AcmeScore")},
        f"[{GROUP}]\nacme = ksched_cfgtest_acme\n",
    )
    dists.add(
        "gatekeeper",
        "0.1",
        {"ksched_cfgtest_gate": SPEC_OBJECT},
        f"[{GROUP}]\ngate = ksched_cfgtest_gate:SPEC\n",
    )
    registry = Registry()
    added = load_entry_point_plugins(registry, group=GROUP)

    assert sorted(spec.name for spec in added) == ["AcmeScore", "Gate"]
    acme = registry["AcmeScore"]
    assert acme.points == {ExtensionPoint.PRE_SCORE, ExtensionPoint.SCORE}
    assert acme.args_type is not None and acme.args_type.__name__ == "Args"
    assert registry.source("AcmeScore") == (
        'distribution "acme-scorer 1.2" (entry point acme = ksched_cfgtest_acme)'
    )
    assert registry["Gate"].points == {ExtensionPoint.PERMIT}

    plugin: Any = acme.factory(acme.args_type.model_validate({"factor": 3}), None)
    assert plugin.score() == 3


def test_entry_point_plugin_usable_in_a_profile(dists: Distributions) -> None:
    dists.add(
        "acme-scorer",
        "1.2",
        {"ksched_cfgtest_acme2": SCORER.format(name="AcmeScore")},
        f"[{GROUP}]\nacme = ksched_cfgtest_acme2\n",
    )
    registry = Registry()
    registry.register(_spec("Sort", frozenset({ExtensionPoint.QUEUE_SORT})))
    registry.register(_spec("Binder", frozenset({ExtensionPoint.BIND})))
    load_entry_point_plugins(registry, group=GROUP)
    cfg = load_config_text(
        """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - plugins:
      multiPoint:
        disabled: [{name: "*"}]
        enabled: [{name: Sort}, {name: Binder}, {name: AcmeScore, weight: 4}]
    pluginConfig:
      - name: AcmeScore
        args: {factor: 2}
""",
        source="acme.yaml",
    )
    (profile,) = resolve_config(cfg, registry)
    assert profile.points[ExtensionPoint.SCORE] == (("AcmeScore", 4),)
    assert profile.points[ExtensionPoint.PRE_SCORE] == (("AcmeScore", 0),)
    args = profile.args["AcmeScore"]
    assert args is not None and args.model_dump() == {"factor": 2}

    bad = cfg.model_dump(by_alias=True)
    bad["profiles"][0]["pluginConfig"][0]["args"] = {"factor": "lots"}
    with pytest.raises(ConfigError, match=r"pluginConfig\[0\]\.args\.factor: Input should be"):
        resolve_config(type(cfg).model_validate(bad), registry)


def test_duplicate_name_across_distributions_names_both(dists: Distributions) -> None:
    dists.add(
        "acme-scorer",
        "1.2",
        {"ksched_cfgtest_one": SCORER.format(name="Spread")},
        f"[{GROUP}]\nspread = ksched_cfgtest_one\n",
    )
    dists.add(
        "other-scorer",
        "3.0",
        {"ksched_cfgtest_two": SCORER.format(name="Spread")},
        f"[{GROUP}]\nspread = ksched_cfgtest_two\n",
    )
    with pytest.raises(PluginRegistrationError) as info:
        load_entry_point_plugins(Registry(), group=GROUP)
    message = str(info.value)
    assert message.startswith('plugin "Spread" is registered twice: by distribution "')
    assert 'distribution "acme-scorer 1.2"' in message
    assert 'distribution "other-scorer 3.0"' in message


def test_entry_point_clashing_with_in_tree_plugin(dists: Distributions) -> None:
    dists.add(
        "shadow",
        "1.0",
        {"ksched_cfgtest_shadow": SCORER.format(name="NodeAffinity")},
        f"[{GROUP}]\nna = ksched_cfgtest_shadow\n",
    )
    registry = Registry()
    registry.register(_spec("NodeAffinity"))
    with pytest.raises(
        PluginRegistrationError,
        match=r'"NodeAffinity" is registered twice: by ksched \(in-tree\) and by '
        r'distribution "shadow 1.0"',
    ):
        load_entry_point_plugins(registry, group=GROUP)


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        pytest.param(
            "VALUE = 3\n", ":VALUE", "must point at a PluginSpec or a plugin module", id="int"
        ),
        pytest.param("x = 1\n", "", "a plugin module needs NAME (str) and new()", id="no-name"),
        pytest.param(
            'NAME = "P"\ndef new(args, handle):\n    return None\n',
            "",
            "new must be annotated with the plugin class it returns",
            id="unannotated-new",
        ),
        pytest.param("raise RuntimeError('boom')\n", "", "boom", id="import-error"),
    ],
)
def test_malformed_entry_points_name_the_distribution(
    dists: Distributions, source: str, target: str, reason: str
) -> None:
    module = "ksched_cfgtest_bad"
    dists.add("broken", "0.0.1", {module: source}, f"[{GROUP}]\nbad = {module}{target}\n")
    with pytest.raises(PluginRegistrationError) as info:
        load_entry_point_plugins(Registry(), group=GROUP)
    assert 'distribution "broken 0.0.1"' in str(info.value)
    assert reason in str(info.value)


def test_deferred_plugins_load_only_when_a_name_is_missing(dists: Distributions) -> None:
    dists.add(
        "acme-scorer",
        "1.2",
        {"ksched_cfgtest_lazy": SCORER.format(name="LazyScore")},
        f"[{GROUP}]\nlazy = ksched_cfgtest_lazy\n",
    )
    registry = Registry()
    registry.register(_spec("Sort", frozenset({ExtensionPoint.QUEUE_SORT})))
    registry.defer(lambda r: load_entry_point_plugins(r, group=GROUP))

    assert registry["Sort"].name == "Sort"
    assert "ksched_cfgtest_lazy" not in sys.modules
    assert registry["LazyScore"].points == {ExtensionPoint.PRE_SCORE, ExtensionPoint.SCORE}
    assert "ksched_cfgtest_lazy" in sys.modules
    assert sorted(registry) == ["LazyScore", "Sort"]


def test_a_named_entry_point_loads_alone(dists: Distributions) -> None:
    dists.add(
        "acme-scorer",
        "1.2",
        {
            "ksched_cfgtest_named": SCORER.format(name="NamedScore"),
            "ksched_cfgtest_other": SCORER.format(name="OtherScore"),
        },
        f"[{GROUP}]\nNamedScore = ksched_cfgtest_named\nother = ksched_cfgtest_other\n",
    )
    registry = Registry()
    registry.defer(EntryPointLoader(GROUP))

    assert registry["NamedScore"].name == "NamedScore"
    assert "ksched_cfgtest_other" not in sys.modules
    assert registry["OtherScore"].name == "OtherScore"
    assert sorted(registry) == ["NamedScore", "OtherScore"]
