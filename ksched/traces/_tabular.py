"""Reading trace tables as text and validating them column by column, vectorised.

Every loader reads its files through here so that all of them fail the same
way: cells are read as strings (pyarrow's multi-threaded CSV reader, or JSON
lines), then each column is parsed by one vectorised cast; only when a cast
fails does a regular expression run over the column to find the bad cells.
Problems are collected per column and the earliest row wins, so the error
names the first bad line of the file whatever column it is in. Nothing is
returned until every check has passed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from ksched.traces.errors import TraceFormatError

__all__ = ["Parser", "RawTable", "read_csv", "read_jsonl"]

# At most 19 digits; the few 19-digit values are range-checked one by one.
_INT: Final = r"^-?[0-9]{1,19}$"
_FLOAT: Final = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DIGITS: Final = re.compile(r"-?[0-9]+")
_HEADER_PROBE: Final = 1 << 20


@dataclass(frozen=True, eq=False)
class RawTable:
    """One file's cells as strings, with the physical line of every row."""

    file: str
    columns: dict[str, pa.Array]
    lines: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.lines)


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.GzipFile(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _decode(file: str, line: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise TraceFormatError(
            file, line, None, f"not UTF-8 text (byte {exc.start + 1} of the line)"
        ) from None


def _header(path: Path) -> list[str] | None:
    """The first record's fields, or None for an empty file."""
    with _open(path) as f:
        first = _decode(path.name, 1, f.readline(_HEADER_PROBE))
    if not first.strip():
        return None
    return next(csv.reader(io.StringIO(first)))


def _check_text(path: Path) -> None:
    """Raise for the first line that is not UTF-8 (pyarrow only says that one exists)."""
    with _open(path) as f:
        for number, raw in enumerate(f, start=1):
            _decode(path.name, number, raw)


def _check_header(
    file: str, header: Sequence[str], required: Sequence[str], optional: Sequence[str]
) -> None:
    known = [*required, *optional]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise TraceFormatError(file, 1, name, "duplicate column in the header")
        seen.add(name)
        if name not in known:
            raise TraceFormatError(
                file, 1, name, f"unexpected column; expected columns are {','.join(known)}"
            )
    for name in required:
        if name not in seen:
            raise TraceFormatError(file, 1, name, "missing from the header")


@dataclass
class _FirstInvalid:
    expected: int = 0
    actual: int = 0
    line: int | None = None
    seen: bool = False

    def __call__(self, row: Any) -> str:
        if not self.seen:
            self.seen = True
            self.expected, self.actual, self.line = (
                row.expected_columns,
                row.actual_columns,
                row.number,
            )
        return "skip"


def _arrow_read(
    path: Path, names: Sequence[str] | None, threads: bool
) -> tuple[pa.Table, _FirstInvalid]:
    """Every cell as text; ``names`` for a headerless file, else the header's."""
    invalid = _FirstInvalid()
    read = pacsv.ReadOptions(
        use_threads=threads, column_names=list(names) if names is not None else None
    )
    # Blank lines are kept as rows so that row i stays on line i + first line.
    parse = pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=invalid)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(
            names if names is not None else _header(path) or [], pa.string()
        ),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[],
    )
    table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    return table, invalid


def read_csv(
    path: Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    headerless: bool = False,
) -> RawTable:
    """Read a CSV whose columns are ``required`` plus any of ``optional``.

    With ``headerless`` the file has no header row and its columns are exactly
    ``required`` in that order (the Alibaba 2018 tables). Rows with the wrong
    number of fields (a truncated line), interior blank lines, an empty file and
    a header that does not match all raise ``TraceFormatError``.
    """
    file = path.name
    header = _header(path)
    if header is None:
        expected = ",".join(required)
        what = "a row of" if headerless else "a header row"
        raise TraceFormatError(file, None, None, f"empty file; expected {what} {expected}")
    if not headerless:
        _check_header(file, header, required, optional)
    names = list(required) if headerless else None
    try:
        table, invalid = _arrow_read(path, names, threads=True)
        if invalid.seen and invalid.line is None:
            # Only a single-threaded read knows line numbers; pay for it on error only.
            _, invalid = _arrow_read(path, names, threads=False)
    except pa.ArrowInvalid as exc:
        _check_text(path)
        raise TraceFormatError(file, None, None, f"not a readable CSV file: {exc}") from None
    if invalid.seen:
        raise TraceFormatError(
            file,
            invalid.line,
            None,
            f"expected {invalid.expected} fields, found {invalid.actual} (truncated or"
            " malformed line)",
        )
    first_line = 1 if headerless else 2
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
    return _drop_blank_rows(RawTable(file, columns, lines))


