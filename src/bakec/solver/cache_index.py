"""The persistent cache index: operation key → what running it produced.

One SQLite database (WAL mode) in the state dir. A record is written only
after its operation fully succeeded and its outputs (snapshot, blobs) were
committed, inside one transaction, so a kill at any moment leaves either no
record or a complete one -- never a half-written entry.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from bakec.util.units import ram_in_bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key        TEXT PRIMARY KEY,      -- the operation's content digest
    kind       TEXT NOT NULL,         -- op kind (exec, file, source...)
    snapshot   TEXT,                  -- committed snapshot holding the result filesystem
    layer      TEXT,                  -- JSON: {digest, diff_id, size, media_type} or null (no new layer)
    meta       TEXT NOT NULL,         -- JSON: anything else the worker needs to reuse the result
    size       INTEGER NOT NULL DEFAULT 0,
    created    REAL NOT NULL,
    last_used  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_last_used ON results(last_used);
"""


@dataclass(frozen=True)
class CacheRecord:
    key: str
    kind: str
    snapshot: str | None = None
    layer: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    size: int = 0


class CacheIndex:
    """A small typed wrapper over the SQLite index (safe to use from several processes)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()  # one connection shared by the scheduler's threads

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, key: str) -> CacheRecord | None:
        """The record for ``key``, marking it used; None when the operation never completed."""
        with self._lock:
            row = self._db.execute(
                "SELECT key, kind, snapshot, layer, meta, size FROM results WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE results SET last_used = ? WHERE key = ?", (time.time(), key))
        return _record(row)

    def put(self, record: CacheRecord) -> None:
        """Commit a completed operation's record (atomically; replaces an older one)."""
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO results (key, kind, snapshot, layer, meta, size, created, last_used) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.key,
                    record.kind,
                    record.snapshot,
                    json.dumps(record.layer) if record.layer else None,
                    json.dumps(record.meta, sort_keys=True),
                    record.size,
                    now,
                    now,
                ),
            )

    def delete(self, key: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM results WHERE key = ?", (key,))

    def records_by_age(self) -> Iterator[CacheRecord]:
        """Every record, least recently used first (what ``bakec prune`` removes first)."""
        for record, _last_used in self.rows_by_age():
            yield record

    def rows_by_age(self) -> list[tuple[CacheRecord, float]]:
        """Every record with its last use (a Unix time), least recently used first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, kind, snapshot, layer, meta, size, last_used FROM results ORDER BY last_used ASC"
            ).fetchall()
        return [(_record(row), row[6]) for row in rows]

    def total_size(self) -> int:
        return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM results").fetchone()[0])

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


def _record(row: Sequence[Any]) -> CacheRecord:
    """A ``results`` row (key, kind, snapshot, layer, meta, size, ...) as a record."""
    return CacheRecord(
        row[0], row[1], row[2], json.loads(row[3]) if row[3] else None, json.loads(row[4]), row[5]
    )


def parse_size(text: str) -> int:
    """``--keep-storage`` sizes as buildx reads them (``opts.MemBytes``, go-units ``RAMInBytes``).

    Binary multipliers whatever the spelling: ``512MB``, ``512m`` and ``512MiB`` are all 512 MiB.
    """
    try:
        return ram_in_bytes(text)
    except ValueError:
        raise ValueError(
            f"invalid size {text!r}: expected a number with an optional unit (MB, MiB, GB, ...)"
        ) from None
