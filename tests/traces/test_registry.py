"""Loaders by name, including ones a package declares in the ``ksched.traces`` group."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ksched.traces import (
    ENTRY_POINT_GROUP,
    TraceRegistry,
    TraceRegistryError,
    Workload,
    get_loader,
    load,
    load_openb,
    loader_names,
    synthetic,
)

PLUGIN = """
from ksched.traces import synthetic

def load(source=None, /, **options):
    return synthetic(3, 5, seed=1)

def not_a_workload(source=None, /):
    return "nope"
"""


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: dict[str, str]) -> None:
    """A distribution on sys.path declaring ``entries`` as ksched.traces entry points."""
    (tmp_path / "ksched_demo_reader.py").write_text(PLUGIN)
    info = tmp_path / "ksched_demo_reader-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ksched-demo-reader\nVersion: 1.0\n"
    )
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ksched_demo_reader", raising=False)


def test_builtin_loaders() -> None:
    assert {"alibaba2018", "borg2019", "dlrm2025", "openb", "synthetic"} <= set(loader_names())
    assert get_loader("openb") is load_openb


def test_load_by_name() -> None:
    w = load("synthetic", n_nodes=4, n_pods=10, seed=2)
    assert isinstance(w, Workload) and len(w) == 10
    assert w.pods.equals(synthetic(4, 10, seed=2).pods)


def test_load_openb_by_name(openb_dir: Path) -> None:
    assert len(load("openb", openb_dir, variant="cpu050")) == 7439


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(TraceRegistryError, match=r"no trace loader 'nope'; known: .*openb"):
        get_loader("nope")


def test_duplicate_names_fail_loudly() -> None:
    registry = TraceRegistry(discover=False)
    with pytest.raises(TraceRegistryError) as info:
        registry.register("openb", synthetic)
    assert str(info.value) == (
        "trace loader 'openb' is registered twice: by ksched and by register()"
    )
    registry.register("openb", load_openb)  # the same loader again is harmless
    with pytest.raises(TraceRegistryError, match="is not callable"):
        registry.register("x", 3)  # type: ignore[arg-type]


def test_entry_point_discovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {"demo": "ksched_demo_reader:load"})
    registry = TraceRegistry()
    assert "demo" in registry and "nope" not in registry
    assert len(registry.load("demo")) == 5


def test_entry_point_clash_names_both_owners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(tmp_path, monkeypatch, {"openb": "ksched_demo_reader:load"})
    with pytest.raises(TraceRegistryError) as info:
        TraceRegistry()["openb"]
    assert str(info.value) == (
        "trace loader 'openb' is registered twice: by ksched and by entry point"
        " 'ksched_demo_reader:load' of ksched-demo-reader"
    )


def test_broken_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {"demo": "ksched_demo_reader:missing"})
    with pytest.raises(TraceRegistryError, match=r"trace loader 'demo': cannot load entry point"):
        list(TraceRegistry())


def test_a_loader_must_return_a_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(tmp_path, monkeypatch, {"bad": "ksched_demo_reader:not_a_workload"})
    with pytest.raises(TraceRegistryError, match="returned str, not a Workload"):
        TraceRegistry().load("bad")
