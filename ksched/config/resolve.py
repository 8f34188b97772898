"""A profile made concrete: the ordered plugins of every extension point, weights and args.

Everything a bad profile can get wrong is refused here, before any plugin is
built, with the field path the user wrote (upstream splits these checks
between ``validation.go`` and ``NewFramework``; the rules are the same).
The framework runtime then only instantiates and calls.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError

from ksched.config.defaults import DISABLE_ALL, default_plugins, merge_plugins
from ksched.config.errors import ConfigError, ConfigOrigin, issues_from_validation, join_path
from ksched.config.registry import PluginSpec, Registry
from ksched.config.types import (
    API_VERSION,
    MULTI_POINT,
    KubeSchedulerConfiguration,
    KubeSchedulerProfile,
    PluginSet,
)
from ksched.framework.interface import MAX_NODE_SCORE, MAX_TOTAL_SCORE, ExtensionPoint

MIN_WEIGHT = 1
MAX_WEIGHT = 100


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """What the runtime needs to build one profile's framework.

    ``points`` holds every extension point, in run order, as ``(name, weight)``
    pairs; the weight is 0 except at Score.  ``args`` has an entry for every
    plugin in ``points``: its validated args, or None if it takes none.
    """

    scheduler_name: str
    points: dict[ExtensionPoint, tuple[tuple[str, int], ...]]
    args: dict[str, BaseModel | None]
    percentage_of_nodes_to_score: int | None = None

    def plugins_at(self, point: ExtensionPoint) -> tuple[str, ...]:
        return tuple(name for name, _ in self.points[point])


class _ProfileResolver:
    """Resolution of one profile, knowing where it sits in the file for its errors."""

    def __init__(
        self,
        profile: KubeSchedulerProfile,
        registry: Registry,
        index: int,
        origin: ConfigOrigin,
    ) -> None:
        self.profile = profile
        self.registry = registry
        self.prefix = f"profiles[{index}]"
        self.origin = origin

    def fail(self, path: str, reason: str) -> NoReturn:
        where = f'profile "{self.profile.scheduler_name}"'
        raise self.origin.error(join_path(self.prefix, path), f"{reason} ({where})")

    def resolve(self) -> ResolvedProfile:
        custom = self.profile.plugins
        for field, plugin_set in custom.by_field().items():
            self._check_custom(field, plugin_set)
        merged = merge_plugins(default_plugins(), custom)
        user_multi_point = {p.name for p in custom.multi_point.enabled}
        for plugin in merged.multi_point.enabled:
            if plugin.name not in user_multi_point and plugin.name not in self.registry:
                self.fail(
                    f"plugins.{MULTI_POINT}",
                    f'default plugin "{plugin.name}" not found in registry; '
                    f"register it or list it in {MULTI_POINT}.disabled",
                )
        multi_point = merged.multi_point
        points = {
            point: self._expand(point, merged.at(point), multi_point) for point in ExtensionPoint
        }
        points[ExtensionPoint.SCORE] = self._weigh(
            points[ExtensionPoint.SCORE], merged.score, multi_point
        )
        self._check_cardinality(points)
        return ResolvedProfile(
            scheduler_name=self.profile.scheduler_name,
            points=points,
            args=self._args(points),
            percentage_of_nodes_to_score=self.profile.percentage_of_nodes_to_score,
        )

    def _spec(self, name: str, path: str) -> PluginSpec:
        spec = self.registry.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, self.registry.names(), n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            self.fail(path, f'plugin "{name}" not found in registry{hint}')
        return spec

    def _check_custom(self, field: str, plugin_set: PluginSet) -> None:
        """Checks on what the user wrote, so each error names the entry at fault."""
        first: dict[str, int] = {}
        for i, plugin in enumerate(plugin_set.enabled):
            path = f"plugins.{field}.enabled[{i}]"
            spec = self._spec(plugin.name, f"{path}.name")
            if plugin.name in first:
                self.fail(
                    f"{path}.name",
                    f'plugin "{plugin.name}" is enabled twice '
                    f"(also {field}.enabled[{first[plugin.name]}])",
                )
            first[plugin.name] = i
            if field != MULTI_POINT and ExtensionPoint(field) not in spec.points:
                self.fail(f"{path}.name", f'plugin "{plugin.name}" does not implement {field}')
            if plugin.weight is None:
                continue
            if field not in (MULTI_POINT, ExtensionPoint.SCORE.value):
                self.fail(
                    f"{path}.weight",
                    f"a weight applies only at score; remove it from {field} "
                    f'plugin "{plugin.name}"',
                )
            if ExtensionPoint.SCORE not in spec.points:
                self.fail(
                    f"{path}.weight",
                    f'plugin "{plugin.name}" is not a score plugin, so it takes no weight',
                )
            if not MIN_WEIGHT <= plugin.weight <= MAX_WEIGHT:
                # Upstream quietly turns an explicit 0 into 1; refusing it is kinder,
                # since a user writing 0 most likely meant to switch the plugin off.
                self.fail(
                    f"{path}.weight",
                    f'weight of score plugin "{plugin.name}" must be in '
                    f"[{MIN_WEIGHT}, {MAX_WEIGHT}], got {plugin.weight}; "
                    "omit it for the default 1, or disable the plugin",
                )

    def _expand(
        self, point: ExtensionPoint, specific: PluginSet, multi_point: PluginSet
    ) -> tuple[tuple[str, int], ...]:
        """Upstream ``expandMultiPointPlugins`` for one point.

        Order: plugins enabled both here and in multiPoint (in this point's
        order, since an explicit entry overrides the multiPoint one), then the
        remaining multiPoint plugins, then those enabled only here.  A plugin
        disabled here is left out; ``"*"`` skips the multiPoint list entirely.
        """
        enabled = [p.name for p in specific.enabled]
        disabled = {p.name for p in specific.disabled}
        if DISABLE_ALL in disabled:
            return tuple((name, 0) for name in enabled)
        from_multi_point = [
            p.name
            for p in multi_point.enabled
            if point in self.registry[p.name].points and p.name not in disabled
        ]
        overrides = [name for name in enabled if name in from_multi_point]
        order = [
            *overrides,
            *(name for name in from_multi_point if name not in overrides),
            *(name for name in enabled if name not in overrides),
        ]
        return tuple((name, 0) for name in order)

    def _weigh(
        self,
        scores: tuple[tuple[str, int], ...],
        specific: PluginSet,
        multi_point: PluginSet,
    ) -> tuple[tuple[str, int], ...]:
        """Upstream ``getScoreWeights``: a weight set at score beats multiPoint's; unset is 1."""
        weights: dict[str, int] = {}
        for plugin in (*specific.enabled, *multi_point.enabled):
            weights.setdefault(plugin.name, plugin.weight or 1)
        total = 0
        for name, _ in scores:
            if weights[name] * MAX_NODE_SCORE > MAX_TOTAL_SCORE - total:
                self.fail("plugins.score", "total score of Score plugins could overflow")
            total += weights[name] * MAX_NODE_SCORE
        return tuple((name, weights[name]) for name, _ in scores)

    def _check_cardinality(
        self, points: Mapping[ExtensionPoint, tuple[tuple[str, int], ...]]
    ) -> None:
        sorts = [name for name, _ in points[ExtensionPoint.QUEUE_SORT]]
        if len(sorts) != 1:
            self.fail(
                "plugins.queueSort",
                f"exactly one queueSort plugin is required, got {len(sorts)}: {sorts}",
            )
        if not points[ExtensionPoint.BIND]:
            self.fail("plugins.bind", "at least one bind plugin is required")

    def _args(
        self, points: Mapping[ExtensionPoint, tuple[tuple[str, int], ...]]
    ) -> dict[str, BaseModel | None]:
        """Validated args of every plugin in the profile; defaults where none were given.

        Every pluginConfig entry is validated, even for a plugin the profile
        does not use (upstream keeps those), so a typo in args never waits
        for the day the plugin is switched on.  Names the registry does not
        know are kept unvalidated, as upstream does for out-of-tree plugins.
        """
        given: dict[str, BaseModel | None] = {}
        for i, cfg in enumerate(self.profile.plugin_config):
            spec = self.registry.get(cfg.name)
            if spec is not None:
                given[cfg.name] = self._validate_args(spec, cfg.args, f"pluginConfig[{i}].args")
        args: dict[str, BaseModel | None] = {}
        for plugins in points.values():
            for name, _ in plugins:
                if name not in args:
                    spec = self.registry[name]
                    args[name] = (
                        given[name]
                        if name in given
                        else self._validate_args(spec, None, "pluginConfig")
                    )
        return args

    def _validate_args(
        self, spec: PluginSpec, raw: Mapping[str, Any] | None, path: str
    ) -> BaseModel | None:
        data = dict(raw or {})
        # Upstream args are typed objects that may carry their apiVersion/kind.
        version = data.pop("apiVersion", API_VERSION)
        kind = data.pop("kind", None)
        if version != API_VERSION:
            self.fail(f"{path}.apiVersion", f'must be {API_VERSION}, got "{version}"')
        if spec.args_type is None:
            if data:
                self.fail(path, f'plugin "{spec.name}" takes no args')
            return None
        kinds = {f"{spec.name}Args", spec.args_type.__name__}
        if kind is not None and kind not in kinds:
            self.fail(f"{path}.kind", f'must be {" or ".join(sorted(kinds))}, got "{kind}"')
        try:
            return spec.args_type.model_validate(data)
        except ValidationError as exc:
            full = join_path(self.prefix, path)
            if raw is not None:
                issues = issues_from_validation(exc, self.origin, full)
            else:
                issues = [
                    self.origin.issue(full, f'plugin "{spec.name}" needs args: {issue}')
                    for issue in issues_from_validation(exc, ConfigOrigin())
                ]
            raise ConfigError(self.origin.source, issues) from None


