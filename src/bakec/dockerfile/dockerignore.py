""".dockerignore reading and matching, as BuildKit does it (moby/patternmatcher + fsutil).

* :func:`find_ignore_file` picks ``<Dockerfile>.dockerignore`` next to the
  Dockerfile, else ``.dockerignore`` at the context root (the first replaces
  the second entirely).
* :func:`read_patterns` cleans each line like ``ignorefile.ReadAll``.
* matching is :class:`bakec.util.patternmatch.PatternMatcher` (moby/patternmatcher),
  the same matcher the copy steps and the context key use.
* :func:`walk` lists what the client would send: excluded directories are
  skipped unless a ``!`` rule could re-include something below them.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from pathlib import Path

from bakec.util.patternmatch import PatternMatcher

__all__ = ["find_ignore_file", "read_patterns", "walk"]


def find_ignore_file(context_dir: Path, dockerfile: Path | None = None) -> Path | None:
    """The ignore file BuildKit uses for this context and Dockerfile, if any."""
    if dockerfile is not None:
        specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if specific.is_file():
            return specific
    root = context_dir / ".dockerignore"
    return root if root.is_file() else None


def read_patterns(text: str) -> list[str]:
    """The cleaned pattern list of an ignore file (comments and blanks dropped)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("\ufeff") and not out:
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        if invert:
            pattern = "!" + pattern
        out.append(pattern)
    return out


def walk(root: Path, patterns: Iterable[str]) -> Iterator[str]:
    """Relative paths (sorted, ``/``-separated) the client sends from ``root``.

    Parents of re-included files under an excluded directory are emitted too,
    as fsutil does.
    """
    matcher = PatternMatcher(patterns)

    def visit(rel_dir: str, emitted: bool) -> Iterator[str]:
        abs_dir = root / rel_dir if rel_dir else root
        try:
            names = sorted(os.listdir(abs_dir))
        except OSError:
            return
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = abs_dir / name
            is_dir = full.is_dir() and not full.is_symlink()
            if matcher.matches(rel):
                if is_dir and matcher.may_reinclude_below(rel):
                    children = list(visit(rel, False))
                    if children:
                        if not emitted:
                            yield from _missing_parents(rel_dir, seen)
                        yield rel
                        yield from children
                continue
            if not emitted:
                yield from _missing_parents(rel_dir, seen)
            yield rel
            if is_dir:
                yield from visit(rel, True)

    seen: set[str] = set()
    for path in visit("", True):
        if path not in seen:
            seen.add(path)
            yield path


def _missing_parents(rel_dir: str, seen: set[str]) -> Iterator[str]:
    if not rel_dir:
        return
    parts = rel_dir.split("/")
    for i in range(1, len(parts) + 1):
        parent = "/".join(parts[:i])
        if parent not in seen:
            yield parent
