"""cty's relations between types: unification, whether a conversion exists, why it does not.

:func:`unify` is what a conditional uses to give both of its results one type.

``c ? a : b`` has the type both ``a`` and ``b`` convert to: number and string unify to
string, tuples of one length element-wise and of different lengths to a list, objects with
the same attributes attribute-wise and with different ones to a map. Number against bool,
primitive against structure and tuple against object have no common type;
:func:`describe_mismatch` then words why, as HCL does. :func:`mismatch_message` is cty's
``MismatchMessage``: why a value of one type has no conversion to another at all.
"""

from __future__ import annotations

from bakec.bake.hcl.types import ANY, BOOL, NUMBER, STRING, Type, list_of, map_of, set_of
from bakec.bake.hcl.values import HList, HMap, HSet, Value

_PRIMITIVES = ("string", "number", "bool")


def value_type(value: Value) -> Type:
    """The cty type of a value (``any`` for null: a literal null's dynamic type)."""
    if value is None:
        return ANY
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        if isinstance(value, (HList, HSet)):
            element = value_type(value[0]) if value else ANY
            return set_of(element) if isinstance(value, HSet) else list_of(element)
        return Type("tuple", elements=tuple(value_type(v) for v in value))
    if isinstance(value, dict):
        if isinstance(value, HMap):
            return map_of(value_type(next(iter(value.values()))) if value else ANY)
        return Type("object", attributes=tuple((k, value_type(value[k])) for k in sorted(value)))
    return NUMBER


def unify(a: Type, b: Type) -> Type | None:
    """The type both ``a`` and ``b`` convert to, or None when cty finds none."""
    if a.kind == "any":
        return b
    if b.kind == "any" or a == b:
        return a
    if a.kind in _PRIMITIVES or b.kind in _PRIMITIVES:
        if a.kind not in _PRIMITIVES or b.kind not in _PRIMITIVES or {a.kind, b.kind} == {"number", "bool"}:
            return None
        return STRING
    kinds = {a.kind, b.kind}
    if kinds == {"tuple"}:
        if len(a.elements) == len(b.elements):
            return _all_or_none(unify(x, y) for x, y in zip(a.elements, b.elements, strict=True))
        return _collection(list_of, (*a.elements, *b.elements))
    if kinds == {"object"}:
        if [name for name, _ in a.attributes] == [name for name, _ in b.attributes]:
            attributes = [(n, unify(x, y)) for (n, x), (_, y) in zip(a.attributes, b.attributes, strict=True)]
            if any(t is None for _, t in attributes):
                return None
            return Type("object", attributes=tuple(attributes))  # type: ignore[arg-type]
        return _collection(map_of, (*(t for _, t in a.attributes), *(t for _, t in b.attributes)))
    if kinds == {"tuple", "object"}:
        return None
    if kinds == {"list", "set"}:
        return _collection(set_of, (_element(a), _element(b)))
    for kind, make in (("list", list_of), ("set", set_of), ("map", map_of)):
        if kind in kinds and kinds <= {kind, "tuple" if kind != "map" else "object"}:
            return _collection(make, (*_members(a), *_members(b)))
    return a  # no rule known here (e.g. list against set): keep the chosen value as it is


def _element(t: Type) -> Type:
    """A collection type's element type."""
    assert t.element is not None
    return t.element


def _members(t: Type) -> tuple[Type, ...]:
    if t.kind in ("list", "set", "map"):
        return (_element(t),)
    if t.kind == "tuple":
        return t.elements
    return tuple(at for _, at in t.attributes)


def _collection(make, members: tuple[Type, ...]) -> Type | None:
    """A collection of the type all ``members`` unify to (all at once: number, bool and string make string)."""
    known = [m for m in members if m.kind != "any"]
    if known and all(m.kind in _PRIMITIVES for m in known):
        kinds = {m.kind for m in known}
        if len(kinds) > 1 and "string" not in kinds:
            return None
        return make(known[0] if len(kinds) == 1 else STRING)
    element = ANY
    for member in known:
        unified = unify(element, member)
        if unified is None:
            return None
        element = unified
    return make(element)


def _all_or_none(types) -> Type | None:
    elements = tuple(types)
    if any(t is None for t in elements):
        return None
    return Type("tuple", elements=elements)


def describe_mismatch(a: Type, b: Type) -> str:
    """Why the 'true' type ``a`` and the 'false' type ``b`` do not unify (HCL's wording)."""
    if a.kind == "object" and b.kind == "object":
        a_attrs, b_attrs = dict(a.attributes), dict(b.attributes)
        for name in sorted(a_attrs):
            if name not in b_attrs:
                return f"The 'true' value includes object attribute \"{name}\", which is absent in the 'false' value"
            if a_attrs[name] != b_attrs[name]:
                return f'Type mismatch for object attribute "{name}": ' + describe_mismatch(
                    a_attrs[name], b_attrs[name]
                )
        for name in sorted(b_attrs):
            if name not in a_attrs:
                return f"The 'false' value includes object attribute \"{name}\", which is absent in the 'true' value"
    if a.kind == "tuple" and b.kind == "tuple":
        if len(a.elements) != len(b.elements):
            return f"The 'true' tuple has length {len(a.elements)}, but the 'false' tuple has length {len(b.elements)}"
        for i, (x, y) in enumerate(zip(a.elements, b.elements, strict=True)):
            if x != y:
                return f"Type mismatch for tuple element {i}: " + describe_mismatch(x, y)
    if (
        a.kind == b.kind
        and a.kind in ("list", "set", "map")
        and {_element(a).kind, _element(b).kind} <= {"object", "tuple"}
    ):
        if _element(a).kind == _element(b).kind:
            return f"Mismatched {a.kind} element types: " + describe_mismatch(_element(a), _element(b))
    if a.friendly == b.friendly:
        return (
            "At least one deeply-nested attribute or element is not compatible across both the 'true' "
            "and the 'false' value"
        )
    return f"The 'true' value is {a.friendly}, but the 'false' value is {b.friendly}"


