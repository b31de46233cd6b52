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


class NarrowNumber(Decimal):
    """A cty number whose big.Float has fewer than 512 bits of precision (``bits``).

    Go makes these from float64 values (strconv.ParseFloat for variable overrides,
    math.Pow...): 53 bits. The value is exact; it prints as the shortest decimal that
    rounds back to it at ``bits``, and arithmetic between two of them keeps the larger
    precision, as big.Float does (see :func:`narrow_arithmetic`).
    """

    __slots__ = ("bits",)
    bits: int


def with_precision(value: Decimal, bits: int) -> Decimal:
    """``value`` as a number of ``bits`` precision (a plain Decimal at cty's full 512)."""
    if bits >= _MANTISSA_BITS:
        return Decimal(value)
    out = NarrowNumber(value)
    out.bits = bits
    return out


def precision(value: Decimal) -> int:
    """The precision in bits of a cty number's big.Float."""
    return getattr(value, "bits", _MANTISSA_BITS)


def from_float64(value: float) -> Decimal:
    """A finite float64 as a cty number (exactly, at 53 bits)."""
    return with_precision(Decimal(value), _FLOAT64_BITS)


def narrow_arithmetic(op: str, a: Decimal, b: Decimal) -> Decimal | None:
    """``a op b`` as big.Float computes it when both have less than 512 bits, else None.

    Sum, difference and quotient round to the larger precision; a product stays exact
    with the precision it needs (cty's Multiply).
    """
    bits = max(precision(a), precision(b))
    if bits >= _MANTISSA_BITS or op not in ("+", "-", "*", "/") or (op == "/" and b == 0):
        return None
    x, y = Fraction(a), Fraction(b)
    exact = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else x}[op]
    if op == "*":
        bits = max(bits, _mantissa_bits(exact))
        if bits >= _MANTISSA_BITS:
            return None
    else:
        exact = round_to_bits(exact, bits)
    return with_precision(_exact_decimal(exact), bits)


def modulo(a: Decimal, b: Decimal) -> Decimal:
    """cty's Modulo of two finite numbers, ``b`` not zero: ``a - b * trunc(a / b)``.

    As big.Float does it: operands at their binary precision, the quotient at the larger
    one, then product and difference at ``a``'s (so 1.1 % 1 shows 1.1's binary error, as
    in buildx). Exact, so a huge quotient cannot fail as Decimal's remainder does.
    """
    bits_a, bits = precision(a), max(precision(a), precision(b))
    x, y = round_to_bits(Fraction(a), bits_a), round_to_bits(Fraction(b), precision(b))
    whole = int(round_to_bits(x / y, bits))  # int() truncates toward zero, as big.Float.Int
    work = round_to_bits(y * round_to_bits(Fraction(whole), bits_a), bits_a)
    return with_precision(_exact_decimal(round_to_bits(x - work, bits_a)), bits_a)


def _mantissa_bits(value: Fraction) -> int:
    """The bits a binary fraction's mantissa needs (big.Float's MinPrec)."""
    numerator = abs(value.numerator)
    return (numerator >> ((numerator & -numerator).bit_length() - 1)).bit_length() if numerator else 0


def _exact_decimal(value: Fraction) -> Decimal:
    """A binary fraction (power-of-two denominator) as the Decimal of exactly its value."""
    context = decimal.Context(prec=2000)
    return context.divide(Decimal(value.numerator), Decimal(value.denominator))


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
    bits = precision(value)
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