def resolve_profile(
    profile: KubeSchedulerProfile,
    registry: Registry,
    *,
    index: int = 0,
    origin: ConfigOrigin | None = None,
) -> ResolvedProfile:
    """Merge ``profile`` with the defaults, expand multiPoint and validate it against ``registry``.

    ``index`` and ``origin`` place the profile in its file for error messages.
    Raises ``ConfigError``.
    """
    return _ProfileResolver(profile, registry, index, origin or ConfigOrigin()).resolve()


def resolve_config(cfg: KubeSchedulerConfiguration, registry: Registry) -> list[ResolvedProfile]:
    """Every profile resolved; all must share one queueSort plugin and its args (one queue)."""
    resolved = [
        resolve_profile(profile, registry, index=i, origin=cfg.origin)
        for i, profile in enumerate(cfg.profiles)
    ]
    first = resolved[0]
    sort = first.plugins_at(ExtensionPoint.QUEUE_SORT)
    for i, other in enumerate(resolved[1:], start=1):
        theirs = other.plugins_at(ExtensionPoint.QUEUE_SORT)
        if theirs != sort:
            raise cfg.origin.error(
                f"profiles[{i}].plugins.queueSort",
                f"queueSort must be the same for all profiles: {list(theirs)} here, "
                f"{list(sort)} in profiles[0]",
            )
        if other.args[theirs[0]] != first.args[sort[0]]:
            raise cfg.origin.error(
                f"profiles[{i}].pluginConfig",
                f'args of queueSort plugin "{sort[0]}" must be the same for all profiles',
            )
    return resolved
