"""Path patterns of file operations, with Go's and moby's semantics.

* :func:`go_match` is Go's ``filepath.Match``: ``*`` and ``?`` never match ``/``,
  ``[...]`` classes with ``^`` negation and ranges, ``\\`` escapes. A malformed
  pattern matches nothing (BuildKit ignores the error).
* :class:`PatternMatcher` is moby/patternmatcher as fsutil's copy uses it for
  ``--exclude``, ``--parents`` include patterns and ``.dockerignore``: ``**``
  spans directories, a pattern matching a directory matches everything below it,
  ``!`` re-includes and the last matching pattern wins.

The Dockerfile frontend has its own ``.dockerignore`` matcher; the worker sits
below it and cannot import it, so the few lines are written again here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = ["PatternMatcher", "go_match", "has_wildcards", "split_wildcards"]


def has_wildcards(name: str) -> bool:
    """True when ``name`` holds an unescaped ``*``, ``?`` or ``[``."""
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "*?[":
            return True
        i += 1
    return False


def split_wildcards(path: str) -> tuple[str, str]:
    """``/foo/bar*/baz`` -> (``/foo``, ``bar*/baz``): the literal prefix and the rest."""
    literal: list[str] = []
    rest: list[str] = []
    found = False
    for part in path.split("/"):
        if not found and has_wildcards(part):
            found = True
        (rest if found else literal).append(part)
    prefix = "/".join(literal)
    if path.startswith("/") and not prefix.startswith("/"):
        prefix = "/" + prefix
    return prefix or ("/" if path.startswith("/") else "."), "/".join(p for p in rest if p)


@lru_cache(maxsize=512)
def _go_regex(pattern: str) -> re.Pattern[str] | None:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            items: list[str] = []
            first = True
            while True:
                if i >= n:
                    return None
                c = pattern[i]
                if c == "]" and not first:
                    break
                first = False
                if c == "\\":
                    i += 1
                    if i >= n:
                        return None
                    c = pattern[i]
                elif c in "-]":
                    return None
                lo = c
                if i + 1 < n and pattern[i + 1] == "-":
                    i += 2
                    if i >= n:
                        return None
                    c2 = pattern[i]
                    if c2 == "\\":
                        i += 1
                        if i >= n:
                            return None
                        c2 = pattern[i]
                    elif c2 in "-]":
                        return None
                    if c2 < lo:
                        return None
                    items.append(re.escape(lo) + "-" + re.escape(c2))
                else:
                    items.append(re.escape(lo))
                i += 1
            body = "".join(items)
            out.append(("[^/" + body + "]") if negate else ("[" + body + "]"))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)`` (``False`` for a bad pattern)."""
    rx = _go_regex(pattern)
    return rx is not None and rx.fullmatch(name) is not None


_ESCAPE = set(".+()|{}$")


class _Pattern:
    __slots__ = ("cleaned", "exclusion", "kind", "regex")

    def __init__(self, text: str, exclusion: bool) -> None:
        self.cleaned = text
        self.exclusion = exclusion
        self.kind, self.regex = _compile(text)

    def match(self, path: str) -> bool:
        kind = self.kind
        if kind == "exact":
            return path == self.cleaned
        if kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if kind == "suffix":
            suffix = self.cleaned[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    reg = ["^"]
    kind = "exact"
    i, n = 0, len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg.append(".*")
                        kind = "regexp"
                else:
                    reg.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                reg.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            reg.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPE:
            reg.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                reg.append(re.escape(pattern[i]))
                i += 1
            else:
                reg.append("\\\\")
        elif ch in "[]":
            reg.append(ch)
            kind = "regexp"
        else:
            reg.append(re.escape(ch) if ch in "^*" else ch)
        first = False
    if kind != "regexp":
        return kind, None
    reg.append("$")
    try:
        return kind, re.compile("".join(reg))
    except re.error:
        return "never", None


def _clean_pattern(p: str) -> str:
    """Go's ``filepath.Clean`` for a relative pattern."""
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
            continue
        if part == ".." and rooted:
            continue
        parts.append(part)
    out = "/".join(parts)
    return ("/" + out) if rooted else (out or ".")


class PatternMatcher:
    """moby/patternmatcher: ``matches`` and the incremental ``matches_with_parent``."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = _clean_pattern(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                p = p[1:]
            self.patterns.append(_Pattern(p, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is matched, parents included."""
        return self.matches_with_parent(path, None)[0]

    def matches_with_parent(self, path: str, parent: Sequence[bool] | None) -> tuple[bool, tuple[bool, ...]]:
        """``MatchesUsingParentResults``: reuse the per-pattern results of the parent directory."""
        matched = False
        out: list[bool] = []
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    out.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent:
                    head, _, _ = path.rpartition("/")
                    if head:
                        dirs = head.split("/")
                        for j in range(1, len(dirs) + 1):
                            if pattern.match("/".join(dirs[:j])):
                                hit = True
                                break
            out.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(out)

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether a ``!`` pattern names something inside ``directory`` (fsutil's walker check)."""
        prefix = directory.rstrip("/") + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)
