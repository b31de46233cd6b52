"""Helpers shared by the stdlib modules: cty equality, Go-style integer reads,
grapheme clusters, Go string quoting and JSON encoding."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError
from bakec.bake.hcl.values import HSet, Value, format_number, type_name
from bakec.util.golang import go_quote

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_WHOLE_NUMBER = f"value must be a whole number, between {INT64_MIN} and {INT64_MAX}"


def to_int(value: Decimal) -> int:
    """Read a number into a Go ``int`` as ``gocty.FromCtyValue`` does (whole, int64)."""
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(_WHOLE_NUMBER)
    result = int(value)
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError(_WHOLE_NUMBER)
    return result


def int_arg(value: Decimal, arg: int | None = None, prefix: str = "") -> int:
    """:func:`to_int`, reporting failure as a :class:`FunctionError`."""
    try:
        return to_int(value)
    except ValueError as err:
        raise FunctionError(prefix + str(err), arg=arg) from None


def friendly(value: Value) -> str:
    """cty's friendly type name for a value (``list of string``, ``tuple``...)."""
    return type_name(value)


def equal(a: Value, b: Value) -> bool:
    """cty ``Value.Equals``: values of different types are never equal."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is not type(b):
        return False
    if isinstance(a, HSet):
        return len(a) == len(b) and all(any(equal(x, y) for y in b) for x in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def is_tuple(value: Value) -> bool:
    """A tuple is a plain Python list (HList and HSet are the collections)."""
    return type(value) is list


def is_object(value: Value) -> bool:
    return type(value) is dict


# --- grapheme clusters --------------------------------------------------------
# Python has no UAX #29 segmentation in the standard library; this covers what
# bake files contain in practice: combining marks, ZWJ emoji sequences, emoji
# modifiers, variation selectors, regional-indicator flags, CRLF and Hangul.

_ZWJ = "\u200d"


def _is_extend(ch: str) -> bool:
    cp = ord(ch)
    if ch == _ZWJ or 0x1F3FB <= cp <= 0x1F3FF or 0xFE00 <= cp <= 0xFE0F or 0xE0020 <= cp <= 0xE007F:
        return True
    return unicodedata.category(ch) in ("Mn", "Me", "Mc")


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _hangul_kind(ch: str) -> str:
    cp = ord(ch)
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _joins(prev: str, ch: str, cluster: str) -> bool:
    if prev == "\r" and ch == "\n":
        return True
    if prev in "\r\n" or ch in "\r\n":
        return False
    if _is_extend(ch):
        return True
    if prev == _ZWJ and unicodedata.category(ch) == "So":
        return True
    if _is_regional(prev) and _is_regional(ch):
        run = 0
        for c in reversed(cluster):
            if not _is_regional(c):
                break
            run += 1
        return run % 2 == 1
    hp, hc = _hangul_kind(prev), _hangul_kind(ch)
    if hp == "L" and hc in ("L", "V", "LV", "LVT"):
        return True
    if hp in ("LV", "V") and hc in ("V", "T"):
        return True
    return hp in ("LVT", "T") and hc == "T"


def graphemes(text: str) -> list[str]:
    """Split ``text`` into (approximate) extended grapheme clusters."""
    clusters: list[str] = []
    for ch in text:
        if clusters and _joins(clusters[-1][-1], ch, clusters[-1]):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


# --- Go quoting and JSON ----------------------------------------------------------


def go_quote_rune(ch: str) -> str:
    """Go's ``%q`` of a rune (``'x'``)."""
    inner = go_quote(ch)[1:-1]
    return "'" + (inner.replace('\\"', '"') if ch == '"' else ("\\'" if ch == "'" else inner)) + "'"


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def json_string(text: str) -> str:
    """A JSON string as Go's ``encoding/json`` writes it (HTML-safe escaping)."""
    out = ['"']
    for ch in text:
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_encode(value: Value) -> str:
    """Compact JSON for a cty value, as cty's ``json.Marshal`` produces it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FunctionError(f"value must be finite to encode as JSON, not {format_number(value)}")
        return format_number(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(json_encode(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json_string(k) + ":" + json_encode(value[k]) for k in sorted(value)) + "}"
    raise FunctionError(f"cannot encode {type(value).__name__} as JSON")
