"""Type constraint expressions (``string``, ``list(number)``, ``object({a = optional(bool)})``).

:func:`type_from_expression` reads one as HCL's ``typeexpr.TypeConstraint`` does, the
function buildx uses for a variable's ``type``: ``any`` is allowed, ``optional(T)``
marks an object attribute optional, and ``optional(T, default)`` is refused, because
buildx does not ask for defaults. Every refusal carries typeexpr's own wording and range.
"""

from __future__ import annotations

from bakec.bake.hcl import ast
from bakec.bake.hcl.types import ANY, BOOL, NUMBER, STRING, Type, list_of, map_of, set_of
from bakec.errors import DiagnosticError, Range

_SUMMARY = "Invalid type specification"
_KEYWORDS = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": ANY}
_COLLECTIONS = {"list": list_of, "set": set_of, "map": map_of}
_NEEDS_ONE_ARGUMENT = {
    "list": "The list type constructor requires one argument specifying the element type.",
    "set": "The set type constructor requires one argument specifying the element type.",
    "map": "The map type constructor requires one argument specifying the element type.",
    "object": "The object type constructor requires one argument specifying the attribute types and values as a map.",
    "tuple": "The tuple type constructor requires one argument specifying the element types as a list.",
}


def type_from_expression(node: ast.Node) -> Type:
    """The type constraint ``node`` spells, or a positioned :class:`DiagnosticError` as HCL words it."""
    keyword = _keyword(node)
    if keyword is not None:
        if keyword in _KEYWORDS:
            return _KEYWORDS[keyword]
        if keyword in _NEEDS_ONE_ARGUMENT:
            raise DiagnosticError(_SUMMARY, _NEEDS_ONE_ARGUMENT[keyword], node.range)
        raise DiagnosticError(
            _SUMMARY, f'The keyword "{keyword}" is not a valid type specification.', node.range
        )
    if not isinstance(node, ast.Call) or "::" in node.name:
        raise DiagnosticError(
            _SUMMARY,
            "A type specification is either a primitive type keyword (bool, number, string) "
            "or a complex type constructor call, like list(string).",
            node.range,
        )
    name = node.name
    if name in ("bool", "string", "number"):
        raise DiagnosticError(
            _SUMMARY, f'Primitive type keyword "{name}" does not expect arguments.', _args_range(node)
        )
    if name == "any":
        raise DiagnosticError(
            _SUMMARY, f'Type constraint keyword "{name}" does not expect arguments.', _args_range(node)
        )
    if len(node.args) != 1 and name in _NEEDS_ONE_ARGUMENT:
        subject = _args_range(node)
        if len(node.args) > 1:
            subject = _between(node.args[1].range, node.args[-1].range)
        raise DiagnosticError(_SUMMARY, _NEEDS_ONE_ARGUMENT[name], subject)
    if name in _COLLECTIONS:
        return _COLLECTIONS[name](type_from_expression(node.args[0]))
    if name == "object":
        return _object(node.args[0])
    if name == "tuple":
        if not isinstance(node.args[0], ast.TupleExpr):
            raise DiagnosticError(
                _SUMMARY, "Tuple type constructor requires a list of element types.", node.args[0].range
            )
        return Type("tuple", elements=tuple(type_from_expression(e) for e in node.args[0].items))
    if name == "optional":
        raise DiagnosticError(
            _SUMMARY,
            'Keyword "optional" is valid only as a modifier for object type attributes.',
            node.name_range,
        )
    raise DiagnosticError(_SUMMARY, f'Keyword "{name}" is not a valid type constructor.', node.range)


def _object(spec: ast.Node) -> Type:
    if not isinstance(spec, ast.ObjectExpr):
        raise DiagnosticError(
            _SUMMARY,
            "Object type constructor requires a map whose keys are attribute names and whose values "
            "are the corresponding attribute types.",
            spec.range,
        )
    attributes: dict[str, Type] = {}
    optional: list[str] = []
    for key, value in spec.items:
        name = key.value if isinstance(key, ast.Literal) and isinstance(key.value, str) else None
        if name is None:
            raise DiagnosticError(_SUMMARY, "Object constructor map keys must be attribute names.", key.range)
        if name in attributes:
            raise DiagnosticError(_SUMMARY, "Object constructor map keys must be unique.", key.range)
        if isinstance(value, ast.Call) and value.name == "optional":
            if not value.args:
                raise DiagnosticError(
                    _SUMMARY,
                    "Optional attribute modifier requires the attribute type as its argument.",
                    _args_range(value),
                )
            if len(value.args) > 1:
                raise DiagnosticError(
                    _SUMMARY,
                    "Optional attribute modifier expects only one argument: the attribute type.",
                    _args_range(value),
                )
            optional.append(name)
            value = value.args[0]
        attributes[name] = type_from_expression(value)
    return Type("object", attributes=tuple(sorted(attributes.items())), optional=frozenset(optional))


def _keyword(node: ast.Node) -> str | None:
    """The bare word an expression is (HCL's ``ExprAsKeyword``), or None."""
    return node.name if isinstance(node, ast.Variable) else None


def _args_range(call: ast.Call) -> Range:
    """The parentheses of a call and what is between them (HCL's ``ArgsRange``)."""
    return Range(call.range.filename, call.name_range.end, call.close_range.end)


def _between(first: Range, last: Range) -> Range:
    return Range(first.filename, first.start, last.end)
