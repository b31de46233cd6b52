"""Local-context hashing: what is hashed, what is not, and the stat cache."""

from __future__ import annotations

import os

from graph_helpers import age, write

from bakec.fs import fileops
from bakec.fs.fileops import Source
from bakec.graph.context import ContextHasher, select_key
from bakec.ops import Copy


def test_unchanged_context_is_not_read_again(tmp_path):
    root = write(tmp_path / "ctx", {f"pkg/f{i:03d}.py": f"v = {i}\n" for i in range(300)})
    age(root)
    with ContextHasher(tmp_path / "cache") as first:
        digest = first.index(root).digest()
        assert first.files_read == 300
    with ContextHasher(tmp_path / "cache") as second:
        assert second.index(root).digest() == digest
        assert second.files_read == 0
    changed = root / "pkg/f007.py"
    changed.write_text("v = 'changed'\n")
    os.utime(changed, (changed.stat().st_mtime - 100,) * 2)  # only this file's ctime moves
    with ContextHasher(tmp_path / "cache") as third:
        assert third.index(root).digest() != digest
        assert third.files_read == 1


def test_recently_changed_files_are_not_trusted_from_the_cache(tmp_path):
    root = write(tmp_path / "ctx", {"a": "1"})
    with ContextHasher(tmp_path / "cache") as h:
        h.index(root)
    with ContextHasher(tmp_path / "cache") as h:
        h.index(root)
        assert h.files_read == 1  # too fresh to cache: its mtime tick may not be over


def test_mtime_and_location_do_not_change_the_key(tmp_path):
    files = {"a.txt": "a", "d/b.txt": "b", "d/e/c": "c"}
    one = write(tmp_path / "one", files)
    two = write(tmp_path / "elsewhere" / "two", files)
    age(two, 5000)
    hasher = ContextHasher(persist=False)
    assert hasher.index(one).digest() == hasher.index(two).digest()


def test_mode_symlink_target_and_empty_dirs_change_the_key(tmp_path):
    root = write(tmp_path / "ctx", {"run.sh": "echo"})
    base = ContextHasher(persist=False).index(root).digest()
    os.chmod(root / "run.sh", 0o755)
    chmodded = ContextHasher(persist=False).index(root).digest()
    assert chmodded != base
    (root / "empty").mkdir()
    with_dir = ContextHasher(persist=False).index(root).digest()
    assert with_dir != chmodded
    os.symlink("run.sh", root / "link")
    linked = ContextHasher(persist=False).index(root).digest()
    os.remove(root / "link")
    os.symlink("other", root / "link")
    assert ContextHasher(persist=False).index(root).digest() != linked


def test_dockerignore_patterns_exclude_files_from_the_key(tmp_path):
    root = write(tmp_path / "ctx", {"src/a.py": "a", "src/a.log": "x", "docs/README.md": "r", "docs/x": "y"})
    patterns = ("**/*.log", "docs", "!docs/README.md")
    index = ContextHasher(persist=False).index(root, patterns)
    assert [e.path for e in index.entries] == ["docs", "docs/README.md", "src", "src/a.py"]
    before = index.digest()
    (root / "src/a.log").write_text("changed")
    (root / "docs/x").write_text("changed")
    assert ContextHasher(persist=False).index(root, patterns).digest() == before


def test_selection_follows_copy_semantics(tmp_path):
    root = write(
        tmp_path / "ctx", {"src/a.py": "a", "src/sub/b.py": "b", "srcx/c": "c", "top.txt": "t", "x.md": "m"}
    )
    os.symlink("src", root / "alias")
    index = ContextHasher(persist=False).index(root)

    def paths(*sources):
        return [e.path for e in index.select(sources)]

    assert paths("src/") == ["src", "src/a.py", "src/sub", "src/sub/b.py"]
    assert paths("./src") == paths("/src") == paths("../src") == paths("src/")
    assert paths("*.txt", "*.md") == ["top.txt", "x.md"]
    assert paths("src/*.py") == ["src/a.py"]
    assert paths("alias") == ["alias", "src", "src/a.py", "src/sub", "src/sub/b.py"]
    assert paths(".") == [e.path for e in index.entries]
    assert index.digest(["src"]) == index.digest(["./src/"])
    assert select_key(["b", "/a/", "a"]) == ("a", "b")


def test_copy_exclude_patterns_match_relative_to_each_source(tmp_path):
    root = write(tmp_path / "ctx", {"dir/keep": "k", "dir/skip1": "s", "dir/sub/skip2": "s", "skip0": "x"})
    index = ContextHasher(persist=False).index(root)

    def paths(sources, exclude):
        return [e.path for e in index.select(sources, exclude)]

    assert paths(["dir"], ["skip*"]) == ["dir", "dir/keep", "dir/sub", "dir/sub/skip2"]
    assert paths(["dir"], ["**/skip*"]) == ["dir", "dir/keep", "dir/sub"]
    assert paths(["."], ["skip*"]) == ["dir", "dir/keep", "dir/skip1", "dir/sub", "dir/sub/skip2"]
    before = index.digest(["dir"], ["skip*"])
    (root / "dir/skip1").write_text("changed")
    after = ContextHasher(persist=False).index(root)
    assert after.digest(["dir"], ["skip*"]) == before
    assert after.digest(["dir"]) != index.digest(["dir"])


def test_key_listing_and_copy_agree_on_a_negated_class(tmp_path):
    # .dockerignore "[^a]": RE2 reads a negated class, so "b" is ignored and "a" sent. The cache
    # key once used the frontend's matcher and the copy a second one that escaped the "^" (and
    # ignored "a" instead): both now read util.patternmatch, and must list the same files.
    root = write(tmp_path / "ctx", {"a": "A", "b": "B", "sub/c": "C"})
    patterns = ("[^a]",)
    index = ContextHasher(persist=False).index(root, patterns)
    assert [e.path for e in index.entries] == ["a", "sub", "sub/c"]

    dest = tmp_path / "dest"
    dest.mkdir()
    fileops.apply(str(dest), [Copy(0, ".", "/")], [Source(str(root), local=True, ignore=patterns)])
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*"))
    assert copied == [e.path for e in index.entries]
