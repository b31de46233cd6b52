"""Evaluate bakec's HCL AST to cty-like Python values.

:class:`Evaluator` is a function over the tree with an explicit scope: local
names (``for`` variables, function parameters, matrix values) in a dict, and
everything global (variables, ``target.<name>.<attr>``, user functions) through
the :class:`Globals` the caller supplies, so variables stay lazy and
order-independent. Errors are HCL diagnostics with the node's range.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Callable, Protocol

from bakec.bake.hcl import ast
from bakec.bake.hcl.functions import FunctionError, check_result_size, lookup
from bakec.bake.hcl.typeexpr import type_from_expression
from bakec.bake.hcl.types import (
    BOOL,
    NUMBER,
    STRING,
    ConversionError,
    Type,
    convert,
)
from bakec.bake.hcl.unify import convertible, describe_mismatch, mismatch_message, unify, value_type
from bakec.bake.hcl.values import (
    NUMBER_CONTEXT,
    HList,
    HMap,
    HSet,
    Value,
    format_number,
    modulo,
    narrow_arithmetic,
    precision,
    type_name,
    with_precision,
)
from bakec.errors import DiagnosticError, Pos, Range


class Globals(Protocol):
    """What an evaluation can see beyond its local names."""

    def variable(self, name: str, rng: Range) -> Value: ...

    def variable_names(self) -> list[str]: ...

    def block_attribute(self, kind: str, name: str, attr: str, rng: Range) -> Value: ...

    def user_function(self, name: str) -> "UserFunction | None": ...

    def function_names(self) -> list[str]: ...


class UserFunction(Protocol):
    name: str
    params: list[str]
    variadic: str | None

    def call(self, args: list[Value], rng: Range) -> Value: ...


_BLOCK_ROOTS = ("target", "group")


def suggest(name: str, candidates: list[str]) -> str:
    """HCL's " Did you mean "x"?" suffix, or an empty string.

    HCL suggests a name less than 3 edits away (the first it meets in a Go map, so any of
    them); the nearest, then the first in sorted order, is the stable choice among those.
    """
    distances = sorted((_edit_distance(name, c), c) for c in set(candidates))
    if distances and distances[0][0] < 3:
        return f' Did you mean "{distances[0][1]}"?'
    return ""


def start_range(node: ast.Node) -> Range:
    """Where HCL points a diagnostic about a whole expression (its ``StartRange``).

    The opening bracket of a tuple, object or ``for``; a call's name and parenthesis; the
    text of a plain quoted string; the whole expression otherwise.
    """
    rng = node.range
    if isinstance(node, ast.ObjectExpr | ast.TupleExpr | ast.ForExpr):
        return Range(rng.filename, rng.start, Pos(rng.start.line, rng.start.column + 1))
    if isinstance(node, ast.Call):
        end = node.name_range.end
        return Range(rng.filename, node.name_range.start, Pos(end.line, end.column + 1))
    quoted_text = (
        isinstance(node, ast.Template)
        and len(node.parts) == 1
        and isinstance(node.parts[0], ast.Literal)
        and rng.start.line == rng.end.line
    )
    if quoted_text:
        return Range(
            rng.filename, Pos(rng.start.line, rng.start.column + 1), Pos(rng.end.line, rng.end.column - 1)
        )
    return rng


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two names."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


class Evaluator:
    """Evaluates expressions against :class:`Globals` and a dict of local names."""

    def __init__(self, globals_: Globals) -> None:
        self.globals = globals_
        self._dispatch: dict[type, Callable] = {
            ast.Literal: self._literal,
            ast.Template: self._template,
            ast.Variable: self._variable,
            ast.GetAttr: self._get_attr,
            ast.Index: self._index,
            ast.Splat: self._splat,
            ast.Call: self._call,
            ast.Conditional: self._conditional,
            ast.Binary: self._binary,
            ast.Unary: self._unary,
            ast.TupleExpr: self._tuple,
            ast.ObjectExpr: self._object,
            ast.ForExpr: self._for,
            ast.Paren: self._paren,
        }

    def eval(self, node: ast.Node, local: dict[str, Value] | None = None) -> Value:
        return self._dispatch[type(node)](node, local if local is not None else {})

    # -- leaves ------------------------------------------------------------------
    def _literal(self, node: ast.Literal, local: dict) -> Value:
        return node.value

    def _paren(self, node: ast.Paren, local: dict) -> Value:
        return self.eval(node.inner, local)

    def _variable(self, node: ast.Variable, local: dict) -> Value:
        name = node.name
        if name in local:
            return local[name]
        if name in _BLOCK_ROOTS:
            raise DiagnosticError(
                "Invalid reference",
                f'A reference to "{name}" must be followed by a block name and attribute.',
                node.range,
            )
        return self.globals.variable(name, node.range)

    # -- templates ---------------------------------------------------------------
    def _template(self, node: ast.Template, local: dict) -> Value:
        parts = node.parts
        if len(parts) == 1 and not isinstance(parts[0], (ast.TemplateIf, ast.TemplateFor)):
            return self.eval(parts[0], local)  # "${x}" yields x itself, with its type
        return self._render(node, local)

    def _render(self, node: ast.Template, local: dict) -> str:
        out: list[str] = []
        for part in node.parts:
            if isinstance(part, ast.Literal) and isinstance(part.value, str):
                out.append(part.value)  # literal text (or a string literal: the same thing)
            elif isinstance(part, ast.TemplateIf):
                cond = self._bool(self.eval(part.condition, local), part.condition.range)
                branch = part.then if cond else part.otherwise
                if branch is not None:
                    out.append(self._render(branch, local))
            elif isinstance(part, ast.TemplateFor):
                collection = self.eval(part.collection, local)
                for key, value in self._iterate(collection, part.collection.range):
                    inner = dict(local)
                    if part.key is not None:
                        inner[part.key] = key
                    inner[part.value] = value
                    out.append(self._render(part.body, inner))
            else:
                out.append(self._interpolate(self.eval(part, local), part.range))
        return "".join(out)

    def _interpolate(self, value: Value, rng: Range) -> str:
        if value is None:
            raise DiagnosticError(
                "Invalid template interpolation value",
                "The expression result is null. Cannot include a null value in a string template.",
                rng,
            )
        try:
            return convert(value, STRING)
        except ConversionError:
            raise DiagnosticError(
                "Invalid template interpolation value",
                f"Cannot include the given value in a string template: string required, but have {type_name(value)}.",
                rng,
            ) from None

    # -- traversal ---------------------------------------------------------------
    def _get_attr(self, node: ast.GetAttr, local: dict) -> Value:
        inner = node.target
        if (
            isinstance(inner, ast.GetAttr)
            and isinstance(inner.target, ast.Variable)
            and inner.target.name in _BLOCK_ROOTS
            and inner.target.name not in local
        ):
            return self.globals.block_attribute(inner.target.name, inner.name, node.name, node.range)
        if isinstance(inner, ast.Variable) and inner.name in _BLOCK_ROOTS and inner.name not in local:
            raise DiagnosticError(
                "Invalid reference",
                f'A reference to "{inner.name}.{node.name}" must be followed by an attribute name.',
                node.range,
            )
        return self.get_attr(self.eval(inner, local), node.name, node.name_range)

    def get_attr(self, value: Value, name: str, rng: Range) -> Value:
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if isinstance(value, HMap):
                raise DiagnosticError(
                    "Missing map element", f'This map does not have an element with the key "{name}".', rng
                )
            raise DiagnosticError(
                "Unsupported attribute", f'This object does not have an attribute named "{name}".', rng
            )
        if value is None:
            raise DiagnosticError(
                "Attempt to get attribute from null value",
                "This value is null, so it does not have any attributes.",
                rng,
            )
        raise DiagnosticError(
            "Unsupported attribute",
            f"Can't access attributes on a primitive-typed value ({type_name(value)}).",
            rng,
        )

    def _index(self, node: ast.Index, local: dict) -> Value:
        collection = self.eval(node.target, local)
        key = self.eval(node.key, local)
        return self.index(collection, key, node.key.range)

    def index(self, collection: Value, key: Value, rng: Range) -> Value:
        if collection is None:
            raise DiagnosticError(
                "Attempt to index null value", "This value is null, so it does not have any indices.", rng
            )
        if isinstance(collection, list) and not isinstance(collection, HSet):
            try:
                position = convert(key, NUMBER)
            except ConversionError:
                raise DiagnosticError(
                    "Invalid index",
                    "The given key does not identify an element in this collection value: a number is required.",
                    rng,
                ) from None
            if (
                position is None
                or position != position.to_integral_value()
                or not 0 <= position < len(collection)
            ):
                raise DiagnosticError(
                    "Invalid index",
                    "The given key does not identify an element in this collection value.",
                    rng,
                )
            return collection[int(position)]
        if isinstance(collection, dict):
            try:
                name = convert(key, STRING)
            except ConversionError:
                raise DiagnosticError(
                    "Invalid index",
                    "The given key does not identify an element in this collection value: string required.",
                    rng,
                ) from None
            if name not in collection:
                raise DiagnosticError(
                    "Invalid index",
                    "The given key does not identify an element in this collection value.",
                    rng,
                )
            return collection[name]
        raise DiagnosticError("Invalid index", "This value does not have any indices.", rng)

    def _splat(self, node: ast.Splat, local: dict) -> Value:
        source = self.eval(node.source, local)
        if source is None:
            return []
        items = source if isinstance(source, list) else [source]
        results = []
        for item in items:
            results.append(self._eval_with_anchor(node.each, item, local))
        return HList(results) if isinstance(source, HList) else results

    def _eval_with_anchor(self, node: ast.Node, anchor: Value, local: dict) -> Value:
        if isinstance(node, ast.SplatAnchor):
            return anchor
        if isinstance(node, ast.GetAttr):
            return self.get_attr(
                self._eval_with_anchor(node.target, anchor, local), node.name, node.name_range
            )
        if isinstance(node, ast.Index):
            return self.index(
                self._eval_with_anchor(node.target, anchor, local), self.eval(node.key, local), node.key.range
            )
        return self.eval(node, local)

    # -- operators ---------------------------------------------------------------
    def _conditional(self, node: ast.Conditional, local: dict) -> Value:
        cond = self.eval(node.condition, local)
        if cond is None:
            raise DiagnosticError(
                "Null condition",
                "The condition value is null. Conditions must either be true or false.",
                node.condition.range,
            )
        try:
            flag = convert(cond, BOOL)
        except ConversionError:
            raise DiagnosticError(
                "Incorrect condition type",
                "The condition expression must be of type bool.",
                node.condition.range,
            ) from None
        chosen, other = (node.then, node.otherwise) if flag else (node.otherwise, node.then)
        result = self.eval(chosen, local)
        # HCL evaluates both results and converts the chosen one to their unified type
        # (e.g. a set in one branch makes a tuple in the other a set); errors in the
        # other branch are dropped, as HCL drops their diagnostics.
        try:
            other_value = self.eval(other, local)
        except DiagnosticError:
            return result
        then_value, else_value = (result, other_value) if flag else (other_value, result)
        then_type, else_type = value_type(then_value), value_type(else_value)
        unified = unify(then_type, else_type)
        if unified is None:
            raise DiagnosticError(
                "Inconsistent conditional result types",
                "The true and false result expressions must have consistent types. "
                f"{describe_mismatch(then_type, else_type)}.",
                Range(node.then.range.filename, node.then.range.start, node.otherwise.range.end),
            )
        try:
            return convert(result, unified)
        except ConversionError:  # a value the type allows but cannot take: keep it as it is
            return result

    def _bool(self, value: Value, rng: Range) -> bool:
        """A template ``%{ if }`` condition: HCL makes it a conditional, with a conditional's errors."""
        if value is None:
            raise DiagnosticError(
                "Null condition", "The condition value is null. Conditions must either be true or false.", rng
            )
        try:
            return convert(value, BOOL)
        except ConversionError:
            raise DiagnosticError(
                "Incorrect condition type", "The condition expression must be of type bool.", rng
            ) from None

    def _unary(self, node: ast.Unary, local: dict) -> Value:
        value = self.eval(node.operand, local)
        if node.op == "!":
            return not self._operand(value, BOOL, "", node.operand.range, "a bool is required")
        # copy_negate: big.Float.Neg keeps a zero's sign, Decimal's context minus would drop it
        operand = self._operand(value, NUMBER, "", node.operand.range, "a number is required")
        return with_precision(operand.copy_negate(), precision(operand))

    def _operand(self, value: Value, t: Type, side: str, rng: Range, need: str) -> Value:
        if value is None:
            raise DiagnosticError(
                "Invalid operand",
                f"Unsuitable value for {side}operand: {need}.".replace("for operand", "for unary operand"),
                rng,
            )
        try:
            return convert(value, t)
        except ConversionError:
            label = f"{side}operand" if side else "unary operand"
            raise DiagnosticError("Invalid operand", f"Unsuitable value for {label}: {need}.", rng) from None

    def _binary(self, node: ast.Binary, local: dict) -> Value:
        op = node.op
        left = self.eval(node.left, local)
        if op in ("&&", "||"):
            lb = self._operand(left, BOOL, "left ", node.left.range, "a bool is required")
            right_b = self._operand(
                self.eval(node.right, local), BOOL, "right ", node.right.range, "a bool is required"
            )
            return (lb and right_b) if op == "&&" else (lb or right_b)
        right = self.eval(node.right, local)
        if op == "==":
            return values_equal(left, right)
        if op == "!=":
            return not values_equal(left, right)
        a = self._operand(left, NUMBER, "left ", node.left.range, "a number is required")
        b = self._operand(right, NUMBER, "right ", node.right.range, "a number is required")
        narrow = narrow_arithmetic(op, a, b)  # two float64-born numbers keep their precision
        if narrow is not None:
            return narrow
        ctx = NUMBER_CONTEXT
        if op == "+":
            return ctx.add(a, b)
        if op == "-":
            return ctx.subtract(a, b)
        if op == "*":
            return ctx.multiply(a, b)
        if op == "/":
            if b == 0:
                raise DiagnosticError(
                    "Operation failed", "Error during operation: can't divide by zero.", node.range
                )
            return ctx.divide(a, b)
        if op == "%":
            if b == 0:
                raise DiagnosticError(
                    "Operation failed", "Error during operation: can't use modulo by zero.", node.range
                )
            return modulo(a, b)
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        if op == ">=":
            return a >= b
        raise DiagnosticError(
            "Invalid operator", f"Unsupported operator {op}.", node.range
        )  # pragma: no cover

    # -- collections -------------------------------------------------------------
    def _tuple(self, node: ast.TupleExpr, local: dict) -> Value:
        return [self.eval(item, local) for item in node.items]

    def _object(self, node: ast.ObjectExpr, local: dict) -> Value:
        out: dict = {}
        for key_node, value_node in node.items:
            key = self.eval(key_node, local)
            if key is None:
                raise DiagnosticError("Null value as key", "Can't use a null value as a key.", key_node.range)
            try:
                key = convert(key, STRING)
            except ConversionError:
                raise DiagnosticError(
                    "Incorrect key type", "Can't use this value as a key: string required.", key_node.range
                ) from None
            out[key] = self.eval(value_node, local)
        return {k: out[k] for k in sorted(out)}

    def _iterate(self, collection: Value, rng: Range):
        if isinstance(collection, dict):
            for key in sorted(collection):
                yield key, collection[key]
        elif isinstance(collection, list):
            for i, item in enumerate(collection):
                yield (item if isinstance(collection, HSet) else Decimal(i)), item
        elif collection is None:
            raise DiagnosticError(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                rng,
            )
        else:
            raise DiagnosticError(
                "Iteration over non-iterable value",
                f"A value of type {type_name(collection)} cannot be used as the collection in a 'for' expression.",
                rng,
            )

    def _for(self, node: ast.ForExpr, local: dict) -> Value:
        collection = self.eval(node.collection, local)
        is_object = node.key is not None
        result_list: list = []
        result_obj: dict = {}
        for key, value in self._iterate(collection, node.collection.range):
            inner = dict(local)
            if node.key_var is not None:
                inner[node.key_var] = key
            inner[node.value_var] = value
            if node.condition is not None:
                cond = self.eval(node.condition, inner)
                try:
                    keep = convert(cond, BOOL)
                except ConversionError:
                    keep = None
                if keep is None:
                    raise DiagnosticError(
                        "Invalid 'for' condition",
                        "The 'if' clause value is invalid: bool required.",
                        node.condition.range,
                    )
                if not keep:
                    continue
            if not is_object:
                result_list.append(self.eval(node.value, inner))
                continue
            k = self.eval(node.key, inner)
            try:
                k = convert(k, STRING)
            except ConversionError:
                raise DiagnosticError(
                    "Invalid object key", "The object key is invalid: string required.", node.key.range
                ) from None
            v = self.eval(node.value, inner)
            if node.group:
                result_obj.setdefault(k, []).append(v)
            elif k in result_obj:
                raise DiagnosticError(
                    "Duplicate object key",
                    f"Two different items produced the key \"{k}\" in this 'for' expression. If duplicates are expected, "
                    "use the ellipsis (...) after the value expression to enable grouping by key.",
                    node.key.range,
                )
            else:
                result_obj[k] = v
        if is_object:
            return {k: result_obj[k] for k in sorted(result_obj)}
        return result_list

    # -- calls -------------------------------------------------------------------
    def _call(self, node: ast.Call, local: dict) -> Value:
        name = node.name
        if name in ("try", "can"):
            return self._try_can(node, local)
        if name == "convert":
            return self._convert(node, local)
        user = self.globals.user_function(name)
        stdlib = None if user is not None else lookup(name)
        if user is None and stdlib is None:
            candidates = self.globals.function_names()
            raise DiagnosticError(
                "Call to unknown function",
                f'There is no function named "{name}".{suggest(name, candidates)}',
                node.name_range,
            )
        args = [self.eval(a, local) for a in node.args]
        if node.expand_final and node.args:
            last = args.pop()
            if not isinstance(last, list):
                raise DiagnosticError(
                    "Invalid expanding argument value",
                    "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                    node.args[-1].range,
                )
            args.extend(last)
        if user is not None:
            return self._call_user(user, args, node)
        return self._call_stdlib(stdlib, args, node)

    def _check_arity(self, name: str, params: list[str], variadic: bool, args: list, node: ast.Call) -> None:
        if len(args) < len(params):
            missing = params[len(args)]
            raise DiagnosticError(
                "Not enough function arguments",
                f'Function "{name}" expects {len(params)} argument(s). Missing value for "{missing}".',
                node.close_range,
            )
        if not variadic and len(args) > len(params):
            extra = node.args[len(params)].range if len(node.args) > len(params) else node.close_range
            raise DiagnosticError(
                "Too many function arguments",
                f'Function "{name}" expects only {len(params)} argument(s).',
                extra,
            )

    def _call_user(self, fn: UserFunction, args: list, node: ast.Call) -> Value:
        self._check_arity(fn.name, fn.params, fn.variadic is not None, args, node)
        return fn.call(args, node.range)

    def _call_stdlib(self, fn, args: list, node: ast.Call) -> Value:
        self._check_arity(fn.name, [p.name for p in fn.params], fn.variadic is not None, args, node)
        converted = []
        for i, value in enumerate(args):
            param = fn.params[i] if i < len(fn.params) else fn.variadic
            arg_range = start_range(node.args[min(i, len(node.args) - 1)]) if node.args else node.range
            if value is None and not param.allow_null:
                raise DiagnosticError(
                    "Invalid function argument",
                    f'Invalid value for "{param.name}" parameter: argument must not be null.',
                    arg_range,
                )
            try:
                converted.append(convert(value, param.type))
            except ConversionError as err:
                got = value_type(value)
                reason = str(err) if convertible(got, param.type) else mismatch_message(got, param.type)
                raise DiagnosticError(
                    "Invalid function argument",
                    f'Invalid value for "{param.name}" parameter: {reason}.',
                    arg_range,
                ) from None
        try:
            result = fn.impl(*converted)
            check_result_size(result)
            return result
        except FunctionError as err:
            if err.arg is not None and err.arg < len(node.args):
                param = fn.params[err.arg] if err.arg < len(fn.params) else fn.variadic
                raise DiagnosticError(
                    "Invalid function argument",
                    f'Invalid value for "{param.name}" parameter: {err.message}.',
                    start_range(node.args[err.arg]),
                ) from None
            raise DiagnosticError(
                "Error in function call",
                f'Call to function "{fn.name}" failed: {err.message}.',
                start_range(node),
            ) from None
        except (decimal.InvalidOperation, ValueError, OverflowError, ZeroDivisionError) as err:
            raise DiagnosticError(
                "Error in function call", f'Call to function "{fn.name}" failed: {err}.', start_range(node)
            ) from None

    def _try_can(self, node: ast.Call, local: dict) -> Value:
        if node.name == "can":
            if len(node.args) != 1:
                self._check_arity("can", ["expression"], False, list(node.args), node)
            try:
                self.eval(node.args[0], local)
                return True
            except DiagnosticError:
                return False
        if not node.args:
            raise DiagnosticError(
                "Not enough function arguments",
                'Function "try" expects at least one argument.',
                node.close_range,
            )
        last_error: DiagnosticError | None = None
        for arg in node.args:
            try:
                return self.eval(arg, local)
            except DiagnosticError as err:
                last_error = err
        raise DiagnosticError(
            "Error in function call",
            'Call to function "try" failed: no expression succeeded:\n- '
            + (last_error.detail or last_error.summary),
            node.range,
        )

    def _convert(self, node: ast.Call, local: dict) -> Value:
        self._check_arity("convert", ["value", "type"], False, list(node.args), node)
        value = self.eval(node.args[0], local)
        target_type = type_from_expression(node.args[1])
        try:
            return convert(value, target_type)
        except ConversionError as err:
            raise DiagnosticError(
                "Invalid function argument",
                f'Invalid value for "value" parameter: {err}.',
                node.args[0].range,
            ) from None


def values_equal(a: Value, b: Value) -> bool:
    """cty equality: same type and same value (numbers compare numerically)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return isinstance(a, Decimal) and isinstance(b, Decimal) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return False


__all__ = [
    "Evaluator",
    "Globals",
    "UserFunction",
    "start_range",
    "suggest",
    "type_from_expression",
    "values_equal",
    "format_number",
]
