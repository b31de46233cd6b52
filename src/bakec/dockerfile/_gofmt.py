"""The few Go formatting rules that leak into image history strings.

BuildKit writes history with ``fmt.Sprintf("%q", []string)`` (CMD, ENTRYPOINT),
``%v`` (SHELL, VOLUME, EXPOSE) and ``%+v`` of a struct holding ``time.Duration``
values (HEALTHCHECK); reproducing them byte for byte needs Go's quoting and
duration formatting.
"""

from __future__ import annotations

import re
import unicodedata

_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def _go_printable(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if ch == " ":
        return True
    return cat[0] in "LMNPS"


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _go_printable(ch):
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


def go_quote_list(items: list[str] | tuple[str, ...]) -> str:
    """``fmt.Sprintf("%q", []string{...})``."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def go_list(items: list[str] | tuple[str, ...]) -> str:
    """``fmt.Sprintf("%v", []string{...})``."""
    return "[" + " ".join(items) + "]"


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """``time.ParseDuration`` in nanoseconds; raises ValueError with Go's message."""
    orig = text
    if text in ("0", "+0", "-0"):
        return 0
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if not text:
        raise ValueError(f"time: invalid duration {go_quote(orig)}")
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match or match.group(1) in ("", "."):
            if match is None and re.match(r"\d*\.?\d*$", text[pos:]):
                raise ValueError(f"time: missing unit in duration {go_quote(orig)}")
            if match is None:
                unit = re.match(r"[\d.]*([^\d.]*)", text[pos:])
                raise ValueError(
                    f"time: unknown unit {go_quote(unit.group(1) if unit else '')} in duration {go_quote(orig)}"
                )
            raise ValueError(f"time: invalid duration {go_quote(orig)}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * round(total)


def format_duration(ns: int) -> str:
    """``time.Duration.String``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            text = f"{u}ns"
        elif u < 1_000_000:
            text = _frac(u, 3) + "\u00b5s"
        else:
            text = _frac(u, 6) + "ms"
    else:
        secs_text = _frac(u % 60_000_000_000 + 0, 9)
        minutes = u // 60_000_000_000
        text = secs_text + "s"
        if minutes:
            hours = minutes // 60
            minutes %= 60
            text = f"{minutes}m" + text
            if hours:
                text = f"{hours}h" + text
    return "-" + text if neg else text


def _frac(value: int, prec: int) -> str:
    whole, frac = divmod(value, 10**prec)
    if frac == 0:
        return str(whole)
    digits = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}.{digits}"
