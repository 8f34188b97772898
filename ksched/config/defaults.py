"""The default plugin set and its merge with a profile (upstream ``config/v1/default_plugins.go``).

Defaults are written once, as a multiPoint list: each plugin then runs at
every extension point it implements, so adding a point to a plugin needs no
configuration change.
"""

from __future__ import annotations

from typing import Final

from ksched.config.types import Plugin, Plugins, PluginSet
from ksched.framework.plugins import names

DISABLE_ALL: Final = "*"

# getDefaultPlugins, in upstream's order, minus VolumeRestrictions, NodeVolumeLimits,
# VolumeBinding, VolumeZone and DynamicResources (feature-gated upstream): ksched has
# no volume or DRA plugins yet, and a default naming a missing plugin would refuse
# every configuration.  Weights are upstream's; they apply only at Score.
DEFAULT_MULTI_POINT: Final[tuple[tuple[str, int | None], ...]] = (
    (names.SCHEDULING_GATES, None),
    (names.PRIORITY_SORT, None),
    (names.NODE_UNSCHEDULABLE, None),
    (names.NODE_NAME, None),
    (names.TAINT_TOLERATION, 3),
    (names.NODE_AFFINITY, 2),
    (names.NODE_PORTS, None),
    (names.NODE_RESOURCES_FIT, 1),
    (names.POD_TOPOLOGY_SPREAD, 2),
    (names.INTER_POD_AFFINITY, 2),
    (names.DEFAULT_PREEMPTION, None),
    (names.NODE_RESOURCES_BALANCED_ALLOCATION, 1),
    (names.IMAGE_LOCALITY, 1),
    (names.DEFAULT_BINDER, None),
)


def default_plugins() -> Plugins:
    """Every default plugin enabled through multiPoint, nothing at the specific points."""
    enabled = tuple(Plugin(name=name, weight=weight) for name, weight in DEFAULT_MULTI_POINT)
    return Plugins(multi_point=PluginSet(enabled=enabled))


def merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """Apply ``custom`` to ``default`` as upstream's ``mergePluginSet``.

    Disabled names drop defaults (``"*"``: all of them).  A custom plugin that
    is also a default takes the default's place, with the custom weight, so
    re-weighting a default keeps its order; the other custom plugins follow in
    the user's order.  The disabled lists are kept: multiPoint expansion needs
    them to leave a plugin out at one point.
    """
    disabled = {p.name for p in (*custom.disabled, *default.disabled)}
    custom_by_name = {p.name: i for i, p in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[Plugin] = []
    if DISABLE_ALL not in disabled:
        for plugin in default.enabled:
            if plugin.name in disabled:
                continue
            index = custom_by_name.get(plugin.name)
            if index is not None:
                plugin = custom.enabled[index]
                replaced.add(index)
            enabled.append(plugin)
    # Duplicated custom entries are kept, as upstream, so resolution refuses them by position.
    enabled.extend(p for i, p in enumerate(custom.enabled) if i not in replaced)
    return PluginSet(enabled=tuple(enabled), disabled=(*custom.disabled, *default.disabled))


def merge_plugins(default: Plugins, custom: Plugins) -> Plugins:
    """``merge_plugin_set`` at multiPoint and every extension point (upstream ``mergePlugins``)."""
    theirs = custom.by_field()
    merged = {
        field: merge_plugin_set(ours, theirs[field]) for field, ours in default.by_field().items()
    }
    return Plugins.model_validate(merged)


def effective_plugins(custom: Plugins) -> Plugins:
    """What a profile's ``plugins`` amount to once merged with the defaults."""
    return merge_plugins(default_plugins(), custom)
