"""Build records: written whole, newest first, bounded, and context lists kept while a record names them."""

from __future__ import annotations

import os
import time

from bakec.solver import records


def _record(n: int, local: str) -> dict:
    op = {
        "kind": "local",
        "label": "[t internal] load build context",
        "inputs": [],
        "state": "source",
        "op": {},
    }
    return {"version": records.VERSION, "time": n, "targets": {"t": {"": local}}, "ops": {local: op}}


def test_only_the_newest_records_are_kept_with_the_context_lists_they_name(tmp_path):
    digests = [f"sha256:{i:064x}" for i in range(4)]
    contexts = records.builds_dir(tmp_path) / "contexts"
    contexts.mkdir(parents=True)
    for n, digest in enumerate(digests):  # each build stores its lists, then its record
        path = contexts / (digest[7:] + ".json")
        path.write_text('{"a.txt": "f644:00"}')
        os.utime(path, (time.time() - 7200, time.time() - 7200))  # older than any running build
        records.write_record(tmp_path, _record(n, digest), keep=2)
    assert [r["time"] for r in records.read_records(tmp_path)] == [3, 2]
    assert records.context_files(tmp_path, digests[3]) == {"a.txt": "f644:00"}
    assert records.context_files(tmp_path, digests[2]) == {"a.txt": "f644:00"}
    assert records.context_files(tmp_path, digests[0]) is None
    assert not list(records.builds_dir(tmp_path).glob(".*"))  # no temporary file left behind


def test_unreadable_or_foreign_records_are_skipped(tmp_path):
    records.write_record(tmp_path, _record(1, "sha256:" + "a" * 64))
    (records.builds_dir(tmp_path) / "99999999999999999999-1.json").write_text("{not json")
    (records.builds_dir(tmp_path) / "99999999999999999998-1.json").write_text('{"version": 999}')
    assert [r["time"] for r in records.read_records(tmp_path)] == [1]
