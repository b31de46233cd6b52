"""The ``find`` listing of a context gives the stats of bakec's own walk; its index is the same."""

from __future__ import annotations

import os

import pytest

from bakec.errors import BakecError
from bakec.graph import listing
from bakec.graph.context import ContextHasher, _walk


def _tree(root):
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "dir" / "b.bin").write_bytes(b"\0" * 3000)
    (root / "dir" / "sub" / "c").write_text("c")
    os.chmod(root / "a.txt", 0o4755)
    os.chmod(root / "dir" / "sub", 0o1777)
    os.symlink("a.txt", root / "link")
    os.mkfifo(root / "fifo")
    os.utime(root / "dir" / "b.bin", ns=(0, -315_619_199_500_000_000))  # 1960, half a second
    (root / os.fsdecode(b"caf\xe9")).write_text("latin-1 name")  # not UTF-8
    return root


def test_listing_parses_to_the_stats_of_the_walk(tmp_path):
    root = _tree(tmp_path / "ctx")
    raw = listing.start(str(root)).output()
    assert raw is not None
    parsed = listing.parse(str(root), raw)
    assert sorted(parsed) == sorted(_walk(root, ()))
    assert len(parsed) == 8


def test_index_from_the_listing_equals_the_index_from_the_walk(tmp_path):
    root = _tree(tmp_path / "ctx")
    with ContextHasher(tmp_path / "c1") as h:
        h.prefetch(root)
        listed = h.index(root)
        assert h._listings == {str(root.resolve()): None}  # the prefetched listing was used
        h.prefetch(root)  # another target with the same context: no second listing
        assert h._listings == {str(root.resolve()): None}
    with ContextHasher(tmp_path / "c2") as h:
        walked = h.index(root, ("nothing-matches",))
    assert listed.entries == walked.entries
    assert listed.digest() == walked.digest()


def test_a_change_after_the_listing_is_seen_by_the_next_build(tmp_path):
    root = _tree(tmp_path / "ctx")
    old = 1_600_000_000_000_000_000
    for path in root.rglob("*"):
        os.utime(path, ns=(old, old), follow_symlinks=False)  # old enough for the tree to be kept
    with ContextHasher(tmp_path / "c") as h:
        first = h.index(root).digest()
    with ContextHasher(tmp_path / "c") as h:
        assert h.index(root).digest() == first and h.trees_reused == 1
    (root / "dir" / "sub" / "c").write_text("C")
    with ContextHasher(tmp_path / "c") as h:
        # the changed file, and the one whose name is not UTF-8 (its stat is never kept)
        assert h.index(root).digest() != first and h.trees_reused == 0 and h.files_read == 2


def test_an_unused_prefetch_is_stopped(tmp_path):
    root = _tree(tmp_path / "ctx")
    h = ContextHasher(tmp_path / "c")
    h.prefetch(root)
    proc = h._listings[str(root.resolve())]._proc
    h.close()
    assert proc is not None and proc.returncode is not None and not h._listings


def test_a_device_gone_since_the_listing_is_an_error_not_a_traceback(tmp_path):
    record = b"gone\0c644 0 1700000000.0 1 1700000000.0\0"  # find's record of a device removed since
    with pytest.raises(BakecError, match="unable to read context file gone: No such file or directory"):
        listing.parse(str(tmp_path), record)
