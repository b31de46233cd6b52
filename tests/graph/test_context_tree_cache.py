"""The tree cache of local contexts: an unchanged tree comes back whole, any change is seen."""

from __future__ import annotations

import os

from graph_helpers import age, write

from bakec.graph.context import ContextHasher

FILES = {f"pkg{d}/f{i:02d}.py": f"v = {d * 100 + i}\n" for d in range(3) for i in range(40)}


def _digests(cache, root, *selections) -> tuple[list[str], ContextHasher]:
    with ContextHasher(cache) as h:
        index = h.index(root)
        return [index.digest(sel) for sel in selections], h


def _fresh(root, *selections) -> list[str]:
    index = ContextHasher(persist=False).index(root)
    return [index.digest(sel) for sel in selections]


def test_unchanged_tree_is_reused_with_its_digests(tmp_path):
    root = write(tmp_path / "ctx", FILES)
    age(root)
    first, h = _digests(tmp_path / "cache", root, ("/",), ("pkg1",))
    assert h.trees_reused == 0 and h.files_read == len(FILES)
    again, h = _digests(tmp_path / "cache", root, ("/",), ("pkg1",))
    assert again == first == _fresh(root, ("/",), ("pkg1",))
    assert h.trees_reused == 1 and h.files_read == 0
    # a selection the cache has not seen yet is computed from the kept entries
    (new,), h = _digests(tmp_path / "cache", root, ("pkg2/f03.py", "pkg0"))
    assert h.trees_reused == 1 and h.files_read == 0
    assert [new] == _fresh(root, ("pkg2/f03.py", "pkg0"))


def test_content_mode_new_and_removed_files_invalidate_the_tree(tmp_path):
    root = write(tmp_path / "ctx", FILES)
    age(root)
    cache = tmp_path / "cache"
    _digests(cache, root, ("/",))

    def changed(step) -> None:
        before, _ = _digests(cache, root, ("/",))
        step()
        age(root)
        after, h = _digests(cache, root, ("/",))
        assert h.trees_reused == 0
        assert after != before
        assert after == _fresh(root, ("/",))

    changed(lambda: (root / "pkg0/f01.py").write_text("v = 'changed'\n"))
    changed(lambda: os.chmod(root / "pkg1/f02.py", 0o755))
    changed(lambda: (root / "pkg2/new.py").write_text("new\n"))
    changed(lambda: os.remove(root / "pkg2/f05.py"))
    changed(lambda: (root / "pkg0/empty").mkdir())
    changed(lambda: os.symlink("f01.py", root / "pkg0/link"))


def test_recently_changed_trees_are_not_kept(tmp_path):
    root = write(tmp_path / "ctx", {"a": "1", "b": "2"})
    _digests(tmp_path / "cache", root, ("/",))
    _, h = _digests(tmp_path / "cache", root, ("/",))
    assert h.trees_reused == 0  # written this second: its timestamp tick may not be over


def test_dockerignore_patterns_have_their_own_tree(tmp_path):
    root = write(tmp_path / "ctx", {"keep.txt": "k", "skip.log": "s"})
    age(root)
    cache = tmp_path / "cache"
    with ContextHasher(cache) as h:
        plain = h.index(root).digest()
        ignored = h.index(root, ["*.log"]).digest()
    assert plain != ignored
    with ContextHasher(cache) as h:
        assert h.index(root, ["*.log"]).digest() == ignored
        assert h.index(root).digest() == plain
        assert h.trees_reused == 2
