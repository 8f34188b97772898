"""Trace loaders by name: the built-in ones plus any that packages declare.

A third-party reader ships as a distribution declaring an entry point in the
``ksched.traces`` group whose object is a loader: a callable returning a
``Workload``, whose first positional argument, if any, is the trace's
location. Names are unique; a clash fails loudly and names both owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from ksched.traces.alibaba2018 import load_alibaba2018
from ksched.traces.borg2019 import load_borg2019
from ksched.traces.dlrm2025 import load_dlrm2025
from ksched.traces.errors import TraceRegistryError
from ksched.traces.openb import load_openb
from ksched.traces.synthetic import synthetic
from ksched.traces.workload import Workload

__all__ = [
    "BUILTIN_LOADERS",
    "ENTRY_POINT_GROUP",
    "Loader",
    "TraceRegistry",
    "default_registry",
    "get_loader",
    "load",
    "loader_names",
    "register",
]

ENTRY_POINT_GROUP: Final = "ksched.traces"
Loader = Callable[..., Workload]

BUILTIN_LOADERS: Final[Mapping[str, Loader]] = {
    "alibaba2018": load_alibaba2018,
    "borg2019": load_borg2019,
    "dlrm2025": load_dlrm2025,
    "openb": load_openb,
    "synthetic": synthetic,
}


def _owner(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"entry point {ep.value!r} of {dist.name if dist is not None else 'an unknown package'}"


class TraceRegistry(Mapping[str, Loader]):
    """Name -> loader. Entry points are read on first use, so importing is cheap."""

    def __init__(
        self, builtins: Mapping[str, Loader] = BUILTIN_LOADERS, *, discover: bool = True
    ) -> None:
        self._loaders: dict[str, Loader] = {}
        self._owners: dict[str, str] = {}
        self._discover = discover
        for name, loader in builtins.items():
            self.register(name, loader, owner="ksched")

    def register(self, name: str, loader: Loader, *, owner: str = "register()") -> None:
        """Add ``loader`` under ``name``; a name taken by another loader is an error,
        never an overwrite (declaring the same loader twice is harmless)."""
        if not name or not isinstance(name, str):
            raise TraceRegistryError(
                f"a trace loader name must be a non-empty string, got {name!r}"
            )
        if not callable(loader):
            raise TraceRegistryError(f"trace loader {name!r} from {owner} is not callable")
        if name in self._loaders and self._loaders[name] is not loader:
            raise TraceRegistryError(
                f"trace loader {name!r} is registered twice: by {self._owners[name]} and by {owner}"
            )
        self._loaders[name] = loader
        self._owners[name] = owner

    def _load_entry_points(self) -> None:
        if not self._discover:
            return
        self._discover = False
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                loader = ep.load()
            except Exception as exc:
                raise TraceRegistryError(
                    f"trace loader {ep.name!r}: cannot load {_owner(ep)}: {exc}"
                ) from exc
            self.register(ep.name, loader, owner=_owner(ep))

    def __getitem__(self, name: str) -> Loader:
        self._load_entry_points()
        try:
            return self._loaders[name]
        except KeyError:
            known = ", ".join(sorted(self._loaders))
            raise TraceRegistryError(f"no trace loader {name!r}; known: {known}") from None

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._loaders

    def __iter__(self) -> Iterator[str]:
        self._load_entry_points()
        return iter(sorted(self._loaders))

    def __len__(self) -> int:
        self._load_entry_points()
        return len(self._loaders)

    def load(self, name: str, /, *args: Any, **options: Any) -> Workload:
        """Call loader ``name``; a result that is not a ``Workload`` is refused."""
        workload = self[name](*args, **options)
        if not isinstance(workload, Workload):
            raise TraceRegistryError(
                f"trace loader {name!r} returned {type(workload).__name__}, not a Workload"
            )
        return workload


default_registry: Final = TraceRegistry()


def register(name: str, loader: Loader) -> None:
    default_registry.register(name, loader)


def get_loader(name: str) -> Loader:
    return default_registry[name]


def loader_names() -> list[str]:
    return list(default_registry)


def load(name: str, /, *args: Any, **options: Any) -> Workload:
    """Load a workload by loader name: ``load("openb", variant="cpu050")``,
    ``load("synthetic", n_nodes=100, n_pods=10_000, seed=1)``."""
    return default_registry.load(name, *args, **options)