def _drop_blank_rows(table: RawTable) -> RawTable:
    """Trailing blank lines are harmless; a blank line inside the data is an error."""
    if not len(table) or not table.columns:
        return table
    blank = np.ones(len(table), dtype=np.bool_)
    for col in table.columns.values():
        blank &= pc.equal(pc.utf8_length(col), 0).to_numpy(zero_copy_only=False)
    if not blank.any():
        return table
    keep = len(blank)
    while keep and blank[keep - 1]:
        keep -= 1
    if blank[:keep].any():
        row = int(np.argmax(blank[:keep]))
        raise TraceFormatError(table.file, int(table.lines[row]), None, "empty line")
    columns = {name: col.slice(0, keep) for name, col in table.columns.items()}
    return RawTable(table.file, columns, table.lines[:keep])


def _cell(value: Any) -> str | None:
    """A JSON scalar as the text a CSV export would hold; None if it is not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return None


def read_jsonl(path: Path, fields: Mapping[str, tuple[str, ...]]) -> RawTable:
    """Read newline-delimited JSON (BigQuery's export format) into string columns.

    ``fields`` maps a column name to its path in each object (``("capacity",
    "cpus")``); an absent or null field reads as an empty cell, as in a CSV export.
    Numbers may be JSON numbers or strings (BigQuery writes INT64 as strings).
    """
    file = path.name
    cells: dict[str, list[str]] = {name: [] for name in fields}
    lines: list[int] = []
    with _open(path) as f:
        for number, raw in enumerate(f, start=1):
            line = _decode(file, number, raw)
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TraceFormatError(
                    file, number, None, f"invalid JSON: {exc.msg} at character {exc.colno}"
                ) from None
            if not isinstance(obj, dict):
                raise TraceFormatError(file, number, None, "expected a JSON object")
            for name, keys in fields.items():
                value: Any = obj
                for key in keys:
                    value = value.get(key) if isinstance(value, dict) else None
                text = _cell(value)
                if text is None:
                    raise TraceFormatError(file, number, name, "expected a single value")
                cells[name].append(text)
            lines.append(number)
    if not lines:
        raise TraceFormatError(file, None, None, "empty file; expected one JSON object per line")
    columns = {name: pa.array(values, pa.string()) for name, values in cells.items()}
    return RawTable(file, columns, np.asarray(lines, dtype=np.int64))


def _where(mask: pa.Array) -> NDArray[np.bool_]:
    """An Arrow boolean array as a writable numpy one."""
    return np.array(mask.to_numpy(zero_copy_only=False), dtype=np.bool_)


class Parser:
    """Parses the columns of one ``RawTable``; ``done()`` raises the earliest problem.

    Each method returns a full-length array (placeholders where a cell is bad)
    so that later checks can run; a placeholder only ever sits on a row that
    already has a problem, so it cannot hide or precede a real one.
    """

    def __init__(self, table: RawTable) -> None:
        self.table = table
        self._row: int | None = None
        self._problem: tuple[str, str] | None = None

    def __len__(self) -> int:
        return len(self.table)

    def has(self, column: str) -> bool:
        return column in self.table.columns

    def raw(self, column: str) -> pa.Array:
        return self.table.columns[column]

    def flag(self, bad: NDArray[np.bool_], column: str, reason: Callable[[int], str]) -> None:
        """Record the first row where ``bad`` holds, unless an earlier row is already bad."""
        if not bad.any():
            return
        row = int(np.argmax(bad))
        if self._row is None or row < self._row:
            self._row, self._problem = row, (column, reason(row))

    def done(self) -> None:
        if self._row is not None and self._problem is not None:
            column, reason = self._problem
            line = int(self.table.lines[self._row])
            raise TraceFormatError(self.table.file, line, column, reason)

    def _text(self, column: str, row: int) -> str:
        return str(self.raw(column)[row].as_py())

    def _empty(self, column: str) -> NDArray[np.bool_]:
        return _where(pc.equal(pc.utf8_length(self.raw(column)), 0))

    def strings(
        self,
        column: str,
        *,
        allow_empty: bool = False,
        choices: Iterable[str] | None = None,
        categorical: bool = False,
    ) -> NDArray[np.object_]:
        """Text cells as Python strings. ``categorical`` (implied by ``choices``) is for
        columns of few distinct values: they are checked and converted once each."""
        arr = self.raw(column)
        if choices is None and not categorical:
            if not allow_empty:
                self.flag(self._empty(column), column, lambda _: "missing value")
            return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
        encoded = pc.dictionary_encode(arr)
        index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
        distinct = np.empty(len(encoded.dictionary), dtype=object)
        distinct[:] = encoded.dictionary.to_pylist()
        bad = np.zeros(len(distinct), dtype=np.bool_)
        if choices is not None:
            allowed = sorted(set(choices))
            bad |= ~np.isin(distinct, allowed) & (distinct != "")
            listed = ", ".join(repr(c) for c in allowed)
            self.flag(
                bad[index], column, lambda i: f"{distinct[index[i]]!r} is not one of {listed}"
            )
        if not allow_empty:
            self.flag((distinct == "")[index], column, lambda _: "missing value")
        return np.asarray(distinct[index], dtype=object)

    def ints(
        self,
        column: str,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
        missing: int | None = None,
    ) -> NDArray[np.int64]:
        """Integers; an empty cell is ``missing`` if given, else an error."""
        arr = self.raw(column)
        if missing is not None:
            arr = self._empty_to_null(column)
        try:
            # Arrow's cast also takes forms Python's int() refuses (hex such as 0x0),
            # so the cells are matched against plain decimal digits first.
            if not pc.all(pc.fill_null(pc.match_substring_regex(arr, _INT), True)).as_py():
                raise pa.ArrowInvalid("not all decimal integers")
            parsed = pc.cast(arr, pa.int64())
            ok = np.ones(len(arr), dtype=np.bool_)
        except pa.ArrowInvalid:
            ok = _where(pc.fill_null(pc.match_substring_regex(arr, _INT), True))
            long = ok & _where(pc.fill_null(pc.greater_equal(pc.utf8_length(arr), 19), False))
            for i in np.flatnonzero(long).tolist():
                ok[i] = -(2**63) <= int(self._text(column, i)) < 2**63

            def reason(i: int) -> str:
                text = self._text(column, i)
                if not text:
                    return "missing value"
                if _DIGITS.fullmatch(text):
                    return f"{text!r} is out of range"
                return f"{text!r} is not an integer"

            self.flag(~ok, column, reason)
            parsed = pc.cast(pc.if_else(pa.array(ok), arr, pa.scalar("0")), pa.int64())
        if missing is not None:
            ok &= ~_where(pc.is_null(parsed))  # a filled-in value is not range-checked
            parsed = pc.fill_null(parsed, missing)
        values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.int64)
        self._bounds(column, values, ok, min_value, max_value)
        return values

    def floats(
        self, column: str, *, min_value: float | None = None, missing_ok: bool = False
    ) -> NDArray[np.float64]:
        """Finite decimal numbers; an empty cell is NaN if ``missing_ok``, else an error."""
        arr = self._empty_to_null(column) if missing_ok else self.raw(column)
        try:
            parsed = pc.cast(arr, pa.float64())
            ok = np.ones(len(arr), dtype=np.bool_)
        except pa.ArrowInvalid:
            ok = _where(pc.fill_null(pc.match_substring_regex(arr, _FLOAT), True))
            parsed = pc.cast(pc.if_else(pa.array(ok), arr, pa.scalar("0")), pa.float64())
        values = np.asarray(parsed.to_numpy(zero_copy_only=False), dtype=np.float64)
        # The cast also takes "nan" and "inf", and 1e999 overflows: no trace means these.
        ok &= np.isfinite(values) | _where(pc.is_null(parsed))

        def reason(i: int) -> str:
            text = self._text(column, i)
            return f"{text!r} is not a number" if text else "missing value"

        self.flag(~ok, column, reason)
        self._bounds(column, values, ok & ~np.isnan(values), min_value, None)
        return values

    def _empty_to_null(self, column: str) -> pa.Array:
        arr = self.raw(column)
        return pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.scalar(None, pa.string()), arr)

    def _bounds(
        self,
        column: str,
        values: NDArray[np.int64] | NDArray[np.float64],
        ok: NDArray[np.bool_],
        min_value: float | None,
        max_value: float | None,
    ) -> None:
        if min_value is not None:
            below = ok & (values < min_value)
            if min_value == 0:
                self.flag(below, column, lambda i: f"{self._text(column, i)} is negative")
            else:
                self.flag(
                    below,
                    column,
                    lambda i: f"{self._text(column, i)} is below the minimum {min_value}",
                )
        if max_value is not None:
            self.flag(
                ok & (values > max_value),
                column,
                lambda i: f"{self._text(column, i)} exceeds the maximum {max_value}",
            )

    def not_before(
        self, column: str, later: NDArray[np.float64], earlier: NDArray[np.float64], what: str
    ) -> None:
        """``later`` must not precede ``earlier`` (the column ``what``) where both are known."""
        self.flag(
            later < earlier, column, lambda i: f"{later[i]:g} is before {what} {earlier[i]:g}"
        )

    def unique(self, column: str, values: NDArray[np.object_]) -> None:
        """``values`` (of ``column``, or keys built from it) must be distinct; the
        second occurrence is the error."""
        items = values.tolist()
        if len(set(items)) == len(items):
            return
        seen: dict[object, int] = {}
        for row, value in enumerate(items):
            if seen.setdefault(value, row) != row:
                break
        first = int(self.table.lines[seen[value]])
        reason = f"duplicate value {value!r} (first on line {first})"
        self.flag(np.arange(len(items)) == row, column, lambda _: reason)
