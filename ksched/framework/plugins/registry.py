"""The in-tree registry: every default plugin by name, plus entry-point plugins."""

from __future__ import annotations

import importlib
from functools import cache

from ksched.config.registry import EntryPointLoader, PluginSpec, Registry

IN_TREE_MODULES = (
    "ksched.framework.plugins.queuesort",
    "ksched.framework.plugins.scheduling_gates",
    "ksched.framework.plugins.node_unschedulable",
    "ksched.framework.plugins.node_name",
    "ksched.framework.plugins.tainttoleration",
    "ksched.framework.plugins.node_affinity",
    "ksched.framework.plugins.node_ports",
    "ksched.framework.plugins.noderesources.fit",
    "ksched.framework.plugins.noderesources.balanced_allocation",
    "ksched.framework.plugins.image_locality",
    "ksched.framework.plugins.podtopologyspread.plugin",
    "ksched.framework.plugins.interpodaffinity.plugin",
    "ksched.framework.plugins.defaultpreemption.plugin",
    "ksched.framework.plugins.default_binder",
    "ksched.framework.plugins.gpushare.plugin",
)


@cache
def _in_tree_specs() -> tuple[PluginSpec, ...]:
    return tuple(PluginSpec.from_module(importlib.import_module(m)) for m in IN_TREE_MODULES)


def in_tree_registry() -> Registry:
    registry = Registry()
    for spec in _in_tree_specs():
        registry.register(spec)
    return registry


def default_registry(entry_points: bool = True) -> Registry:
    """In-tree plugins, then those installed under the ``ksched.plugins`` entry-point group.

    The installed ones are imported on first need (a name not in-tree, or a
    listing of all names), so in-tree profiles start without importing them.
    """
    registry = in_tree_registry()
    if entry_points:
        registry.defer(EntryPointLoader())
    return registry
