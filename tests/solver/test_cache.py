"""The SQLite cache index: records survive processes, writes are atomic."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3

import pytest

from bakec.solver.cache_index import CacheIndex, CacheRecord, parse_size


def test_record_round_trips_across_connections(tmp_path):
    with CacheIndex(tmp_path / "index.db") as index:
        index.put(
            CacheRecord("sha256:a", "exec", "snap-a", {"digest": "sha256:l", "size": 3}, {"exit": 0}, 3)
        )
    with CacheIndex(tmp_path / "index.db") as index:
        record = index.get("sha256:a")
        assert record == CacheRecord(
            "sha256:a", "exec", "snap-a", {"digest": "sha256:l", "size": 3}, {"exit": 0}, 3
        )
        assert index.get("sha256:missing") is None
        assert len(index) == 1 and index.total_size() == 3


def test_index_uses_wal(tmp_path):
    CacheIndex(tmp_path / "index.db").close()
    mode = sqlite3.connect(tmp_path / "index.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def _writer(path: str) -> None:
    index = CacheIndex(__import__("pathlib").Path(path))
    i = 0
    while True:
        index.put(CacheRecord(f"k{i}", "exec", f"s{i}", None, {"n": i}, i))
        i += 1


def test_sigkill_mid_writes_leaves_only_complete_records(tmp_path):
    path = tmp_path / "index.db"
    CacheIndex(path).close()
    proc = multiprocessing.get_context("fork").Process(target=_writer, args=(str(path),))
    proc.start()
    import time

    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    with CacheIndex(path) as index:
        records = list(index.records_by_age())
        assert records, "the writer committed nothing"
        for record in records:
            n = int(record.key[1:])
            assert record.snapshot == f"s{n}" and record.meta == {"n": n} and record.size == n


@pytest.mark.parametrize(
    "text,expected",
    [
        ("512MB", 512 * 1024**2),
        ("10GiB", 10 * 1024**3),
        ("1.5g", int(1.5 * 1024**3)),
        ("100", 100),
    ],  # RAMInBytes
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_parse_size_rejects_garbage():
    with pytest.raises(ValueError, match="invalid size"):
        parse_size("lots")
