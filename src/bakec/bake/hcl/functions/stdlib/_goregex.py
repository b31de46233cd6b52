"""Go RE2 patterns and replacement templates on top of Python's ``re``.

RE2 and ``re`` agree on most syntax. The differences that matter for bake
files are rewritten here: ``$`` and ``\\z`` (end of text only), ``(?<name>)``
groups, ``\\Q...\\E`` literals and POSIX ``[[:class:]]`` names. ``\\d``, ``\\w``,
``\\s`` and ``\\b`` are ASCII-only in RE2, hence ``re.ASCII``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bakec.util.patternmatch import POSIX_CLASSES as _POSIX


class PatternError(Exception):
    """The pattern is not valid RE2 syntax: Go's error ``code`` and the offending ``expr``."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr


def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern into an equivalent Python pattern."""
    try:
        return re.compile(_translate(pattern), re.ASCII)
    except re.error as err:
        raise PatternError(*_go_error(err, pattern)) from None


def _go_error(err: re.error, pattern: str) -> tuple[str, str]:
    msg, pos = err.msg, err.pos or 0
    if msg.startswith("missing ), unterminated subpattern"):
        return "missing closing )", pattern
    if msg.startswith("unbalanced parenthesis"):
        return "unexpected )", pattern
    if msg.startswith("unterminated character set"):
        return "missing closing ]", pattern[pos:]
    if msg.startswith(("nothing to repeat", "multiple repeat")):
        return "missing argument to repetition operator", pattern[pos : pos + 1]
    return msg, pattern


def _translate(pattern: str) -> str:
    multiline = re.search(r"\(\?[a-zA-Z]*m[a-zA-Z]*[:)]", pattern) is not None
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0" and not in_class:
                raise PatternError("invalid escape sequence", pattern[i : i + 2])
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z" and not in_class:
                out.append("\\Z")
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                name = pattern[i + 2 : end] if end > 0 else ""
                negate = name.startswith("^")
                if name.lstrip("^") in _POSIX and not negate:
                    out.append(_POSIX[name])
                    i = end + 2
                    continue
            if ch == "]":
                in_class = False
            elif ch == "[":
                out.append("\\[")
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A leading "]" (after an optional "^") is a literal in both dialects.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        for perl in ("(?=", "(?!", "(?<=", "(?<!", "(?>"):
            if pattern.startswith(perl, i):
                raise PatternError("invalid or unsupported Perl syntax", perl)
        if pattern.startswith("(?<", i):
            out.append("(?P<")
            i += 3
            continue
        if ch == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def find_all(regex: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Successive matches as Go returns them: an empty match right after a match is skipped."""
    prev_end = -1
    for match in regex.finditer(text):
        start, end = match.span()
        accept = not (start == end and start == prev_end)
        prev_end = end
        if accept:
            yield match


def expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$``."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        if i + 1 < n and template[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        name, end = _extract_name(template, i + 1)
        if name is None:
            out.append("$")
            i += 1
            continue
        out.append(_group(match, name))
        i = end
    return "".join(out)


def _extract_name(template: str, i: int) -> tuple[str | None, int]:
    braced = i < len(template) and template[i] == "{"
    j = i + 1 if braced else i
    k = j
    while k < len(template) and (template[k].isascii() and (template[k].isalnum() or template[k] == "_")):
        k += 1
    if k == j:
        return None, i
    if braced:
        if k >= len(template) or template[k] != "}":
            return None, i
        return template[j:k], k + 1
    return template[j:k], k


def _group(match: re.Match[str], name: str) -> str:
    try:
        value = match.group(int(name) if name.isdigit() else name)
    except IndexError:
        return ""
    return value or ""
