""".dockerignore reading and matching, as BuildKit does it (moby/patternmatcher + fsutil).

* :func:`find_ignore_file` picks ``<Dockerfile>.dockerignore`` next to the
  Dockerfile, else ``.dockerignore`` at the context root (the first replaces
  the second entirely).
* :func:`read_patterns` cleans each line like ``ignorefile.ReadAll``.
* :class:`PatternMatcher` answers "is this path excluded" with the
  last-matching-rule-wins logic, including parent-directory matches.
* :func:`walk` lists what the client would send: excluded directories are
  skipped unless a ``!`` rule could re-include something below them.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Pattern", "PatternMatcher", "find_ignore_file", "read_patterns", "walk"]


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


_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"
_SHOULD_ESCAPE = set(".+()|{}$")


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path) if path else "."
    # Go's filepath.Clean keeps a single leading slash (posixpath keeps "//").
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


@dataclass
class Pattern:
    """One ignore rule (``exclusion`` is a ``!`` rule that re-includes)."""

    text: str
    exclusion: bool
    cleaned: str
    match_type: str
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, text: str) -> Pattern:
        raw = text
        exclusion = False
        if raw.startswith("!"):
            if len(raw) == 1:
                raise ValueError('illegal exclusion pattern: "!"')
            exclusion = True
            raw = raw[1:]
        match_type, regex = _compile(raw)
        return cls(text, exclusion, raw, match_type, regex)

    def match(self, path: str) -> bool:
        if self.match_type == _EXACT:
            return path == self.cleaned
        if self.match_type == _PREFIX:
            return path.startswith(self.cleaned[:-2])
        if self.match_type == _SUFFIX:
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    reg = ["^"]
    match_type = _EXACT
    i = 0
    index = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if match_type == _EXACT:
                        match_type = _PREFIX
                    else:
                        reg.append(".*")
                        match_type = _REGEXP
                else:
                    reg.append("(.*/)?")
                    match_type = _REGEXP
                if index == 0:
                    match_type = _SUFFIX
            else:
                reg.append("[^/]*")
                match_type = _REGEXP
        elif ch == "?":
            reg.append("[^/]")
            match_type = _REGEXP
        elif ch in _SHOULD_ESCAPE:
            reg.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                reg.append(re.escape(pattern[i]))
                i += 1
            else:
                reg.append("\\\\")
        elif ch in "[]":
            reg.append(ch)
            match_type = _REGEXP
        else:
            # Go's RE2 reads a bare "^" as an anchor too, so the rule never matches.
            reg.append(ch)
        index += 1
    if match_type != _REGEXP:
        return match_type, None
    reg.append("$")
    try:
        return match_type, re.compile("".join(reg), re.DOTALL)
    except re.error as exc:
        raise ValueError(f"syntax error in pattern {pattern!r}: {exc}") from None


class PatternMatcher:
    """moby/patternmatcher's PatternMatcher (only ``/`` separators)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [Pattern.compile(_clean(p.strip())) for p in patterns if p.strip()]

    def matches(self, path: str) -> bool:
        """True when ``path`` (relative, ``/``-separated) is excluded by the rules."""
        path = _clean(path).lstrip("/") or "."
        parent = posixpath.dirname(path) or "."
        parent_dirs = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                for i in range(len(parent_dirs)):
                    if pattern.match("/".join(parent_dirs[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether a ``!`` rule names a path under an excluded ``directory`` (fsutil's rule)."""
        prefix = directory.rstrip("/") + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)


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
