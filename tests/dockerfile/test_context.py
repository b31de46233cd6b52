"""The context preflight reports missing or ignored COPY sources as BuildKit does."""

from __future__ import annotations

from pathlib import Path

import pytest
from dockerfile_support import plan

from bakec.dockerfile import DockerfileError
from bakec.dockerfile.context import check_context_sources


def _ctx(tmp_path: Path, ignore: str = "") -> Path:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text("s")
    if ignore:
        (tmp_path / ".dockerignore").write_text(ignore)
    return tmp_path


def test_present_sources_wildcards_and_other_origins_pass(tmp_path: Path) -> None:
    p = plan(
        "FROM scratch AS s\nFROM scratch\nCOPY dir/a.txt ../dir /x/\nCOPY *.none /n/\nCOPY --from=s /nope /\n"
        "ADD http://h/x /y\n"
    )
    check_context_sources(p, _ctx(tmp_path))


def test_missing_source(tmp_path: Path) -> None:
    p = plan("FROM scratch\nCOPY missing.txt /\n")
    with pytest.raises(DockerfileError, match='"/missing.txt": not found') as info:
        check_context_sources(p, _ctx(tmp_path))
    assert info.value.line == 2


def test_ignored_source_is_missing_too(tmp_path: Path) -> None:
    p = plan("FROM scratch\nCOPY secret.txt /\n")
    with pytest.raises(DockerfileError, match='"/secret.txt": not found'):
        check_context_sources(p, _ctx(tmp_path, "secret.txt\n"))


def test_negated_rule_re_includes_the_source(tmp_path: Path) -> None:
    p = plan("FROM scratch\nCOPY secret.txt /\n")
    check_context_sources(p, _ctx(tmp_path, "*.txt\n!secret.txt\n"))
