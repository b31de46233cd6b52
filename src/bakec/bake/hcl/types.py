"""cty type constraints (``string``, ``list(number)``, ``object({...})``...) and conversion.

:func:`convert` follows cty's ``convert.Convert`` rules closely enough for bake:
primitives convert through strings, collections convert element-wise, sets
de-duplicate and sort, objects drop extra attributes and demand missing ones.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

from bakec.bake.hcl.values import NUMBER_CONTEXT, HList, HMap, HSet, Value, format_number, type_name


class ConversionError(Exception):
    """A value cannot be converted to a type; the message is cty's wording."""


@dataclass(frozen=True)
class Type:
    """A type constraint."""

    kind: str  # string number bool any list set map tuple object
    element: "Type | None" = None
    elements: "tuple[Type, ...]" = ()
    attributes: "tuple[tuple[str, Type], ...]" = ()
    optional: frozenset[str] = frozenset()  # object attributes that may be absent (null then)

    def __str__(self) -> str:
        if self.kind in ("string", "number", "bool", "any"):
            return self.kind
        if self.kind in ("list", "set", "map"):
            return f"{self.kind}({self.element})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(map(str, self.elements)) + "])"
        return "object({" + ", ".join(f"{k}={self._attribute(k, v)}" for k, v in self.attributes) + "})"

    def _attribute(self, name: str, t: "Type") -> str:
        return f"optional({t})" if name in self.optional else str(t)

    @property
    def friendly(self) -> str:
        """cty's friendly name ("list of string", "number", ...)."""
        if self.kind == "any":
            return "dynamic"
        if self.kind in ("list", "set", "map"):
            return f"{self.kind} of {self.element.friendly}"
        return self.kind

    @property
    def is_primitive(self) -> bool:
        return self.kind in ("string", "number", "bool")


STRING = Type("string")
NUMBER = Type("number")
BOOL = Type("bool")
ANY = Type("any")


def list_of(t: Type) -> Type:
    return Type("list", element=t)


def set_of(t: Type) -> Type:
    return Type("set", element=t)


def map_of(t: Type) -> Type:
    return Type("map", element=t)


def convert(value: Value, t: Type) -> Value:
    """Convert ``value`` to type ``t`` or raise :class:`ConversionError`."""
    if value is None or t.kind == "any":
        return value
    kind = t.kind
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal):
            return format_number(value)
        raise ConversionError("string required")
    if kind == "number":
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str):
            return parse_number(value)
        raise ConversionError("number required")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if value == "true":
                return True
            if value == "false":
                return False
            raise ConversionError("a bool is required")
        raise ConversionError("bool required")
    if kind in ("list", "set"):
        if not isinstance(value, list):
            raise ConversionError(f"{t.friendly} required")
        items = [_convert_element(v, t.element, i) for i, v in enumerate(value)]
        if kind == "list":
            return HList(unify(items) if t.element.kind == "any" else items)
        return make_set(items)
    if kind == "map":
        if not isinstance(value, dict):
            raise ConversionError(f"{t.friendly} required")
        out = HMap()
        for key in sorted(value):
            out[key] = _convert_element(value[key], t.element, key)
        return out
    if kind == "tuple":
        if not isinstance(value, list):
            raise ConversionError("tuple required")
        if len(value) != len(t.elements):
            raise ConversionError(f"tuple required with {len(t.elements)} elements")
        return [_convert_element(v, et, i) for i, (v, et) in enumerate(zip(value, t.elements, strict=False))]
    if kind == "object":
        if not isinstance(value, dict):
            raise ConversionError("object required")
        out_obj: dict = {}
        for name, at in t.attributes:
            if name not in value:
                if name in t.optional:
                    out_obj[name] = None
                    continue
                raise ConversionError(f'attribute "{name}" is required')
            out_obj[name] = _convert_element(value[name], at, name)
        return out_obj
    raise ConversionError(f"unsupported type {t}")


def _convert_element(value: Value, t: Type, where: object) -> Value:
    try:
        return convert(value, t)
    except ConversionError as err:
        if isinstance(where, int):
            raise ConversionError(f"element {where}: {err}") from None
        raise ConversionError(f'attribute "{where}": {err}') from None


def parse_number(text: str) -> Decimal:
    """Parse a decimal number string as cty does (``a number is required`` otherwise)."""
    try:
        result = NUMBER_CONTEXT.create_decimal(text)
    except decimal.InvalidOperation:
        raise ConversionError("a number is required") from None
    if not result.is_finite() or text != text.strip():
        raise ConversionError("a number is required")
    return result


def make_set(items: list[Value]) -> HSet:
    """Build a cty set: unique elements, sorted as cty sorts sets."""
    unique: list[Value] = []
    for item in items:
        if not any(_same(item, u) for u in unique):
            unique.append(item)
    return HSet(sorted(unique, key=_set_sort_key))


def _same(a: Value, b: Value) -> bool:
    return type(a) is type(b) and a == b


def _set_sort_key(v: Value) -> tuple:
    if isinstance(v, str):
        return (0, v)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, Decimal):
        return (1, v)
    return (3, repr(v))


def unify(items: list[Value]) -> list[Value]:
    """Convert all items to one common type when they are primitives of mixed kinds."""
    kinds = {type_name(v) for v in items if v is not None}
    if len(kinds) > 1 and kinds <= {"string", "number", "bool"}:
        return [convert(v, STRING) for v in items]
    return items


def unify_with(value: Value, other: Value) -> Value:
    """Convert ``value`` to the type cty's Unify would pick for it and ``other``."""
    if value is None or other is None:
        return value
    primitives = (str, bool, Decimal)
    if isinstance(value, primitives) and isinstance(other, primitives):
        if type(value) is not type(other):
            return convert(value, STRING)
        return value
    if isinstance(value, list) and isinstance(other, list):
        if isinstance(other, HSet) and not isinstance(value, HSet):
            try:
                return make_set(unify(list(value)))
            except ConversionError:
                return value
        if isinstance(other, HList) and type(value) is list:
            return HList(value)
    return value