def convertible(got: Type, want: Type) -> bool:
    """Whether cty has a conversion (perhaps one that fails for some values) from ``got`` to ``want``."""
    if got.kind == "any" or want.kind == "any" or got == want:
        return True
    if got.kind in _PRIMITIVES or want.kind in _PRIMITIVES:
        return (
            got.kind in _PRIMITIVES
            and want.kind in _PRIMITIVES
            and {got.kind, want.kind} != {"number", "bool"}
        )
    if want.kind in ("list", "set"):
        if got.kind in ("list", "set"):
            return convertible(_element(got), _element(want))
        if got.kind == "tuple":
            if _element(want).kind == "any":
                return _collection(list_of, got.elements) is not None
            return all(convertible(e, _element(want)) for e in got.elements)
        return False
    if want.kind == "map":
        if got.kind == "map":
            return convertible(_element(got), _element(want))
        if got.kind == "object":
            if _element(want).kind == "any":
                return _collection(map_of, tuple(t for _, t in got.attributes)) is not None
            return all(convertible(t, _element(want)) for _, t in got.attributes)
        return False
    if want.kind == "tuple":
        if got.kind == "tuple":
            return len(got.elements) == len(want.elements) and all(
                convertible(g, w) for g, w in zip(got.elements, want.elements, strict=True)
            )
        return got.kind in ("list", "set")
    if want.kind == "object":
        if got.kind == "object":
            have = dict(got.attributes)
            return all(
                convertible(have[name], t) if name in have else name in want.optional
                for name, t in want.attributes
            )
        return got.kind == "map"
    return False


def mismatch_message(got: Type, want: Type) -> str:
    """Why no conversion from ``got`` to ``want`` exists, as cty's MismatchMessage says it."""
    if got.kind == "object" and want.kind == "object":
        return _object_mismatch(got, want)
    if got.kind == "tuple" and want.kind in ("list", "set") and _element(want).kind == "any":
        return f"all {want.kind} elements must have the same type"
    if got.kind == "object" and want.kind == "map" and _element(want).kind == "any":
        return "all map elements must have the same type"
    if got.kind in ("tuple", "object") and want.kind in ("list", "set", "map"):
        if (want.kind == "map") != (got.kind == "object"):
            return f"{_constraint_name(want)} required"
        if got.kind == "tuple":
            for i, element in enumerate(got.elements):
                if not convertible(element, _element(want)):
                    return f"element {i}: {mismatch_message(element, _element(want))}"
        else:
            for name, element in got.attributes:
                if not convertible(element, _element(want)):
                    return f'element "{name}": {mismatch_message(element, _element(want))}'
        return f"all elements must be {_constraint_name(_element(want))}"
    if got.kind in ("list", "set", "map") and want.kind in ("list", "set", "map"):
        if (want.kind == "map") != (got.kind == "map"):
            return f"{_constraint_name(want)} required"
        return f"incorrect {want.kind} element type: {mismatch_message(_element(got), _element(want))}"
    if not _confusing(got, want):
        return f"{want.friendly} required, but have {got.friendly}"
    return f"{_constraint_name(want)} required"


def _object_mismatch(got: Type, want: Type) -> str:
    have = dict(got.attributes)
    missing = sorted(name for name, _ in want.attributes if name not in have and name not in want.optional)
    if len(missing) == 1:
        return f'attribute "{missing[0]}" is required'
    if len(missing) == 2:
        return f'attributes "{missing[0]}" and "{missing[1]}" are required'
    if missing:
        return (
            "attributes " + ", ".join(f'"{m}"' for m in missing[:-1]) + f', and "{missing[-1]}" are required'
        )
    for name, t in want.attributes:
        if name in have and have[name] != t and not convertible(have[name], t):
            return f'attribute "{name}": {mismatch_message(have[name], t)}'
    return "incorrect object attributes"


def _confusing(got: Type, want: Type) -> bool:
    """cty's typesAreLikelyToCauseConfusion: when naming both types would mislead."""
    if (got.kind in _PRIMITIVES) != (want.kind in _PRIMITIVES) or want == STRING:
        return False
    if {got.kind, want.kind} == {"number", "bool"}:
        return False
    if got.kind in ("list", "set", "map") and want.kind in ("list", "set", "map"):
        if _element(got).kind != "any" and _element(want).kind == "any":
            return False
    return not (got.kind == "tuple" and want.kind == "object")


def _constraint_name(t: Type) -> str:
    """cty's FriendlyNameForConstraint: "any type" and "list of any single type" for dynamic parts."""
    if t.kind == "any":
        return "any type"
    if t.kind in ("list", "set", "map"):
        element = "any single type" if _element(t).kind == "any" else _constraint_name(_element(t))
        return f"{t.kind} of {element}"
    return t.friendly


__all__ = ["convertible", "describe_mismatch", "mismatch_message", "unify", "value_type"]
