"""cty's ``format`` verbs (a printf subset), reproducing Go's ``fmt`` output for
``big.Int`` and ``big.Float`` operands."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from bakec.bake.hcl.functions.stdlib._common import go_quote_rune, graphemes, json_encode, json_string
from bakec.bake.hcl.types import BOOL, NUMBER, STRING, ConversionError, Type, convert
from bakec.bake.hcl.unify import convertible, mismatch_message, value_type
from bakec.bake.hcl.values import Value, round_to_bits, shortest_decimal

MAX_WIDTH = 1_000_000
"""Largest width or precision a verb may ask for (Go's ``fmt`` stops reading one at 1e6 too)."""


class FormatError(Exception):
    """A format string or operand problem, worded as cty words it."""


@dataclass
class _Verb:
    raw: str
    offset: int
    arg_num: int
    mode: str = ""
    zero: bool = False
    sharp: bool = False
    plus: bool = False
    minus: bool = False
    space: bool = False
    width: int | None = None
    prec: int | None = None


def format_string(fmt: str, args: list[Value]) -> str:
    """Apply ``fmt`` to ``args`` as cty's ``format`` does."""
    out: list[str] = []
    next_arg = 1
    highest = 0  # the highest argument number any verb used
    data = fmt.encode()
    i, n = 0, len(fmt)
    while i < n:
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if fmt.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        verb, i = _scan_verb(fmt, i, next_arg, data)
        out.append(_append(verb, args))
        highest = max(highest, verb.arg_num)
        next_arg = verb.arg_num + 1
    if highest < len(args):
        if highest == 0:
            raise FormatError("too many arguments; no verbs in format string")
        raise FormatError(f"too many arguments; only {highest} used by format string")
    return "".join(out)


def _byte_offset(fmt: str, i: int) -> int:
    return len(fmt[:i].encode())


def _scan_verb(fmt: str, start: int, next_arg: int, data: bytes) -> tuple[_Verb, int]:
    verb = _Verb(raw="", offset=_byte_offset(fmt, start), arg_num=next_arg)
    i, n = start + 1, len(fmt)

    def bad(pos: int) -> FormatError:
        if pos >= n:
            return FormatError(f"invalid format string starting at offset {len(data)}")
        rune, offset = go_quote_rune(fmt[pos]), _byte_offset(fmt, pos)
        return FormatError(f"unrecognized format character {rune} at offset {offset}")

    flags = {"0": "zero", "#": "sharp", "-": "minus", "+": "plus", " ": "space"}
    while i < n and fmt[i] in flags:
        setattr(verb, flags[fmt[i]], True)
        i += 1
    if i < n and "1" <= fmt[i] <= "9":
        j = i
        while j < n and fmt[j].isascii() and fmt[j].isdigit():
            j += 1
        verb.width = _bounded(fmt[i:j])
        i = j
    elif i < n and fmt[i] == "*":
        raise FormatError(f"unsupported width from argument in {fmt[start : i + 1]!r}")
    if i < n and fmt[i] == ".":
        j = i + 1
        while j < n and fmt[j].isascii() and fmt[j].isdigit():
            j += 1
        verb.prec = _bounded(fmt[i + 1 : j] or "0")
        i = j
    # cty's verb grammar: flags, width, precision, then the [argument index], then the mode
    if i < n and fmt[i] == "[":
        i += 1
        if i >= n or not "1" <= fmt[i] <= "9":
            raise bad(i)
        j = i
        while j < n and fmt[j].isascii() and fmt[j].isdigit():
            j += 1
        verb.arg_num = int(fmt[i:j])
        if j >= n or fmt[j] != "]":
            raise bad(j)
        i = j + 1
    if i >= n or not (fmt[i].isascii() and fmt[i].isalpha()):
        raise bad(i)
    verb.mode = fmt[i]
    verb.raw = fmt[start : i + 1]
    return verb, i + 1


def _bounded(digits: str) -> int:
    """A width or precision, refused past :data:`MAX_WIDTH` (it is the size of the padding built)."""
    if len(digits.lstrip("0")) > len(str(MAX_WIDTH)) or int(digits) > MAX_WIDTH:
        raise FormatError(f"width or precision {digits} is over the limit of {MAX_WIDTH}")
    return int(digits)


def _append(verb: _Verb, args: list[Value]) -> str:
    if verb.arg_num > len(args):
        raise FormatError(
            f"not enough arguments for {json_string(verb.raw)} at {verb.offset}: "
            f"need index {verb.arg_num} but have {len(args)} total"
        )
    arg = args[verb.arg_num - 1]
    if verb.mode != "v" and arg is None:
        raise _unsupported(verb, "null value cannot be formatted")
    mode = verb.mode
    if mode == "v":
        return _as_is(verb, arg)
    if mode == "t":
        return "true" if _convert(verb, arg, BOOL) else "false"
    if mode in "bdoxX":
        return _integer(verb, _convert(verb, arg, NUMBER))
    if mode in "eEfgG":
        return _float(verb, _convert(verb, arg, NUMBER))
    if mode in "sq":
        return _string(verb, _convert(verb, arg, STRING))
    raise FormatError(
        f"unsupported format verb {go_quote_rune(mode)} in {json_string(verb.raw)} at offset {verb.offset}"
    )


def _unsupported(verb: _Verb, reason: object) -> FormatError:
    return FormatError(f"unsupported value for {json_string(verb.raw)} at {verb.offset}: {reason}")


def _convert(verb: _Verb, arg: Value, target: Type) -> Value:
    try:
        return convert(arg, target)
    except ConversionError as err:
        got = value_type(arg)  # cty's Convert: a missing conversion says what was given
        raise _unsupported(verb, err if convertible(got, target) else mismatch_message(got, target)) from None


def _pad(verb: _Verb, text: str) -> str:
    if verb.width is None:
        return text
    missing = verb.width - len(graphemes(text))
    if missing <= 0:
        return text
    pads = ("0" if verb.zero else " ") * missing
    return text + pads if verb.minus else pads + text


def _as_is(verb: _Verb, arg: Value) -> str:
    if not verb.sharp and arg is not None:
        if isinstance(arg, str):
            return _pad(verb, arg)
        if isinstance(arg, Decimal):
            return _pad(verb, _float_text(arg, "g", None))
    return _pad(verb, json_encode(arg))


def _string(verb: _Verb, text: str) -> str:
    if verb.prec:
        text = "".join(graphemes(text)[: verb.prec])
    return _pad(verb, json_string(text) if verb.mode == "q" else text)


# --- integers: Go's big.Int Format ------------------------------------------------------


def _integer(verb: _Verb, number: Decimal) -> str:
    if not number.is_finite() or number != number.to_integral_value():
        raise _unsupported(verb, "an integer is required")
    value = int(number)
    base = {"b": 2, "d": 10, "o": 8, "x": 16, "X": 16}[verb.mode]
    digits = _to_base(abs(value), base)
    if verb.mode == "X":
        digits = digits.upper()
    sign = "-" if value < 0 else "+" if verb.plus else " " if verb.space else ""
    prefix = ""
    if verb.sharp:
        prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb.mode, "")
    zeros = 0
    if verb.prec is not None:
        if len(digits) < verb.prec:
            zeros = verb.prec - len(digits)
        elif digits == "0" and verb.prec == 0:
            return ""
    left = right = 0
    length = len(sign) + len(prefix) + zeros + len(digits)
    if verb.width is not None and length < verb.width:
        pad = verb.width - length
        if verb.minus:
            right = pad
        elif verb.zero and verb.prec is None:
            zeros = pad
        else:
            left = pad
    return " " * left + sign + prefix + "0" * zeros + digits + " " * right


