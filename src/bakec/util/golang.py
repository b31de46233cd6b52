"""Go standard-library behaviours that show in bakec's output, shared by the HCL stdlib, the
Dockerfile frontend and the CLI: ``strconv.Quote``, ``strconv.ParseBool`` and ``time.ParseDuration``.

buildx and BuildKit print Go-quoted strings in messages and history, and read durations the Go
way (HEALTHCHECK intervals, ``timeadd``, ``prune --filter until=``), so bakec reproduces both.
"""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def _printable(ch: str) -> bool:
    """``strconv.IsPrint``: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_bool(text: str) -> bool:
    """``strconv.ParseBool``; ValueError with Go's message (``strconv.ParseBool: parsing "x": invalid syntax``)."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


def maybe_bool(text: str) -> bool | None:
    """``strconv.ParseBool`` with ``None`` for text that is not a Go boolean."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}  # fmt: skip
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^\d.]*")


def parse_duration(text: str) -> int:
    """``time.ParseDuration`` in nanoseconds (exact integer arithmetic); ValueError with Go's message."""
    original, rest = text, text
    negative = rest[:1] == "-"
    rest = rest[1:] if rest[:1] in "+-" else rest
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"time: invalid duration {go_quote(original)}")
    total = 0
    while rest:
        match = _NUMBER.match(rest)
        assert match is not None  # the pattern matches the empty string
        whole, frac = match.group(1), match.group(2)
        if not whole and not frac:
            raise ValueError(f"time: invalid duration {go_quote(original)}")
        rest = rest[match.end() :]
        unit = _UNIT.match(rest).group(0)  # type: ignore[union-attr]
        if not unit:
            raise ValueError(f"time: missing unit in duration {go_quote(original)}")
        if unit not in _UNITS:
            raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(original)}")
        rest = rest[len(unit) :]
        scale = _UNITS[unit]
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > 2**63 - (0 if negative else 1):
            raise ValueError(f"time: invalid duration {go_quote(original)}")
    return -total if negative else total
