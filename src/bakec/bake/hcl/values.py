"""HCL (cty) values as Python values.

The mapping is deliberately plain so stdlib functions read naturally:

==========  ==============================================================
cty          Python
==========  ==============================================================
null         ``None``
bool         ``bool``
number       ``decimal.Decimal`` (exact; never ``int``/``float``)
string       ``str``
tuple        ``list``
list         :class:`HList` (a ``list`` subclass)
set          :class:`HSet` (a ``list`` subclass, de-duplicated, sorted as cty sorts)
object       ``dict``
map          :class:`HMap` (a ``dict`` subclass)
==========  ==============================================================

Object and map keys are always iterated in sorted order, as cty does.
Numbers are arbitrary precision; :func:`format_number` prints them exactly as
cty/Go's ``big.Float.Text('f', -1)`` at 512 bits of precision does.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction
from typing import Any

# cty numbers are big.Float with 512 bits of mantissa; 200 decimal digits of
# working precision is comfortably above that for every operation we do.
NUMBER_CONTEXT = decimal.Context(prec=200, rounding=decimal.ROUND_HALF_EVEN, Emax=10**9, Emin=-(10**9))
_MANTISSA_BITS = 512
_FLOAT64_BITS = 53

Value = Any


class HList(list):
    """A cty list: every element has the same type."""

    __slots__ = ()


class HSet(list):
    """A cty set: unique elements in cty's canonical order."""

    __slots__ = ()


class HMap(dict):
    """A cty map: string keys, every value of the same type."""

    __slots__ = ()


class Float64(Decimal):
    """A cty number that came from a Go float64 (strconv.ParseFloat, math.Pow...).

    Its value is the float64's exact binary value; like the big.Float Go makes of it, it
    has 53 bits of precision, so it prints as the shortest decimal that rounds back to it
    at 53 bits. Arithmetic on it gives ordinary (512-bit) numbers, as it does in cty.
    """

    __slots__ = ()


def from_float64(value: float) -> Float64:
    """A finite float64 as a cty number (exactly)."""
    return Float64(Decimal(value))


def number(value: int | str | Decimal) -> Decimal:
    """Make a cty number."""
    return NUMBER_CONTEXT.create_decimal(value)


def is_number(value: Value) -> bool:
    return isinstance(value, Decimal)


def is_sequence(value: Value) -> bool:
    """True for tuple, list and set values."""
    return isinstance(value, list)


def is_mapping(value: Value) -> bool:
    """True for object and map values."""
    return isinstance(value, dict)


def type_name(value: Value) -> str:
    """The cty friendly name of a value's type, as used in error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, HSet):
        return "set of " + _element_name(value)
    if isinstance(value, HList):
        return "list of " + _element_name(value)
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, HMap):
        return "map of " + _element_name(list(value.values()))
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _element_name(items: list) -> str:
    return type_name(items[0]) if items else "dynamic"


def format_number(value: Decimal) -> str:
    """Print a number as cty does when converting it to a string."""
    if not value.is_finite():
        return "+Inf" if value > 0 else "-Inf"
    if value.is_zero():
        return "-0" if value.is_signed() else "0"  # big.Float keeps the sign of zero
    bits = _FLOAT64_BITS if isinstance(value, Float64) else _MANTISSA_BITS
    if value == value.to_integral_value() and abs(int(value)).bit_length() <= bits:
        return str(int(value))
    return shortest_decimal(round_to_bits(Fraction(value), bits), bits)


def round_to_bits(value: Fraction, bits: int = _MANTISSA_BITS) -> Fraction:
    """Round a rational to the nearest binary float with ``bits`` of mantissa."""
    if value == 0:
        return value
    sign = -1 if value < 0 else 1
    value = abs(value)
    exponent = value.numerator.bit_length() - value.denominator.bit_length()
    if Fraction(2) ** exponent > value:
        exponent -= 1
    shift = bits - 1 - exponent
    scaled = value * (Fraction(2) ** shift)
    mantissa = round(scaled)  # Fraction.__round__ rounds half to even
    return sign * Fraction(mantissa) / (Fraction(2) ** shift)


def shortest_decimal(exact: Fraction, bits: int = _MANTISSA_BITS) -> str:
    """The shortest plain decimal that rounds back to ``exact`` at ``bits`` of mantissa."""
    num, den = exact.numerator, exact.denominator
    ctx = decimal.Context(prec=400)
    full = ctx.divide(Decimal(num), Decimal(den))
    for digits in range(1, 170):
        candidate = decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_EVEN).plus(full)
        if round_to_bits(Fraction(candidate), bits) == exact:
            return _plain(candidate)
    return _plain(full)


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def to_display_string(value: Value) -> str:
    """Convert a primitive to a string as cty's conversion does (numbers, bools)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    return value
