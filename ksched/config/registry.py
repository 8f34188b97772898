"""Plugin registry: names to factories, as upstream ``runtime.Registry``.

Configuration refers to plugins by name only; the registry says how to build
one, what its arguments look like and which extension points it implements
(so multiPoint can expand it before any plugin exists).  Third parties
register through the ``ksched.plugins`` entry-point group, and two plugins
claiming one name is an error naming both, never a silent override.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, Final

from pydantic import BaseModel

from ksched.config.errors import PluginRegistrationError
from ksched.framework.interface import ExtensionPoint, implemented_points

ENTRY_POINT_GROUP: Final = "ksched.plugins"
IN_TREE: Final = "ksched (in-tree)"

PluginFactoryFn = Callable[[BaseModel | None, Any], object]
"""``factory(args, handle) -> plugin``; ``args`` is an instance of ``args_type`` or None."""


@dataclass(frozen=True, slots=True)
class PluginSpec:
    """How to build a plugin and what configuration may say about it."""

    name: str
    factory: PluginFactoryFn
    args_type: type[BaseModel] | None = None
    points: frozenset[ExtensionPoint] = frozenset()

    @classmethod
    def from_class(
        cls,
        name: str,
        plugin_class: type,
        factory: PluginFactoryFn,
        args_type: type[BaseModel] | None = None,
    ) -> PluginSpec:
        """A spec whose points are those ``plugin_class`` implements (methods, so no instance)."""
        return cls(name, factory, args_type, frozenset(implemented_points(plugin_class)))

    @classmethod
    def from_module(cls, module: ModuleType) -> PluginSpec:
        """The plugin module contract: ``NAME``, ``new(args, handle) -> Class``, optional ``Args``.

        The return annotation of ``new`` names the class, which is how the
        points are known without building a plugin.
        """
        where = module.__name__
        name, new = getattr(module, "NAME", None), getattr(module, "new", None)
        if not isinstance(name, str) or not callable(new):
            raise PluginRegistrationError(f"{where}: a plugin module needs NAME (str) and new()")
        try:
            plugin_class = typing.get_type_hints(new).get("return")
        except Exception as exc:
            raise PluginRegistrationError(f"{where}.new: unreadable annotations: {exc}") from exc
        if not isinstance(plugin_class, type):
            raise PluginRegistrationError(
                f"{where}.new must be annotated with the plugin class it returns "
                "(its methods say which extension points it implements)"
            )
        args_type = getattr(module, "Args", None)
        if args_type is not None and not (
            isinstance(args_type, type) and issubclass(args_type, BaseModel)
        ):
            raise PluginRegistrationError(f"{where}.Args must be a pydantic model class")
        return cls.from_class(name, plugin_class, new, args_type)


class Registry(Mapping[str, PluginSpec]):
    """Plugin specs by name, each remembering who registered it (for duplicate errors)."""

    def __init__(self) -> None:
        self._specs: dict[str, PluginSpec] = {}
        self._sources: dict[str, str] = {}
        self._deferred: list[Callable[[Registry], object]] = []

    def defer(self, load: Callable[[Registry], object]) -> None:
        """Run ``load(self)`` the first time a name is missing or all names are asked for.

        Importing installed plugin packages can cost seconds (scikit-learn,
        say); a profile made only of in-tree plugins should not pay for them.
        """
        self._deferred.append(load)

    def _load_deferred(self, wanted: str | None = None) -> None:
        """Run the deferred loaders; for ``wanted``, first its own entry point when one is named so.

        Entry points conventionally carry the plugin's name, so a profile that
        names one installed plugin imports that package alone; a name found
        no other way loads everything (which also reports duplicate names).
        """
        if wanted is not None and self._deferred:
            self._load_named(wanted)
            if wanted in self._specs:
                return
        while self._deferred:
            self._deferred.pop(0)(self)

    def _load_named(self, wanted: str) -> None:
        for load in self._deferred:
            if isinstance(load, EntryPointLoader):
                load.load_named(self, wanted)

    def register(self, spec: PluginSpec, source: str = IN_TREE) -> None:
        """Add ``spec``; a name already taken raises, naming both registrants."""
        if spec.name in self._specs:
            raise PluginRegistrationError(
                f'plugin "{spec.name}" is registered twice: by {self._sources[spec.name]} '
                f"and by {source}"
            )
        self._specs[spec.name] = spec
        self._sources[spec.name] = source

    def source(self, name: str) -> str:
        """Who registered ``name``: in-tree or the distribution and entry point."""
        if name not in self._sources:
            self._load_deferred(name)
        return self._sources[name]

    def names(self) -> list[str]:
        self._load_deferred()
        return list(self._specs)

    def __getitem__(self, name: str) -> PluginSpec:
        if name not in self._specs:
            self._load_deferred(name)
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f'plugin "{name}" not found in registry') from None

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._specs:
            self._load_deferred(name)
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        self._load_deferred()
        return iter(self._specs)

    def __len__(self) -> int:
        self._load_deferred()
        return len(self._specs)


def _describe(ep: EntryPoint) -> str:
    dist = ep.dist
    owner = (
        f'distribution "{dist.name} {dist.version}"'
        if dist is not None
        else "an unknown distribution"
    )
    return f"{owner} (entry point {ep.name} = {ep.value})"


def spec_from_entry_point(ep: EntryPoint) -> PluginSpec:
    """Load ``ep``: a ``PluginSpec``, or a plugin module (``NAME``, ``new``, optional ``Args``)."""
    try:
        target = ep.load()
    except Exception as exc:
        raise PluginRegistrationError(f"loading {_describe(ep)}: {exc}") from exc
    if isinstance(target, PluginSpec):
        return target
    if isinstance(target, ModuleType):
        try:
            return PluginSpec.from_module(target)
        except PluginRegistrationError as exc:
            raise PluginRegistrationError(f"{_describe(ep)}: {exc}") from exc
    raise PluginRegistrationError(
        f"{_describe(ep)} must point at a PluginSpec or a plugin module, "
        f"not {type(target).__name__}"
    )


def load_entry_point_plugins(
    registry: Registry, group: str = ENTRY_POINT_GROUP
) -> list[PluginSpec]:
    """Register every plugin installed under ``group``; returns the specs added."""
    added = []
    for ep in entry_points(group=group):
        spec = spec_from_entry_point(ep)
        registry.register(spec, source=_describe(ep))
        added.append(spec)
    return added


class EntryPointLoader:
    """A deferred loader of ``group`` for ``Registry.defer`` that can also load one name."""

    def __init__(self, group: str = ENTRY_POINT_GROUP) -> None:
        self.entry_point_group = group
        self.loaded: set[str] = set()

    def load_named(self, registry: Registry, name: str) -> None:
        """Load the entry points called ``name`` (usually the plugin's own) ahead of the rest."""
        for ep in entry_points(group=self.entry_point_group, name=name):
            if ep.value not in self.loaded:
                self.loaded.add(ep.value)
                registry.register(spec_from_entry_point(ep), source=_describe(ep))

    def __call__(self, registry: Registry) -> list[PluginSpec]:
        added = []
        for ep in entry_points(group=self.entry_point_group):
            if ep.value in self.loaded:
                continue
            spec = spec_from_entry_point(ep)
            registry.register(spec, source=_describe(ep))
            added.append(spec)
        return added
