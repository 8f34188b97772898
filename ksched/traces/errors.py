"""Errors of the trace toolkit: each names the file, the line and the column at fault.

A trace of a million rows is fixed by editing one line, so a message must be
actionable on its own; no pandas or pyarrow exception escapes a loader.
"""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "TraceFetchError",
    "TraceFormatError",
    "TraceRegistryError",
]


class TraceFormatError(ValueError):
    """A trace file that breaks its schema.

    ``str()`` is ``"<file>:<line>: column <column>: <reason>"``; ``line`` is 1-based
    with the header as line 1, and either part is left out when it does not apply
    (an empty file has no column, a missing file-level column no line).
    """

    def __init__(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = self.reason if self.column is None else f"column {self.column}: {self.reason}"
        return f"{where}: {what}"

    def __reduce__(self) -> tuple[type[TraceFormatError], tuple[str, int | None, str | None, str]]:
        return (type(self), (self.file, self.line, self.column, self.reason))


class TraceFetchError(OSError):
    """A trace could not be downloaded (offline, HTTP error); nothing was written."""


class ChecksumMismatchError(TraceFetchError):
    """A downloaded file's SHA-256 differs from its manifest; the file was discarded."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path}: SHA-256 mismatch: expected {expected}, got {actual}; the download was"
            " discarded"
        )

    def __reduce__(self) -> tuple[type[ChecksumMismatchError], tuple[str, str, str]]:
        return (type(self), (self.path, self.expected, self.actual))


class TraceRegistryError(LookupError):
    """An unknown trace name, a duplicate registration or a broken entry point."""
