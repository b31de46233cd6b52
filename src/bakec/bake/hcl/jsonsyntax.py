"""HCL's JSON syntax (``docker-bake.json``, and bakec's own YAML form) as an AST Body.

Blocks (``variable``, ``function``, ``target``, ``group``) are objects keyed by
label; every string is a template, so ``"${VAR}"`` is evaluated and a string
that is only ``"${X}"`` yields X's own type. The result is the same AST the
native syntax produces, so one evaluator serves both.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bakec.bake.hcl import ast
from bakec.bake.hcl.nesting import check_json_nesting
from bakec.bake.hcl.parse import decode_source, parse_expression, quote_template
from bakec.bake.hcl.values import number
from bakec.errors import DiagnosticError, Pos, Range

_BLOCK_TYPES = ("variable", "function", "target", "group")


def parse_json(source: bytes | str, filename: str) -> ast.Body:
    """Parse a JSON bake file into a Body, or raise a positioned DiagnosticError."""
    text = decode_source(source, filename)
    check_json_nesting(text, filename)
    try:
        data = json.loads(text, parse_float=number, parse_int=number, object_pairs_hook=_pairs)
    except json.JSONDecodeError as err:
        raise _json_error(err, text, filename) from None
    return body_from_data(data, filename)


def body_from_data(data: Any, filename: str) -> ast.Body:
    """Build a Body from already-decoded JSON-like data (also used for bakec's YAML form)."""
    rng = Range(filename, Pos(1, 1), Pos(1, 1))
    if not isinstance(data, list) and not isinstance(data, dict):
        raise DiagnosticError("Invalid JSON body", "The root of a bake file must be an object.", rng)
    builder = _Builder(filename, rng)
    return builder.body(_pairs_of(data))


def _pairs(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return _Object(pairs)


class _Object(list):
    """JSON object kept as ordered pairs (HCL JSON allows repeated keys)."""


def _pairs_of(data: Any) -> list[tuple[str, Any]]:
    if isinstance(data, _Object):
        return list(data)
    if isinstance(data, dict):
        return list(data.items())
    return []


class _Builder:
    def __init__(self, filename: str, rng: Range) -> None:
        self.filename = filename
        self.rng = rng

    def body(self, pairs: list[tuple[str, Any]]) -> ast.Body:
        attributes: dict[str, ast.Attribute] = {}
        blocks: list[ast.Block] = []
        for key, value in pairs:
            if key in _BLOCK_TYPES:
                for label, content in self._labelled(value):
                    blocks.append(self.block(key, label, content))
            else:
                attributes[key] = ast.Attribute(key, self.expr(value), self.rng, self.rng)
        return ast.Body(attributes, blocks, self.rng)

    def _labelled(self, value: Any):
        items = value if isinstance(value, list) and not isinstance(value, _Object) else [value]
        for item in items:
            for label, content in _pairs_of(item):
                yield label, content

    def block(self, kind: str, label: str, content: Any) -> ast.Block:
        contents = content if isinstance(content, list) and not isinstance(content, _Object) else [content]
        attributes: dict[str, ast.Attribute] = {}
        blocks: list[ast.Block] = []
        for part in contents:
            for key, value in _pairs_of(part):
                if kind == "variable" and key == "validation":
                    for item in (
                        value if isinstance(value, list) and not isinstance(value, _Object) else [value]
                    ):
                        inner = ast.Body(
                            {
                                k: ast.Attribute(k, self.expr(v), self.rng, self.rng)
                                for k, v in _pairs_of(item)
                            },
                            [],
                            self.rng,
                        )
                        blocks.append(ast.Block("validation", [], inner, self.rng, self.rng, []))
                    continue
                if kind == "function" and key in ("params", "variadic_params"):
                    attributes[key] = ast.Attribute(key, self._identifiers(value), self.rng, self.rng)
                    continue
                if kind == "variable" and key == "type" and isinstance(value, str):
                    attributes[key] = ast.Attribute(key, self._type_expr(value), self.rng, self.rng)
                    continue
                attributes[key] = ast.Attribute(key, self.expr(value), self.rng, self.rng)
        return ast.Block(
            kind, [label], ast.Body(attributes, blocks, self.rng), self.rng, self.rng, [self.rng]
        )

    def _identifiers(self, value: Any) -> ast.Node:
        if isinstance(value, str):
            return ast.Variable(self.rng, value)
        if isinstance(value, list):
            return ast.TupleExpr(self.rng, tuple(ast.Variable(self.rng, str(v)) for v in value))
        return self.expr(value)

    def _type_expr(self, text: str) -> ast.Node:
        inner = text
        match = re.fullmatch(r"\$\{(.*)\}", text.strip(), re.S)
        if match:
            inner = match.group(1)
        return parse_expression(inner, self.filename)

    def expr(self, value: Any) -> ast.Node:
        if isinstance(value, _Object):
            items = tuple((ast.Literal(self.rng, k), self.expr(v)) for k, v in value)
            return ast.ObjectExpr(self.rng, items)
        if isinstance(value, dict):
            items = tuple((ast.Literal(self.rng, k), self.expr(v)) for k, v in value.items())
            return ast.ObjectExpr(self.rng, items)
        if isinstance(value, list):
            return ast.TupleExpr(self.rng, tuple(self.expr(v) for v in value))
        if isinstance(value, str):
            if "${" not in value and "%{" not in value:
                return ast.Template(self.rng, (ast.Literal(self.rng, value),) if value else ())
            return parse_expression(quote_template(value), self.filename)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return ast.Literal(self.rng, number(str(value)))
        return ast.Literal(self.rng, value)


def _json_error(err: json.JSONDecodeError, text: str, filename: str) -> DiagnosticError:
    line, col = err.lineno, err.colno
    before = text[: err.pos].rstrip()
    if before.endswith(","):
        comma = len(before) - 1
        line = text.count("\n", 0, comma) + 1
        col = comma - (text.rfind("\n", 0, comma) + 1) + 1
        closing = text[err.pos : err.pos + 1]
        kind = "array" if closing == "]" else "object"
        return DiagnosticError(
            f"Trailing comma in {kind}",
            f"JSON does not permit a trailing comma after the final {'value' if kind == 'array' else 'property'} in an {kind}.",
            Range(filename, Pos(line, col), Pos(line, col + 1)),
        )
    return DiagnosticError("Invalid JSON", f"{err.msg}.", Range(filename, Pos(line, col), Pos(line, col + 1)))
