"""Download a trace by its manifest into a cache folder, verifying every file.

Each file streams into a temporary file beside its destination while its
SHA-256 is computed; only a file whose checksum matches the manifest is
renamed into place (atomic on one filesystem), so an interrupted or corrupt
download never leaves a file that looks complete. Files already present with
the right checksum are not downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from ksched.traces.errors import ChecksumMismatchError, TraceFetchError
from ksched.traces.manifest import TRACES_DIR_ENV, Manifest, ManifestFile, load_manifest

__all__ = ["CACHE_DIR_ENV", "default_cache_dir", "fetch", "sha256_of", "verify"]

CACHE_DIR_ENV: Final = "KSCHED_CACHE_DIR"
_CHUNK: Final = 1 << 20


def default_cache_dir() -> Path:
    """``$KSCHED_CACHE_DIR``, else ``$XDG_CACHE_HOME/ksched/traces``, else ``~/.cache/...``."""
    if env := os.environ.get(CACHE_DIR_ENV):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ksched" / "traces"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(manifest: Manifest, directory: Path) -> dict[str, str]:
    """Problems with a local copy, by file path: ``missing`` or ``sha256 mismatch``."""
    problems: dict[str, str] = {}
    for f in manifest.files:
        path = directory / f.path
        if not path.is_file():
            problems[f.path] = "missing"
        elif sha256_of(path) != f.sha256:
            problems[f.path] = "sha256 mismatch"
    return problems


def _download(f: ManifestFile, dest: Path, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(f.url, timeout=timeout) as response:
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as exc:
                raise TraceFetchError(
                    f"cannot download {f.url}: HTTP {exc.code} {exc.reason}"
                ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                raise TraceFetchError(
                    f"cannot download {f.url}: {reason}. This machine may be offline: copy the"
                    f" trace files into {dest.parent} by other means, or set {TRACES_DIR_ENV}"
                    " to a folder that holds them"
                ) from None
        actual = digest.hexdigest()
        if actual != f.sha256:
            raise ChecksumMismatchError(f.path, f.sha256, actual)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    manifest: str | Manifest,
    cache_dir: str | Path | None = None,
    *,
    files: Iterable[str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Make ``<cache_dir>/<trace name>/`` hold the trace's files and return that folder.

    ``manifest`` is a bundled manifest's name or a ``Manifest``; ``files``
    limits the download to some of its paths. Raises ``TraceFetchError`` when a
    file cannot be downloaded and ``ChecksumMismatchError`` when its content is
    wrong; in both cases nothing is left at the file's destination.
    """
    spec = load_manifest(manifest) if isinstance(manifest, str) else manifest
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / spec.name
    wanted = spec.files if files is None else tuple(spec.file(p) for p in files)
    for f in wanted:
        dest = root / f.path
        if dest.is_file() and sha256_of(dest) == f.sha256:
            continue
        _download(f, dest, timeout)
    return root
