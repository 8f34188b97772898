"""Trace manifests: what a public trace is, where each file comes from, its checksum.

One YAML file per trace under ``traces/`` at the project root. A manifest is
data, so adding a trace needs no code; ``fetch`` downloads by it and checks
every byte against it. This module also says where local copies live:
``$KSCHED_TRACES_DIR``, else ``../shared/traces`` beside the project root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ksched.traces.errors import TraceFormatError

__all__ = [
    "TRACES_DIR_ENV",
    "Manifest",
    "ManifestFile",
    "load_manifest",
    "local_trace_dir",
    "manifest_names",
    "manifests_dir",
    "traces_root",
]

TRACES_DIR_ENV: Final = "KSCHED_TRACES_DIR"
_PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
_SHA256: Final = re.compile(r"[0-9a-f]{64}")


class ManifestFile(BaseModel):
    """One file of a trace: its path inside the trace folder, source URL and SHA-256."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    url: str
    sha256: str
    bytes: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        p = PurePosixPath(value)
        if p.is_absolute() or ".." in p.parts or not p.parts:
            raise ValueError(f"must be a relative path inside the trace folder, got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SHA256.fullmatch(value):
            raise ValueError("must be 64 lowercase hexadecimal digits")
        return value


class Manifest(BaseModel):
    """A public trace: provenance, licence, how to cite it, and its files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    description: str
    licence: str
    citation: str
    loader: str | None = None
    files: tuple[ManifestFile, ...]

    @field_validator("files")
    @classmethod
    def _distinct(cls, value: tuple[ManifestFile, ...]) -> tuple[ManifestFile, ...]:
        paths = [f.path for f in value]
        dup = sorted({p for p in paths if paths.count(p) > 1})
        if dup:
            raise ValueError(f"duplicate file paths: {', '.join(dup)}")
        return value

    def file(self, path: str) -> ManifestFile:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(f"{self.name} has no file {path!r}")


def manifests_dir() -> Path:
    """``traces/`` at the project root, where the bundled manifests live."""
    return _PROJECT_ROOT / "traces"


def manifest_names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or manifests_dir()).glob("*.yaml"))


def load_manifest(name: str, directory: Path | None = None) -> Manifest:
    """Read ``<directory>/<name>.yaml``; a schema error names the file and field."""
    path = (directory or manifests_dir()) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(manifest_names(directory)) or "none"
        raise FileNotFoundError(f"no manifest {name!r} in {path.parent} (known: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        raise TraceFormatError(path.name, line, None, f"invalid YAML: {exc}") from None
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        reason = f"{where}: {err['msg']}" if where else err["msg"]
        raise TraceFormatError(path.name, None, None, reason) from None
    if manifest.name != name:
        raise TraceFormatError(
            path.name, None, None, f"name: {manifest.name!r} does not match the file name"
        )
    return manifest


def traces_root() -> Path:
    """Where local trace copies live: ``$KSCHED_TRACES_DIR``, else ``../shared/traces``
    relative to the project root."""
    env = os.environ.get(TRACES_DIR_ENV)
    return Path(env) if env else (_PROJECT_ROOT.parent / "shared" / "traces").resolve()


def local_trace_dir(name: str) -> Path:
    """The local folder of trace ``name``; a clear error says how to get it if absent."""
    path = traces_root() / name
    if not path.is_dir():
        raise FileNotFoundError(
            f"trace {name!r} not found at {path}; set {TRACES_DIR_ENV} to a folder holding"
            f" it, or download it with ksched.traces.fetch({name!r}) and pass that folder"
        )
    return path
