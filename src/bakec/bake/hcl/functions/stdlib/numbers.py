"""Number functions with cty semantics: exact decimal arithmetic at cty precision,
float64 where go-cty goes through float64 (log, pow)."""

from __future__ import annotations

import math
from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import friendly, go_quote, int_arg, to_int
from bakec.bake.hcl.types import ANY, NUMBER
from bakec.bake.hcl.values import NUMBER_CONTEXT, Value, from_float64, number
from bakec.bake.hcl.values import modulo as cty_modulo

_INF = Decimal("Infinity")


def _from_float(value: float) -> Decimal:
    """A float64 result as a cty number: its exact value, printed at float64 precision."""
    if math.isnan(value):
        raise FunctionError("result is not a number")
    if math.isinf(value):
        return _INF if value > 0 else -_INF
    return from_float64(value)


@function("absolute", Param("num", NUMBER))
def absolute(num: Decimal) -> Decimal:
    return abs(num)


@function("add", Param("a", NUMBER), Param("b", NUMBER))
def add(a: Decimal, b: Decimal) -> Decimal:
    if a.is_infinite() and b.is_infinite() and a != b:
        raise FunctionError("can't compute sum of opposing infinities")
    return NUMBER_CONTEXT.add(a, b)


@function("subtract", Param("a", NUMBER), Param("b", NUMBER))
def subtract(a: Decimal, b: Decimal) -> Decimal:
    if a.is_infinite() and b.is_infinite() and a == b:
        raise FunctionError("can't subtract infinity from itself")
    return NUMBER_CONTEXT.subtract(a, b)


@function("multiply", Param("a", NUMBER), Param("b", NUMBER))
def multiply(a: Decimal, b: Decimal) -> Decimal:
    if (a.is_infinite() and b == 0) or (b.is_infinite() and a == 0):
        raise FunctionError("can't multiply zero by infinity")
    return NUMBER_CONTEXT.multiply(a, b)


@function("divide", Param("a", NUMBER), Param("b", NUMBER))
def divide(a: Decimal, b: Decimal) -> Decimal:
    """``a / b``; dividing a non-zero number by zero gives an infinity, as big.Float does."""
    if (a == 0 and b == 0) or (a.is_infinite() and b.is_infinite()):
        raise FunctionError("can't divide zero by zero or infinity by infinity")
    if b == 0:
        return _INF if (a > 0) == (not b.is_signed()) else -_INF
    return NUMBER_CONTEXT.divide(a, b)


@function("modulo", Param("a", NUMBER), Param("b", NUMBER))
def modulo(a: Decimal, b: Decimal) -> Decimal:
    """Remainder of truncated division (sign of ``a``); ``x % 0`` is ``x``, as in cty."""
    if a.is_infinite() or b.is_infinite():
        return multiply(a, b)
    if b == 0:
        return a
    return cty_modulo(a, b)


@function("negate", Param("num", NUMBER))
def negate(num: Decimal) -> Decimal:
    return -num


def _compare(a: Decimal, b: Decimal) -> int:
    return (a > b) - (a < b)


@function("greaterthan", Param("a", NUMBER), Param("b", NUMBER))
def greaterthan(a: Decimal, b: Decimal) -> bool:
    return _compare(a, b) > 0


@function("greaterthanorequalto", Param("a", NUMBER), Param("b", NUMBER))
def greaterthanorequalto(a: Decimal, b: Decimal) -> bool:
    return _compare(a, b) >= 0


@function("lessthan", Param("a", NUMBER), Param("b", NUMBER))
def lessthan(a: Decimal, b: Decimal) -> bool:
    return _compare(a, b) < 0


@function("lessthanorequalto", Param("a", NUMBER), Param("b", NUMBER))
def lessthanorequalto(a: Decimal, b: Decimal) -> bool:
    return _compare(a, b) <= 0


@function("max", variadic=Param("numbers", NUMBER))
def max_(*numbers: Decimal) -> Decimal:
    if not numbers:
        raise FunctionError("must pass at least one number")
    return max(numbers)


@function("min", variadic=Param("numbers", NUMBER))
def min_(*numbers: Decimal) -> Decimal:
    if not numbers:
        raise FunctionError("must pass at least one number")
    return min(numbers)


@function("int", Param("num", NUMBER))
def int_(num: Decimal) -> Decimal:
    """Truncate towards zero."""
    if num.is_infinite():
        raise FunctionError("can't truncate infinity to an integer")
    return num.to_integral_value(rounding="ROUND_DOWN")


@function("ceil", Param("num", NUMBER))
def ceil(num: Decimal) -> Decimal:
    """Smallest whole number >= num (infinities pass through)."""
    return num if num.is_infinite() else num.to_integral_value(rounding="ROUND_CEILING")


@function("floor", Param("num", NUMBER))
def floor(num: Decimal) -> Decimal:
    """Largest whole number <= num (infinities pass through)."""
    return num if num.is_infinite() else num.to_integral_value(rounding="ROUND_FLOOR")


@function("log", Param("num", NUMBER), Param("base", NUMBER))
def log(num: Decimal, base: Decimal) -> Decimal:
    """Logarithm of ``num`` in ``base`` (float64 arithmetic, as go-cty)."""
    return _from_float(_go_div(_go_log(float(num)), _go_log(float(base))))


def _go_log(value: float) -> float:
    if value < 0 or math.isnan(value):
        return math.nan
    if value == 0:
        return -math.inf
    return math.inf if math.isinf(value) else math.log(value)


def _go_div(a: float, b: float) -> float:
    """IEEE division as Go does it (no exception on zero)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


@function("pow", Param("num", NUMBER), Param("power", NUMBER))
def pow_(num: Decimal, power: Decimal) -> Decimal:
    """``num`` raised to ``power`` (float64 arithmetic)."""
    base, exponent = float(num), float(power)
    try:
        return _from_float(math.pow(base, exponent))
    except OverflowError:
        return _INF
    except ValueError:
        # Go's math.Pow(0, y<0) is +Inf where Python raises; other domain errors are NaN.
        if base == 0 and exponent < 0:
            return _INF
        raise FunctionError("result is not a number") from None


@function("signum", Param("num", NUMBER))
def signum(num: Decimal) -> Decimal:
    """-1, 0 or 1; go-cty reads the number as a whole int first."""
    value = int_arg(num)
    return number((value > 0) - (value < 0))


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@function("parseint", Param("number", ANY), Param("base", NUMBER))
def parseint(text: Value, base: Decimal) -> Decimal:
    """Parse an integer string in ``base`` 2..62 (Go ``big.Int.SetString``)."""
    if not isinstance(text, str):
        raise FunctionError(f"first argument must be a string, not {friendly(text)}", arg=0)
    try:
        radix = to_int(base)
    except ValueError as err:
        raise FunctionError(str(err), arg=1) from None
    if not 2 <= radix <= 62:
        raise FunctionError("base must be a whole number between 2 and 62 inclusive", arg=1)
    value = _parse_big_int(text, radix)
    if value is None:
        raise FunctionError(f"cannot parse {go_quote(text)} as a base {radix} integer", arg=0)
    return number(value)


def _parse_big_int(text: str, radix: int) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if not body:
        return None
    value = 0
    for ch in body:
        digit = _DIGITS.find(ch if radix > 36 else ch.lower())
        if digit < 0 or digit >= radix:
            return None
        value = value * radix + digit
    return -value if text.startswith("-") else value
