"""Path patterns, as Go and moby match them: the one implementation bakec uses.

* :func:`go_match` is Go's ``filepath.Match`` (COPY source wildcards, ``--set`` target
  patterns): ``*`` and ``?`` never match ``/``, ``[...]`` classes with ``^`` negation and
  ranges, ``\\`` escapes.
* :class:`PatternMatcher` is moby/patternmatcher (``.dockerignore``, COPY ``--exclude``,
  ``--parents`` include patterns): each pattern is compiled to a regular expression exactly
  as moby does (:func:`moby_regexp`), then read with Go's RE2 syntax (so ``[^a]`` is a
  negated class and ``[!a]`` a class of ``!`` and ``a``); ``**`` spans directories, a
  pattern matching a directory matches everything below it, ``!`` re-includes and the last
  matching pattern wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bakec.errors import PatternError

__all__ = [
    "PatternMatcher",
    "compile_go_pattern",
    "go_match",
    "has_wildcards",
    "moby_regexp",
    "split_wildcards",
]


# --------------------------------------------------------------------------
# Go's filepath.Match


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


@lru_cache(maxsize=1024)
def compile_go_pattern(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` pattern as a regex for ``fullmatch``; PatternError when malformed."""
    out: list[str] = []
    i, n = 0, len(pattern)

    def bad() -> PatternError:
        return PatternError(f"syntax error in pattern: {pattern}")

    def class_char(i: int) -> tuple[str, int]:  # Go's getEsc
        if i >= n or pattern[i] in "-]":
            raise bad()
        if pattern[i] == "\\":
            i += 1
            if i >= n:
                raise bad()
        return pattern[i], i + 1

    while i < n:
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                raise bad()
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            items: list[str] = []
            first = True
            while True:
                if i < n and pattern[i] == "]" and not first:
                    break
                first = False
                lo, i = class_char(i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = class_char(i + 1)
                if lo <= hi:  # Go accepts a reversed range; it matches nothing
                    items.append(re.escape(lo) + "-" + re.escape(hi) if hi != lo else re.escape(lo))
            body = "".join(items)
            if body:
                out.append(("[^" if negate else "[") + body + "]")
            else:
                out.append("." if negate else "(?!)")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def go_match(pattern: str, name: str) -> bool:
    """Go's ``filepath.Match(pattern, name)``, ``False`` for a malformed pattern (as BuildKit ignores it)."""
    try:
        rx = compile_go_pattern(pattern)
    except PatternError:
        return False
    return rx.fullmatch(name) is not None


# --------------------------------------------------------------------------
# moby/patternmatcher

_EXACT, _PREFIX, _SUFFIX, _REGEXP = "exact", "prefix", "suffix", "regexp"
_SHOULD_ESCAPE = frozenset(".+()|{}$")


def moby_regexp(pattern: str) -> tuple[str, str]:
    """moby's ``Pattern.compile``: the match type and the Go regexp text (``""`` unless ``regexp``)."""
    reg = ["^"]
    kind = _EXACT
    i, n = 0, len(pattern)
    index = 0
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == _EXACT:
                        kind = _PREFIX
                    else:
                        reg.append(".*")
                        kind = _REGEXP
                else:
                    reg.append("(.*/)?")
                    kind = _REGEXP
                if index == 0:
                    kind = _SUFFIX
            else:
                reg.append("[^/]*")
                kind = _REGEXP
        elif ch == "?":
            reg.append("[^/]")
            kind = _REGEXP
        elif ch in _SHOULD_ESCAPE:
            reg.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                reg.append("\\" + pattern[i])
                i += 1
                kind = _REGEXP
            else:
                reg.append("\\")
        elif ch in "[]":
            reg.append(ch)
            kind = _REGEXP
        else:
            reg.append(ch)
        index += 1
    if kind != _REGEXP:
        return kind, ""
    reg.append("$")
    return kind, "".join(reg)


class Pattern:
    """One compiled pattern (``exclusion`` is a ``!`` pattern that re-includes)."""

    __slots__ = ("cleaned", "error", "exclusion", "kind", "regex")

    def __init__(self, cleaned: str, exclusion: bool) -> None:
        self.cleaned = cleaned
        self.exclusion = exclusion
        self.kind, text = moby_regexp(cleaned)
        self.regex: re.Pattern[str] | None = None
        self.error = ""
        if text:
            try:
                self.regex = re.compile(go_regexp_to_python(text), re.ASCII)
            except PatternError as exc:  # moby reports it on the first match, not before
                self.error = str(exc)

    def match(self, path: str) -> bool:
        kind = self.kind
        if kind == _EXACT:
            return path == self.cleaned
        if kind == _PREFIX:
            return path.startswith(self.cleaned[:-2])
        if kind == _SUFFIX:
            suffix = self.cleaned[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        if self.regex is None:
            raise PatternError(f"syntax error in pattern: {self.cleaned}: {self.error}")
        return self.regex.match(path) is not None


def clean_pattern(p: str) -> str:
    """Go's ``filepath.Clean`` (one leading ``/`` kept, ``.`` for nothing)."""
    rooted = p.startswith("/")
    parts: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
                continue
            if rooted:
                continue
        parts.append(part)
    out = "/".join(parts)
    return ("/" + out) if rooted else (out or ".")


class PatternMatcher:
    """moby/patternmatcher's ``PatternMatcher`` (``/`` separators only)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        """moby's ``New``: PatternError for a lone ``!`` or a pattern ``filepath.Match`` rejects."""
        self.patterns: list[Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = clean_pattern(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise PatternError('illegal exclusion pattern: "!"')
                p = p[1:]
            compile_go_pattern(p)  # moby checks the syntax with filepath.Match
            self.patterns.append(Pattern(p, exclusion))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, path: str) -> bool:
        """``MatchesOrParentMatches``: ``path`` (relative, ``/``-separated) or a parent is matched."""
        matched = False
        parents: list[str] | None = None
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit:
                if parents is None:
                    parents = _parents(path)
                for parent in parents:
                    if pattern.match(parent):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def matches_with_parent(self, path: str, parent: Sequence[bool] | None) -> tuple[bool, tuple[bool, ...]]:
        """``MatchesUsingParentResults``: reuse the per-pattern results of the parent directory."""
        matched = False
        out: list[bool] = []
        parents: list[str] | None = None
        for i, pattern in enumerate(self.patterns):
            hit = parent[i] if parent else False
            if not hit:
                if pattern.exclusion != matched:
                    out.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent:
                    if parents is None:
                        parents = _parents(path)
                    hit = any(pattern.match(p) for p in parents)
            out.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, tuple(out)

    def may_reinclude_below(self, directory: str) -> bool:
        """Whether a ``!`` pattern names something inside ``directory`` (fsutil's walker check)."""
        prefix = directory.rstrip("/") + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)


def _parents(path: str) -> list[str]:
    """``a/b/c`` -> ``["a", "a/b"]`` (moby's parentPathDirs prefixes)."""
    head = path.rpartition("/")[0]
    if not head or head == ".":
        return []
    dirs = head.split("/")
    return ["/".join(dirs[: i + 1]) for i in range(len(dirs))]


# --------------------------------------------------------------------------
# Go RE2 syntax, read into Python's (for the subset moby's patterns can produce)

_PERL_CLASSES = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
POSIX_CLASSES = {  # RE2's [[:name:]] classes, ASCII as in Go (also the HCL stdlib's regex functions)
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_CONTROL = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@lru_cache(maxsize=1024)
def go_regexp_to_python(src: str) -> str:
    """The Python regex for Go regexp text ``src``; PatternError where Go's ``regexp.Compile`` fails."""
    out: list[str] = []
    i, n = 0, len(src)

    def bad(why: str) -> PatternError:
        return PatternError(f"error parsing regexp: {why}: `{src}`")

    def escape(i: int, in_class: bool) -> tuple[str, int]:
        """Go's parseEscape (+ Perl classes) for the ``\\`` at ``i - 1``: a Python fragment."""
        if i >= n:
            raise bad("trailing backslash at end of expression")
        c = src[i]
        i += 1
        if c < "\x80" and not c.isalnum():
            return re.escape(c), i
        if c in _PERL_CLASSES or c.lower() in _PERL_CLASSES:
            body = _PERL_CLASSES[c.lower()]
            if in_class:
                if c.isupper():
                    raise bad(f"invalid escape sequence: `\\{c}`")  # not representable inside [...]
                return body, i
            return ("[^" if c.isupper() else "[") + body + "]", i
        if c in "1234567" and not (i < n and "0" <= src[i] <= "7"):
            raise bad(f"invalid escape sequence: `\\{c}`")
        if c in "01234567":
            value = int(c)
            for _ in range(2):
                if i < n and "0" <= src[i] <= "7":
                    value = value * 8 + int(src[i])
                    i += 1
            return re.escape(chr(value)), i
        if c == "x":
            if i < n and src[i] == "{":
                end = src.find("}", i)
                digits = src[i + 1 : end] if end > 0 else ""
                i = end + 1
            else:
                digits, i = src[i : i + 2], i + 2
            try:
                return re.escape(chr(int(digits, 16))), i
            except ValueError:
                raise bad("invalid escape sequence") from None
        if c in _CONTROL:
            return re.escape(_CONTROL[c]), i
        if not in_class and c in "AbB":
            return "\\" + c, i
        if not in_class and c == "z":
            return "\\Z", i
        raise bad(f"invalid escape sequence: `\\{c}`")

    def char_class(i: int) -> tuple[str, int]:
        """Go's parseClass for the ``[`` at ``i - 1``."""
        negate = i < n and src[i] == "^"
        if negate:
            i += 1
        items: list[str] = []
        first = True
        while i >= n or src[i] != "]" or first:
            if i >= n:
                raise bad("missing closing ]")
            first = False
            if src.startswith("[:", i):
                end = src.find(":]", i + 2)
                if end >= 0:
                    name = src[i + 2 : end]
                    if name.startswith("^"):
                        raise bad("invalid character class range")  # negated POSIX classes: not needed
                    if name not in POSIX_CLASSES:
                        raise bad(f"invalid character class range: `[:{name}:]`")
                    items.append(POSIX_CLASSES[name])
                    i = end + 2
                    continue
            if src[i] == "\\" and i + 1 < n and src[i + 1].lower() in _PERL_CLASSES:
                part, i = escape(i + 1, True)
                items.append(part)
                continue
            lo, i = class_char(i)
            hi = lo
            if i + 1 < n and src[i] == "-" and src[i + 1] != "]":
                hi, i = class_char(i + 1)
                if hi < lo:
                    raise bad("invalid character class range")
            items.append(re.escape(lo) if lo == hi else re.escape(lo) + "-" + re.escape(hi))
        return ("[^" if negate else "[") + "".join(items) + "]", i + 1

    def class_char(i: int) -> tuple[str, int]:
        if src[i] != "\\":
            return src[i], i + 1
        part, i = escape(i + 1, True)
        return (part[1:] if part.startswith("\\") else part), i

    while i < n:
        ch = src[i]
        i += 1
        if ch == "\\":
            if i < n and src[i] == "Q":  # \Q...\E: literal text
                end = src.find("\\E", i + 1)
                text = src[i + 1 :] if end < 0 else src[i + 1 : end]
                out.append(re.escape(text))
                i = n if end < 0 else end + 2
                continue
            part, i = escape(i, False)
            out.append(part)
        elif ch == "[":
            part, i = char_class(i)
            out.append(part)
        elif ch == "$":
            out.append("\\Z")
        elif ch in "^.()?*":
            out.append(ch)
        else:
            out.append(re.escape(ch))
    text = "".join(out)
    try:
        re.compile(text)
    except re.error as exc:
        raise bad(str(exc)) from None
    return text
