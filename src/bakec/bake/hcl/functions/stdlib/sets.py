"""Set functions. Arguments arrive as :class:`HSet` (the evaluator converts lists and tuples)."""

from __future__ import annotations

from functools import reduce
from typing import Callable

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import equal, is_tuple
from bakec.bake.hcl.functions.stdlib.collections import unify_values
from bakec.bake.hcl.types import ANY, make_set, set_of
from bakec.bake.hcl.values import HList, HSet, Value

_SET = set_of(ANY)


def _unified(sets: tuple[HSet, ...]) -> list[list[Value]]:
    """The sets' elements converted to one element type, as cty unifies element types."""
    flat = [item for s in sets for item in s]
    unified = unify_values(flat)
    if unified is None:
        raise FunctionError("given sets must all have compatible element types")
    out, start = [], 0
    for s in sets:
        out.append(unified[start : start + len(s)])
        start += len(s)
    return out


def _member(item: Value, items: list[Value]) -> bool:
    return any(equal(item, other) for other in items)


def _apply(sets: tuple[HSet, ...], op: Callable[[list[Value], list[Value]], list[Value]]) -> HSet:
    return make_set(reduce(op, _unified(sets)))


@function("setunion", Param("first_set", _SET), variadic=Param("other_sets", _SET))
def setunion(*sets: HSet) -> HSet:
    """Elements present in any of the sets."""
    return _apply(sets, lambda a, b: a + [x for x in b if not _member(x, a)])


@function("setintersection", Param("first_set", _SET), variadic=Param("other_sets", _SET))
def setintersection(*sets: HSet) -> HSet:
    """Elements present in every set."""
    return _apply(sets, lambda a, b: [x for x in a if _member(x, b)])


@function("setsubtract", Param("a", _SET), Param("b", _SET))
def setsubtract(a: HSet, b: HSet) -> HSet:
    """Elements of ``a`` that are not in ``b``."""
    return _apply((a, b), lambda x, y: [e for e in x if not _member(e, y)])


@function("setsymmetricdifference", Param("first_set", _SET), variadic=Param("other_sets", _SET))
def setsymmetricdifference(*sets: HSet) -> HSet:
    """Elements present in an odd number of the sets (pairwise symmetric difference)."""
    return _apply(
        sets, lambda a, b: [x for x in a if not _member(x, b)] + [x for x in b if not _member(x, a)]
    )


@function("sethaselement", Param("set", _SET), Param("elem", ANY))
def sethaselement(values: HSet, elem: Value) -> bool:
    """Whether the set contains ``elem``."""
    return _member(elem, list(values))


@function("setproduct", variadic=Param("sets", ANY))
def setproduct(*sets: Value) -> Value:
    """Cartesian product; all list/tuple arguments give a list of tuples, otherwise a set."""
    if len(sets) < 2:
        raise FunctionError("at least two arguments are required")
    columns: list[list[Value]] = []
    for i, values in enumerate(sets):
        if not isinstance(values, list):
            raise FunctionError("a set or a list is required", arg=i)
        unified = unify_values(list(values))
        if unified is None:
            raise FunctionError("all elements must be of the same type", arg=i)
        columns.append(unified)
    rows: list[list[Value]] = [[]]
    for column in columns:
        rows = [row + [item] for row in rows for item in column]
    if all(isinstance(s, HList) or is_tuple(s) for s in sets):
        return HList(rows)
    return make_set(rows)
