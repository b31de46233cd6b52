"""Logic and comparison functions, and the bytes-capsule functions.

``try``, ``can`` and ``convert`` need unevaluated arguments or a type expression,
so the evaluator implements them (see ``SPECIAL_FORMS`` in this package).
"""

from __future__ import annotations

from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import equal, to_int
from bakec.bake.hcl.types import ANY, BOOL, NUMBER
from bakec.bake.hcl.values import Value, number


@function("equal", Param("a", ANY, allow_null=True), Param("b", ANY, allow_null=True))
def equal_(a: Value, b: Value) -> bool:
    """Whether two values are equal (different types are never equal)."""
    return equal(a, b)


@function("notequal", Param("a", ANY, allow_null=True), Param("b", ANY, allow_null=True))
def notequal(a: Value, b: Value) -> bool:
    return not equal(a, b)


@function("and", Param("a", BOOL), Param("b", BOOL))
def and_(a: bool, b: bool) -> bool:
    return a and b


@function("or", Param("a", BOOL), Param("b", BOOL))
def or_(a: bool, b: bool) -> bool:
    return a or b


@function("not", Param("val", BOOL))
def not_(value: bool) -> bool:
    return not value


# cty's bytes capsule cannot be written in HCL; Python ``bytes`` stand in for it.


def _buffer(value: Value) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise FunctionError("bytes required", arg=0)
    return bytes(value)


@function("byteslen", Param("buf", ANY))
def byteslen(buf: Value) -> Decimal:
    """Length in bytes of a bytes buffer."""
    return number(len(_buffer(buf)))


@function("bytesslice", Param("buf", ANY), Param("offset", NUMBER), Param("length", NUMBER))
def bytesslice(buf: Value, offset: Decimal, length: Decimal) -> bytes:
    """``length`` bytes of a buffer starting at ``offset``."""
    data = _buffer(buf)
    try:
        start, count = to_int(offset), to_int(length)
    except ValueError as err:
        raise FunctionError(str(err)) from None
    if start < 0 or start > len(data):
        raise FunctionError("offset is out of range", arg=1)
    if count < 0 or start + count > len(data):
        raise FunctionError("length is out of range", arg=2)
    return data[start : start + count]