def _to_base(value: int, base: int) -> str:
    if base == 10:
        return str(value)
    return format(value, {2: "b", 8: "o", 16: "x"}[base])


# --- floats: Go's big.Float Format at 512 bits ---------------------------------------------


def _float(verb: _Verb, number: Decimal) -> str:
    text = _float_text(number, verb.mode, verb.prec)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    elif text[0] == "+":
        sign, text = ("+" if not verb.space else " "), text[1:]
    elif verb.plus:
        sign = "+"
    elif verb.space:
        sign = " "
    padding = 0
    if verb.width is not None and verb.width > len(sign) + len(text):
        padding = verb.width - len(sign) - len(text)
    if verb.zero and number.is_finite():
        return sign + "0" * padding + text
    if verb.minus:
        return sign + text + " " * padding
    return " " * padding + sign + text


def _float_text(number: Decimal, mode: str, prec: int | None) -> str:
    """``big.Float.Text(mode, prec)`` for a 512-bit cty number (``prec=None`` means default)."""
    if not number.is_finite():
        return "+Inf" if number > 0 else "-Inf"
    exact = round_to_bits(Fraction(number))
    negative = exact < 0
    exact = abs(exact)
    shortest = False
    if prec is None:
        if mode in "gG":
            shortest = True
        else:
            prec = 6
    if shortest:
        digits, exp = _decimal_digits(Decimal(shortest_decimal(exact)) if exact else Decimal(0))
        prec = len(digits)
    else:
        digits, exp = _rounded_digits(exact, mode, prec)
    body = _layout(digits, exp, mode, prec, shortest)
    return ("-" if negative else "") + body


