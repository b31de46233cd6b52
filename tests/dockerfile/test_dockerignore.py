""".dockerignore reading and matching as BuildKit (moby/patternmatcher, fsutil walk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dockerfile_support import CORPUS

from bakec.dockerfile.dockerignore import find_ignore_file, read_patterns, walk
from bakec.util.patternmatch import PatternMatcher


def test_read_patterns_cleans_lines_like_ignorefile() -> None:
    text = "# comment\n\n  *.log  \n!keep.log\n/rooted.txt\n./dotted.txt\ntmp/\n! spaced\n"
    assert read_patterns(text) == ["*.log", "!keep.log", "rooted.txt", "dotted.txt", "tmp", "!spaced"]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "nested/a.log", False),
        (["**/*.log"], "nested/deep/a.log", True),
        (["**/*.log"], "a.log", True),
        (["tmp"], "tmp/x/y", True),
        (["docs/**"], "docs", False),
        (["docs/**"], "docs/a/b.md", True),
        (["docs/**", "!docs/README.md"], "docs/README.md", False),
        (["*.log", "!keep.log"], "keep.log", False),
        (["!keep.log", "*.log"], "keep.log", True),
        (["sub/*/deep.txt"], "sub/x/deep.txt", True),
        (["sub/*/deep.txt"], "sub/x/y/deep.txt", False),
        (["file?.md"], "file1.md", True),
        (["[ab].txt"], "b.txt", True),
        (["[ab].txt"], "c.txt", False),
        (["*"], "anything/below", True),
        (["a\\*b*"], "a*bc", True),
        (["a\\*b*"], "axbc", False),
        (["a\\*b"], "a*b", True),  # an escape makes a regexp: the text is the unescaped name
        (["a\\*b"], "a\\*b", False),
        (["[^a]"], "b", True),  # RE2 reads [^a] as a negated class (fs/ once escaped the ^)
        (["[^a]"], "a", False),
        (["[!a]"], "b", False),  # ...and [!a] as the class of "!" and "a"
        (["[!a]"], "!", True),
        (["**"], "x/y", True),
    ],
)
def test_matches_with_last_rule_winning_and_parent_directories(
    patterns: list[str], path: str, excluded: bool
) -> None:
    assert PatternMatcher(patterns).matches(path) is excluded


def test_excluded_directory_is_walked_only_when_a_negation_points_inside(tmp_path: Path) -> None:
    for rel in ("keep/a.txt", "keep/drop.txt", "other/b.txt", "top.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert list(walk(tmp_path, ["*", "!keep/a.txt"])) == ["keep", "keep/a.txt"]
    assert list(walk(tmp_path, ["other"])) == ["keep", "keep/a.txt", "keep/drop.txt", "top.txt"]


def test_directory_with_all_contents_excluded_is_still_sent(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.log").write_text("x")
    assert list(walk(tmp_path, ["*/*.log"])) == ["d"]


def test_dockerfile_specific_ignore_file_replaces_the_root_one(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("*.md\n")
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert find_ignore_file(tmp_path, dockerfile) == tmp_path / ".dockerignore"
    (tmp_path / "build" / "app.Dockerfile.dockerignore").write_text("*.txt\n")
    assert find_ignore_file(tmp_path, dockerfile) == tmp_path / "build" / "app.Dockerfile.dockerignore"


def test_no_ignore_file(tmp_path: Path) -> None:
    assert find_ignore_file(tmp_path, tmp_path / "Dockerfile") is None


@pytest.mark.parametrize(
    ("case", "dockerfile"),
    [
        ("020-dockerignore", "Dockerfile"),
        ("021-dockerignore-per-dockerfile", "build/app.Dockerfile"),
        ("022-dockerignore-excludes-dockerfile", "Dockerfile"),
    ],
)
def test_corpus_contexts_send_exactly_what_buildkit_sent(case: str, dockerfile: str) -> None:
    ctx = CORPUS / case / "context"
    ignore = find_ignore_file(ctx, ctx / dockerfile)
    assert ignore is not None
    sent = sorted("/ctx/" + p for p in walk(ctx, read_patterns(ignore.read_text())))
    expected = sorted(
        e["path"]
        for e in json.loads((CORPUS / case / "expected-fs.json").read_text())
        if e["path"].startswith("/ctx/")
    )
    assert sent == expected
