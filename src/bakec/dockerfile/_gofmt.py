"""The few Go formatting rules that leak into image history strings.

BuildKit writes history with ``fmt.Sprintf("%q", []string)`` (CMD, ENTRYPOINT),
``%v`` (SHELL, VOLUME, EXPOSE) and ``%+v`` of a struct holding ``time.Duration``
values (HEALTHCHECK); reproducing them byte for byte needs Go's quoting and
duration formatting.
"""

from __future__ import annotations

from bakec.util.golang import go_quote, parse_duration

__all__ = ["format_duration", "go_list", "go_quote", "go_quote_list", "parse_duration"]


def go_quote_list(items: list[str] | tuple[str, ...]) -> str:
    """``fmt.Sprintf("%q", []string{...})``."""
    return "[" + " ".join(go_quote(item) for item in items) + "]"


def go_list(items: list[str] | tuple[str, ...]) -> str:
    """``fmt.Sprintf("%v", []string{...})``."""
    return "[" + " ".join(items) + "]"


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
