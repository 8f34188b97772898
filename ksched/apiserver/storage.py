"""Durable backends behind the in-memory store: where committed objects live across restarts.

A backend only persists: ``Store`` keeps the authoritative state in memory,
assigns resourceVersions and decides what to write. ``write`` gets one batch
(a group commit) and must not return before the batch is on stable storage.
"""

from __future__ import annotations

import base64
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

__all__ = ["Backend", "EtcdBackend", "EtcdError", "Op", "SQLiteBackend", "storage_key"]


@dataclass(slots=True)
class Op:
    """One committed change: ``obj`` is the new state, or the last state for a deletion."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rkey: str
    namespace: str
    name: str
    obj: dict[str, Any]
    prev: dict[str, Any] | None


def storage_key(rkey: str, namespace: str, name: str) -> str:
    return f"{rkey}/{namespace}/{name}"


class Backend(Protocol):
    """Persistence for ``Store``: load everything once, then append batches."""

    def load(self) -> tuple[int, Iterator[tuple[str, str, str, dict[str, Any]]]]:
        """The last resourceVersion written and every stored ``(rkey, namespace, name, obj)``."""
        ...

    def write(self, ops: Sequence[Op], rv: int) -> None:
        """Persist ``ops`` and the global ``rv`` atomically and durably."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""


class SQLiteBackend:
    """SQLite in WAL mode with ``synchronous=FULL``: a batch is fsynced before ``write`` returns.

    WAL with FULL syncs the log at every commit, so a committed (and hence
    acknowledged) batch survives a process kill or power loss
    (https://www.sqlite.org/pragma.html#pragma_synchronous).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Used from one worker thread at a time (the store's single flusher).
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self.path = path

    def load(self) -> tuple[int, Iterator[tuple[str, str, str, dict[str, Any]]]]:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'rv'").fetchone()
        rv = int(row[0]) if row else 0
        return rv, self._objects()

    def _objects(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        for key, value in self._db.execute("SELECT key, value FROM objects"):
            group, plural, namespace, name = key.split("/", 3)
            yield f"{group}/{plural}", namespace, name, orjson.loads(value)

    def write(self, ops: Sequence[Op], rv: int) -> None:
        upserts = [
            (storage_key(op.rkey, op.namespace, op.name), orjson.dumps(op.obj))
            for op in ops
            if op.type != "DELETED"
        ]
        deletes = [
            (storage_key(op.rkey, op.namespace, op.name),) for op in ops if op.type == "DELETED"
        ]
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # A key both written and deleted in one batch: apply in order.
            if upserts and deletes:
                for op in ops:
                    key = storage_key(op.rkey, op.namespace, op.name)
                    if op.type == "DELETED":
                        db.execute("DELETE FROM objects WHERE key = ?", (key,))
                    else:
                        db.execute(
                            "INSERT OR REPLACE INTO objects VALUES (?, ?)",
                            (key, orjson.dumps(op.obj)),
                        )
            else:
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?)", upserts)
                db.executemany("DELETE FROM objects WHERE key = ?", deletes)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (rv,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


class EtcdError(RuntimeError):
    """etcd refused or failed a request; the message carries its answer."""


class EtcdBackend:
    """etcd v3 (3.4+) through its JSON gateway: the store real Kubernetes uses, replicated by raft.

    An object is one key under ``prefix``; the global resourceVersion is one
    more key, written in the same transaction as the first part of each batch
    so that it never lags a stored object. etcd answers a transaction only
    once raft has committed it to a quorum's fsynced log. Batches longer than
    etcd's ``--max-txn-ops`` (128 by default) go in several transactions.
    """

    _MAX_OPS = 100

    def __init__(self, endpoint: str, prefix: str = "/ksched") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self._rv_key = f"{self.prefix}-meta/rv"
        self._call("/v3/maintenance/status", {})

    def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoint + path,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer: dict[str, Any] = orjson.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise EtcdError(f"etcd {path}: HTTP {exc.code}: {exc.read()[:300]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise EtcdError(f"etcd at {self.endpoint} is unreachable: {exc}") from None
        return answer

    @staticmethod
    def _b64(text: str | bytes) -> str:
        raw = text.encode() if isinstance(text, str) else text
        return base64.b64encode(raw).decode()

    def load(self) -> tuple[int, Iterator[tuple[str, str, str, dict[str, Any]]]]:
        meta = self._call("/v3/kv/range", {"key": self._b64(self._rv_key)})
        rv = int(base64.b64decode(meta["kvs"][0]["value"])) if meta.get("kvs") else 0
        start = f"{self.prefix}/"
        end = f"{self.prefix}0"  # "0" follows "/": the end of the prefix range
        found = self._call("/v3/kv/range", {"key": self._b64(start), "range_end": self._b64(end)})
        rows: list[tuple[str, str, str, dict[str, Any]]] = []
        for kv in found.get("kvs", []):
            key = base64.b64decode(kv["key"]).decode().removeprefix(start)
            group, plural, namespace, name = key.split("/", 3)
            obj: dict[str, Any] = orjson.loads(base64.b64decode(kv["value"]))
            rv = max(rv, int(obj["metadata"].get("resourceVersion") or 0))
            rows.append((f"{group}/{plural}", namespace, name, obj))
        return rv, iter(rows)

    def write(self, ops: Sequence[Op], rv: int) -> None:
        requests: list[dict[str, Any]] = [
            {"request_put": {"key": self._b64(self._rv_key), "value": self._b64(str(rv))}}
        ]
        for op in ops:
            key = self._b64(f"{self.prefix}/{storage_key(op.rkey, op.namespace, op.name)}")
            if op.type == "DELETED":
                requests.append({"request_delete_range": {"key": key}})
            else:
                requests.append(
                    {"request_put": {"key": key, "value": self._b64(orjson.dumps(op.obj))}}
                )
        for first in range(0, len(requests), self._MAX_OPS):
            answer = self._call("/v3/kv/txn", {"success": requests[first : first + self._MAX_OPS]})
            if not answer.get("succeeded", True):
                raise EtcdError(f"etcd transaction failed: {answer}")

    def close(self) -> None:
        """Nothing to release: every call is its own HTTP request."""
