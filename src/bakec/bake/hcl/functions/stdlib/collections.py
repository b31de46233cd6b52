"""Collection functions over lists, tuples, sets, maps and objects."""

from __future__ import annotations

from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import equal, friendly, int_arg, is_object, is_tuple, to_int
from bakec.bake.hcl.types import ANY, BOOL, NUMBER, STRING, ConversionError, convert, list_of, unify
from bakec.bake.hcl.values import HList, HMap, HSet, Value, number

_NOT_COLLECTION = "collection must be a list, a map or a tuple"
_PRIMITIVES = (str, bool, Decimal)
_PRIMITIVE_TYPES = {str: STRING, bool: BOOL, Decimal: NUMBER}


def unify_values(values: list[Value]) -> list[Value] | None:
    """Convert values to one common type as cty's ``UnifyUnsafe`` would, or None if impossible."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, _PRIMITIVES) for v in present):
        try:
            return unify(list(values))
        except ConversionError:
            return None
    # Structural values are left as they are when they are all of one kind.
    return list(values) if len({_kind(v) for v in present}) <= 1 else None


def _kind(value: Value) -> str:
    if isinstance(value, _PRIMITIVES):
        return "primitive"
    if isinstance(value, HSet):
        return "set"
    if isinstance(value, list):
        return "sequence"
    return "mapping"


@function("length", Param("collection", ANY))
def length(collection: Value) -> Decimal:
    """Number of elements of a list, tuple, set or map (not strings, not objects)."""
    if isinstance(collection, (list, HMap)):
        return number(len(collection))
    raise FunctionError(_NOT_COLLECTION)


@function("element", Param("list", ANY), Param("index", NUMBER))
def element(values: Value, index: Decimal) -> Value:
    """The element at ``index``, wrapping around the end of the list."""
    if index < 0:
        raise FunctionError("cannot use element function with a negative index")
    if not isinstance(values, list) or isinstance(values, HSet):
        raise FunctionError(f"cannot read elements from {friendly(values)}")
    position = int_arg(index, prefix="invalid index: ")
    if not values:
        raise FunctionError("cannot use element function with an empty list")
    return values[position % len(values)]


@function("index", Param("collection", ANY), Param("key", ANY))
def index(collection: Value, key: Value) -> Value:
    """``collection[key]`` for a list, tuple or map."""
    if is_tuple(collection):
        if not isinstance(key, Decimal):
            raise FunctionError("key for tuple must be number")
        position = int_arg(key, prefix="invalid key for tuple: ")
        if not 0 <= position < len(collection):
            raise FunctionError(f"key must be between 0 and {len(collection)} inclusive")
        return collection[position]
    if isinstance(collection, HList):
        if not isinstance(key, Decimal):
            raise FunctionError("key for list must be number")
    elif isinstance(collection, HMap):
        if not isinstance(key, str):
            raise FunctionError("key for map must be string")
    else:
        raise FunctionError(_NOT_COLLECTION)
    if not _has_index(collection, key):
        raise FunctionError("invalid index")
    return collection[key] if isinstance(collection, HMap) else collection[int(key)]


def _has_index(collection: Value, key: Value) -> bool:
    if isinstance(collection, HMap):
        return isinstance(key, str) and key in collection
    if not isinstance(key, Decimal) or not key.is_finite() or key != key.to_integral_value():
        return False
    return 0 <= int(key) < len(collection)


@function("hasindex", Param("collection", ANY), Param("key", ANY))
def hasindex(collection: Value, key: Value) -> bool:
    """Whether ``collection[key]`` exists; needs a list, tuple or map (not an object)."""
    if not (isinstance(collection, (HMap, HList)) or is_tuple(collection)):
        raise FunctionError(_NOT_COLLECTION)
    return _has_index(collection, key)


@function("indexof", Param("list", ANY), Param("value", ANY))
def indexof(values: Value, value: Value) -> Decimal:
    """Position of the first element equal to ``value`` (bake extension)."""
    if not isinstance(values, list) or isinstance(values, HSet):
        raise FunctionError("argument must be a list or tuple")
    if not values:
        raise FunctionError("cannot search an empty list")
    for i, item in enumerate(values):
        if equal(item, value):
            return number(i)
    raise FunctionError("item not found")


@function("contains", Param("list", ANY), Param("value", ANY))
def contains(values: Value, value: Value) -> bool:
    """Whether a list, tuple or set has an element equal to ``value``."""
    if not isinstance(values, list):
        raise FunctionError("argument must be list, tuple, or set")
    return any(equal(item, value) for item in values)


@function("distinct", Param("list", list_of(ANY)))
def distinct(values: HList) -> HList:
    """The list without duplicates, keeping first occurrences."""
    out: list[Value] = []
    for item in values:
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return HList(out)


@function("chunklist", Param("list", list_of(ANY)), Param("size", NUMBER))
def chunklist(values: HList, size: Decimal) -> HList:
    """Split a list into lists of at most ``size`` elements (0 means one chunk)."""
    chunk = int_arg(size, prefix="invalid size: ")
    if chunk < 0:
        raise FunctionError("the size argument must be positive")
    if not values:
        return HList()
    if chunk == 0:
        return HList([HList(values)])
    return HList(HList(values[i : i + chunk]) for i in range(0, len(values), chunk))


@function("coalesce", variadic=Param("vals", ANY, allow_null=True))
def coalesce(*values: Value) -> Value:
    """The first argument that is not null."""
    unified = unify_values(list(values))
    if unified is None or not values:
        raise FunctionError("all arguments must have the same type")
    for value in unified:
        if value is not None:
            return value
    raise FunctionError("no non-null arguments")


@function("coalescelist", variadic=Param("vals", ANY, allow_null=True))
def coalescelist(*values: Value) -> Value:
    """The first list or tuple argument that is not empty."""
    if not values:
        raise FunctionError("at least one argument is required")
    for value in values:
        if value is not None and (not isinstance(value, list) or isinstance(value, HSet)):
            raise FunctionError("coalescelist arguments must be lists or tuples")
    for value in values:
        if value:
            return value
    raise FunctionError("no non-null arguments")


@function("compact", Param("list", list_of(STRING)))
def compact(values: HList) -> HList:
    """The list without null or empty strings."""
    return HList(v for v in values if v)


@function("concat", variadic=Param("seqs", ANY))
def concat(*seqs: Value) -> Value:
    """Join lists and tuples; all lists of one element type give a list, otherwise a tuple."""
    if not seqs:
        raise FunctionError("at least one argument is required")
    for i, seq in enumerate(seqs):
        if not isinstance(seq, list) or isinstance(seq, HSet):
            raise FunctionError(f"all arguments must be lists or tuples; got {friendly(seq)}", arg=i)
    items = [item for seq in seqs for item in seq]
    if all(isinstance(seq, HList) for seq in seqs):
        unified = unify_values(items)
        if unified is not None:
            return HList(unified)
    return items


@function("flatten", Param("list", ANY))
def flatten(values: Value) -> list:
    """Replace nested lists, sets and tuples by their elements, recursively; returns a tuple."""
    if not isinstance(values, list):
        raise FunctionError("can only flatten lists, sets and tuples")
    out: list[Value] = []
    for item in values:
        out.extend(flatten(item) if isinstance(item, list) else [item])
    return out


@function("keys", Param("inputMap", ANY))
def keys(mapping: Value) -> Value:
    """Sorted keys of a map (a list) or an object (a tuple)."""
    if not isinstance(mapping, dict):
        raise FunctionError("must have map or object type", arg=0)
    names = sorted(mapping)
    return HList(names) if isinstance(mapping, HMap) else names


@function("values", Param("values", ANY))
def values(mapping: Value) -> Value:
    """Values of a map (a list) or an object (a tuple), in key order."""
    if not isinstance(mapping, dict):
        raise FunctionError("values() requires a map as the first argument")
    items = [mapping[k] for k in sorted(mapping)]
    return HList(items) if isinstance(mapping, HMap) else items


@function("lookup", Param("inputMap", ANY), Param("key", STRING), Param("default", ANY))
def lookup(mapping: Value, key: str, default: Value) -> Value:
    """``mapping[key]``, or ``default`` when the key is absent."""
    if is_object(mapping):
        return mapping[key] if key in mapping else default
    if not isinstance(mapping, HMap):
        raise FunctionError("lookup() requires a map as the first argument", arg=0)
    if default is not None and mapping:
        target = _PRIMITIVE_TYPES.get(type(next(iter(mapping.values()))))
        try:
            default = convert(default, target) if target is not None else default
        except ConversionError:
            message = "the default value must have the same type as the map elements"
            raise FunctionError(message, arg=2) from None
    return mapping[key] if key in mapping else default


@function("merge", variadic=Param("maps", ANY, allow_null=True))
def merge(*maps: Value) -> Value:
    """Merge maps and objects; later keys win. All maps give a map, otherwise an object."""
    out: dict[str, Value] = {}
    for value in maps:
        if value is not None and not isinstance(value, dict):
            raise FunctionError(f'arguments must be maps or objects, got "{friendly(value)}"')
    for value in maps:
        if value is not None:
            out.update(value)
    names = sorted(out)
    if maps and all(isinstance(m, HMap) for m in maps):
        unified = unify_values([out[k] for k in names])
        if unified is not None:
            return HMap(zip(names, unified, strict=False))
    return {k: out[k] for k in names}


@function("range", variadic=Param("params", NUMBER))
def range_(*params: Decimal) -> HList:
    """Numbers from start (default 0) towards end (exclusive) by step (default ±1)."""
    one = number(1)
    if len(params) == 1:
        start, end, step = number(0), params[0], -one if params[0] < 0 else one
    elif len(params) == 2:
        start, end = params
        step = -one if end < start else one
    elif len(params) == 3:
        start, end, step = params
    else:
        raise FunctionError("must have one, two, or three arguments")
    if step == 0:
        raise FunctionError("step must not be zero", arg=2)
    down = step < 0
    if down and end > start:
        raise FunctionError("end must be less than start when step is negative", arg=1)
    if not down and end < start:
        raise FunctionError("end must be greater than start when step is positive", arg=1)
    out: list[Decimal] = []
    current = start
    while (current > end) if down else (current < end):
        if len(out) >= 1024:
            raise FunctionError(
                "more than 1024 values were generated; either decrease the difference between start and end "
                "or use a smaller step"
            )
        out.append(current)
        current = current + step
    return HList(out)


@function("reverselist", Param("list", ANY))
def reverselist(values: Value) -> Value:
    """The elements in reverse order (a tuple stays a tuple)."""
    if not isinstance(values, list):
        raise FunctionError(f"can only reverse list or tuple values, not {friendly(values)}", arg=0)
    reversed_items = list(reversed(values))
    return reversed_items if is_tuple(values) else HList(reversed_items)


@function("slice", Param("list", ANY), Param("start_index", NUMBER), Param("end_index", NUMBER))
def slice_(values: Value, start_index: Decimal, end_index: Decimal) -> Value:
    """Elements from ``start_index`` up to, not including, ``end_index``."""
    if isinstance(values, HSet):
        raise FunctionError(
            "cannot slice a set, because its elements do not have indices; explicitly convert to a list "
            "if the ordering of the result is not important",
            arg=0,
        )
    if not isinstance(values, list):
        raise FunctionError("must be a list or tuple value", arg=0)
    start = _slice_index(start_index, 1, "start", len(values))
    end = _slice_index(end_index, 2, "end", len(values))
    if start > end:
        raise FunctionError("start index must not be greater than end index", arg=1)
    items = values[start:end]
    return items if is_tuple(values) else HList(items)


def _slice_index(value: Decimal, arg: int, which: str, length: int) -> int:
    try:
        position = to_int(value)
    except ValueError as err:
        raise FunctionError(f"invalid {which} index: {err}", arg=arg) from None
    if position < 0:
        raise FunctionError(f"{which} index must not be less than zero", arg=arg)
    if position > length:
        raise FunctionError(f"{which} index must not be greater than the length of the list", arg=arg)
    return position


@function("zipmap", Param("keys", list_of(STRING)), Param("values", ANY))
def zipmap(key_list: HList, value_list: Value) -> Value:
    """A map (from a list of values) or an object (from a tuple) pairing keys with values."""
    if not isinstance(value_list, list) or isinstance(value_list, HSet):
        raise FunctionError("values argument must be a list or tuple value")
    if len(key_list) != len(value_list):
        raise FunctionError(
            f"number of keys ({len(key_list)}) does not match number of values ({len(value_list)})"
        )
    for i, key in enumerate(key_list):
        if key is None:
            raise FunctionError(f"keys list has null value at index {i}")
    pairs = dict(zip(key_list, value_list, strict=False))
    ordered = {k: pairs[k] for k in sorted(pairs)}
    return HMap(ordered) if isinstance(value_list, HList) else ordered
