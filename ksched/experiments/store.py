"""A results directory: one JSON record per cell, written atomically, read back for reports.

Atomic: a record is written to a temporary file in its own directory, flushed
to disk, then renamed over its final name, so an interrupted sweep leaves
either the whole record or none; a resumed sweep can trust every record it
finds. Records whose policy digest or cell differ from the one asked for are
stale, not done.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ksched.experiments.cells import Cell, CellRecord

__all__ = [
    "RecordError",
    "atomic_write_text",
    "find_record",
    "iter_records",
    "read_record",
    "write_record",
]


class RecordError(ValueError):
    """A file in a results directory is not a readable cell record (the message names it)."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(root: Path, record: CellRecord) -> Path:
    path = root / record.cell.relpath()
    atomic_write_text(path, json.dumps(record.to_json(), indent=1) + "\n")
    return path


def read_record(path: Path) -> CellRecord:
    try:
        data: Any = json.loads(path.read_text())
        return CellRecord.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RecordError(f"{path}: not a cell record: {exc}") from None


def find_record(root: Path, cell: Cell, policy_sha256: str) -> CellRecord | None:
    """The stored record of ``cell`` if it is complete and ran this exact policy text."""
    path = root / cell.relpath()
    if not path.is_file():
        return None
    try:
        record = read_record(path)
    except RecordError:
        return None
    if record.cell != cell or record.policy_sha256 != policy_sha256:
        return None
    return record


def iter_records(root: Path) -> Iterator[CellRecord]:
    """Every record under ``root/cells``, in path order; a foreign file is an error."""
    base = root / "cells"
    if not base.is_dir():
        raise RecordError(f"{root}: no results (expected a 'cells' directory)")
    for path in sorted(base.rglob("*.json")):
        yield read_record(path)