def _decimal_digits(value: Decimal) -> tuple[str, int]:
    """Digits and exponent so that value = 0.digits * 10**exp (digits trimmed of zeros)."""
    if value == 0:
        return "", 0
    _, digit_tuple, exponent = value.as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    return digits.rstrip("0"), len(digits) + exponent


def _rounded_digits(exact: Fraction, mode: str, prec: int) -> tuple[str, int]:
    """Round ``exact`` as big.Float's decimal conversion does (half to even on exact digits)."""
    if exact == 0:
        return "", 0
    full = decimal.Context(prec=1000).divide(Decimal(exact.numerator), Decimal(exact.denominator))
    digits, exp = _decimal_digits(full)
    if mode in "eE":
        keep = 1 + prec
    elif mode == "f":
        keep = exp + prec
    else:
        keep = max(prec, 1)
    if keep < 0 or keep >= len(digits):
        return digits, exp
    if _should_round_up(digits, keep):
        n = keep
        while n > 0 and digits[n - 1] == "9":
            n -= 1
        if n == 0:
            return "1", exp + 1
        return digits[: n - 1] + str(int(digits[n - 1]) + 1), exp
    return digits[:keep].rstrip("0"), exp


def _should_round_up(digits: str, n: int) -> bool:
    if digits[n] == "5" and n + 1 == len(digits):
        return n > 0 and int(digits[n - 1]) % 2 == 1
    return digits[n] >= "5"


def _layout(digits: str, exp: int, mode: str, prec: int, shortest: bool) -> str:
    if mode in "eE":
        if shortest:
            prec = max(len(digits) - 1, 0)
        return _fmt_e(digits, exp, prec, mode)
    if mode == "f":
        if shortest:
            prec = max(len(digits) - exp, 0)
        return _fmt_f(digits, exp, prec)
    eprec = prec
    if eprec > len(digits) and len(digits) >= exp:
        eprec = len(digits)
    if shortest:
        eprec = 6
    e = exp - 1
    if digits and (e < -4 or e >= eprec):
        if prec > len(digits):
            prec = len(digits)
        return _fmt_e(digits, exp, max(prec - 1, 0), "e" if mode == "g" else "E")
    if prec > exp:
        prec = len(digits)
    return _fmt_f(digits, exp, max(prec - exp, 0))


def _fmt_e(digits: str, exp: int, prec: int, mode: str) -> str:
    first = digits[:1] or "0"
    out = first
    if prec > 0:
        out += "." + digits[1 : 1 + prec].ljust(prec, "0")
    e = exp - 1 if digits else 0
    sign = "-" if e < 0 else "+"
    return f"{out}{mode}{sign}{abs(e):02d}"


def _fmt_f(digits: str, exp: int, prec: int) -> str:
    if exp > 0:
        integer = digits[:exp].ljust(exp, "0")
    else:
        integer = "0"
    out = integer
    if prec > 0:
        frac = []
        for i in range(prec):
            j = exp + i
            frac.append(digits[j] if 0 <= j < len(digits) else "0")
        out += "." + "".join(frac)
    return out
