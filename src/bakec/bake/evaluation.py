"""Evaluate merged bake bodies (HCL or JSON syntax) into raw targets and groups.

This mirrors buildx's hclparser: variables (block or top-level attribute) are
lazy and order-independent, overridden by ``--var`` then the environment;
user functions may call each other; ``target.<n>.<attr>`` reads another
block's evaluated attribute; ``matrix`` expands a target block into several.
The result is a set of *raw* targets (one per block, same-named blocks
merged) that :mod:`bakec.bake.definition` then resolves.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

from bakec.bake import merge as merging
from bakec.bake import options
from bakec.bake.hcl import ast
from bakec.bake.hcl.evaluate import Evaluator, start_range, suggest, type_from_expression
from bakec.bake.hcl.functions import names as stdlib_names
from bakec.bake.hcl.types import BOOL, STRING, ConversionError, Type, convert, list_of, map_of
from bakec.bake.hcl.unify import convertible, mismatch_message, value_type
from bakec.bake.hcl.values import Value, type_name
from bakec.bake.model import TARGET_FIELDS_BY_BAKE_NAME, Group, Kind, Target, Variable
from bakec.bake.variables import OverrideError, convert_override
from bakec.errors import BakecError, DiagnosticError, Pos, Range

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]+$")
_SPECIAL_TARGET_ATTRS = ("name", "matrix")

MAX_MATRIX_TARGETS = 10_000
"""Most targets the ``matrix`` blocks of a definition may generate together (README "Limits"):
every generated target is evaluated, so this bounds the time and memory a definition costs."""


@dataclass
class VariableDecl:
    name: str
    default: ast.Node | None
    type_expr: ast.Node | None
    description: str | None
    validations: list[tuple[ast.Node, ast.Node | None]]
    header: Range  # where buildx points errors about the value (the opening brace)
    is_attribute: bool = False


@dataclass
class FunctionDecl:
    name: str
    params: list[str]
    variadic: str | None
    result: ast.Node
    range: Range


@dataclass
class BlockInstance:
    """One target or group block, after matrix expansion."""

    kind: str
    name: str
    block: ast.Block
    local: dict[str, Value]
    name_range: Range


@dataclass
class EvaluatedConfig:
    targets: dict[str, Target]
    groups: dict[str, Group]
    variables: list[Variable]
    target_order: list[str] = field(default_factory=list)
    used_variables: set[str] = field(default_factory=set)
    block_labels: dict[str, str] = field(default_factory=dict)  # target name -> its block's label


def _brace_range(block: ast.Block) -> Range:
    end = block.label_ranges[-1].end if block.label_ranges else block.type_range.end
    pos = Pos(end.line, end.column + 1)
    return Range(block.range.filename, pos, pos)


class _UserFunction:
    def __init__(self, decl: FunctionDecl, owner: "BakeEvaluation") -> None:
        self.decl = decl
        self.name = decl.name
        self.params = decl.params
        self.variadic = decl.variadic
        self.owner = owner

    def call(self, args: list[Value], rng: Range) -> Value:
        local = dict(zip(self.params, args, strict=False))
        if self.variadic is not None:
            local[self.variadic] = list(args[len(self.params) :])
        owner = self.owner
        if self.name in owner._calling:
            raise DiagnosticError(
                "Invalid expression", f"function cycle not allowed for {self.name}", self.decl.result.range
            )
        owner._calling.add(self.name)
        owner._function_scope.append(set(local))
        try:
            return owner.evaluator.eval(self.decl.result, local)
        finally:
            owner._function_scope.pop()
            owner._calling.discard(self.name)


class BakeEvaluation:
    """Evaluates the merged bodies of all HCL/JSON bake files (implements ``Globals``)."""

    def __init__(
        self,
        bodies: list[ast.Body],
        env: Mapping[str, str],
        cli_vars: Mapping[str, str],
        builtins: Mapping[str, str],
        env_lookup: bool = True,
        relative_paths: bool = False,
    ) -> None:
        self.relative_paths = relative_paths
        self.bodies = bodies
        self.env = env
        self.cli_vars = cli_vars
        self.builtins = dict(builtins)
        self.env_lookup = env_lookup
        self.evaluator = Evaluator(self)
        self.declarations: dict[str, VariableDecl] = {}
        self.functions: dict[str, FunctionDecl] = {}
        self.values: dict[str, Value] = {}
        self._resolving: list[str] = []
        self._calling: set[str] = set()
        self._function_scope: list[set[str]] = []
        self._attr_cache: dict[tuple[str, str, str], Value] = {}
        self._attr_resolving: set[tuple[str, str, str]] = set()
        self.instances: list[BlockInstance] = []
        self._generated = 0  # targets matrices have generated so far
        self.used: set[str] = set()
        self._names: dict[int, tuple[str, ...]] = {}
        self._attr_values: dict[tuple, Value] = {}
        self._collect()

    # -- collection ---------------------------------------------------------------
    def _collect(self) -> None:
        for body in self.bodies:
            for name, attr in body.attributes.items():
                self.declarations[name] = VariableDecl(
                    name, attr.expr, None, None, [], attr.name_range, is_attribute=True
                )
            for block in body.blocks:
                if block.type == "variable":
                    self._collect_variable(block)
                elif block.type == "function":
                    self._collect_function(block)
                elif block.type in ("target", "group"):
                    self._check_labels(block)

    def _check_labels(self, block: ast.Block) -> None:
        if not block.labels:
            raise DiagnosticError(
                f"Missing name for {block.type}",
                f"All {block.type} blocks must have 1 labels (name).",
                _brace_range(block),
            )
        if len(block.labels) > 1:
            raise DiagnosticError(
                f"Extraneous label for {block.type}",
                f"Only 1 labels (name) are expected for {block.type} blocks.",
                block.label_ranges[1],
            )

    def _collect_variable(self, block: ast.Block) -> None:
        self._check_labels_generic(block, "variable")
        body = block.body
        attrs_ = body.attributes
        description = None
        if "description" in attrs_:
            description = self._static_string(attrs_["description"].expr)
        validations = []
        for inner in body.blocks:
            if inner.type == "validation":
                cond = inner.body.attributes.get("condition")
                msg = inner.body.attributes.get("error_message")
                if cond is not None:
                    validations.append((cond.expr, msg.expr if msg else None))
        name = block.labels[0]
        self.declarations[name] = VariableDecl(
            name,
            attrs_["default"].expr if "default" in attrs_ else None,
            attrs_["type"].expr if "type" in attrs_ else None,
            description,
            validations,
            _brace_range(block),
        )

    def _check_labels_generic(self, block: ast.Block, kind: str) -> None:
        if len(block.labels) != 1:
            self._check_labels(block)

    def _static_string(self, node: ast.Node) -> str | None:
        try:
            value = self.evaluator.eval(node, {})
        except DiagnosticError:
            return None
        return value if isinstance(value, str) else None

    def _collect_function(self, block: ast.Block) -> None:
        self._check_labels_generic(block, "function")
        name = block.labels[0]
        attrs_ = block.body.attributes
        params: list[str] = []
        if "params" in attrs_:
            expr = attrs_["params"].expr
            if not isinstance(expr, ast.TupleExpr) or not all(
                isinstance(p, ast.Variable) for p in expr.items
            ):
                raise DiagnosticError(
                    "Invalid param element", "Each parameter name must be an identifier.", expr.range
                )
            params = [p.name for p in expr.items]
        variadic = None
        if "variadic_params" in attrs_:
            expr = attrs_["variadic_params"].expr
            if not isinstance(expr, ast.Variable):
                raise DiagnosticError(
                    "Invalid param element", "Each parameter name must be an identifier.", expr.range
                )
            variadic = expr.name
        if "result" not in attrs_:
            raise DiagnosticError(
                "Invalid function definition", f"empty result not allowed for {name}", block.range
            )
        self.functions[name] = FunctionDecl(name, params, variadic, attrs_["result"].expr, block.range)

    # -- Globals protocol -----------------------------------------------------------
    def variable(self, name: str, rng: Range) -> Value:
        if self._function_scope and name not in self.declarations and name not in self.builtins:
            raise DiagnosticError("Invalid expression", f'variable "{name}" does not exist: undefined', rng)
        if name in self.values:
            self.used.add(name)
            return self.values[name]
        if name in self.builtins:
            return self.builtins[name]
        decl = self.declarations.get(name)
        if decl is None:
            names = sorted(set(self.declarations) | set(self.builtins))
            raise DiagnosticError(
                "Unknown variable", f'There is no variable named "{name}".{suggest(name, names)}', rng
            )
        self.used.add(name)
        return self._resolve_variable(decl, rng)

    def variable_names(self) -> list[str]:
        return sorted(self.declarations)

    def user_function(self, name: str):
        decl = self.functions.get(name)
        return _UserFunction(decl, self) if decl is not None else None

    def function_names(self) -> list[str]:
        return sorted(set(self.functions) | set(stdlib_names()) | {"try", "can", "convert"})

    def block_attribute(self, kind: str, name: str, attr: str, rng: Range) -> Value:
        key = (kind, name, attr)
        if key in self._attr_cache:
            return self._attr_cache[key]
        instances = [i for i in self.instances if i.kind == kind and i.name == name]
        if not instances:
            raise DiagnosticError("Unknown variable", f'There is no {kind} named "{name}".', rng)
        if key in self._attr_resolving:
            raise DiagnosticError(
                "Invalid expression", f"reference cycle not allowed for {kind}.{name}.{attr}", rng
            )
        self._attr_resolving.add(key)
        try:
            value = None
            for instance in instances:
                node = instance.block.body.attributes.get(attr)
                if node is not None:
                    try:
                        value = self.evaluator.eval(node.expr, instance.local)
                    except DiagnosticError as err:
                        if "reference cycle not allowed" in err.detail and err.range != node.expr.range:
                            raise DiagnosticError(err.summary, err.detail, node.expr.range) from None
                        raise
            self._attr_cache[key] = value
            return value
        finally:
            self._attr_resolving.discard(key)

    # -- variables ------------------------------------------------------------------
    def _declared_type(self, decl: VariableDecl) -> Type | None:
        if decl.type_expr is None or _is_null_literal(decl.type_expr):
            return None  # buildx: `type = null` is no type at all
        return type_from_expression(decl.type_expr)

    def _resolve_variable(self, decl: VariableDecl, rng: Range) -> Value:
        name = decl.name
        if name in self._resolving:
            raise DiagnosticError("Invalid expression", f"variable cycle not allowed for {name}", rng)
        self._resolving.append(name)
        try:
            value = self._variable_value(decl)
        finally:
            self._resolving.pop()
        self.values[name] = value
        return value

    def _override_text(self, decl: VariableDecl) -> tuple[str | None, str | None]:
        """The plain and the NAME_JSON override of a variable, each from --var or else the environment."""
        name = decl.name
        if name in self.cli_vars:
            raw: str | None = self.cli_vars[name]
        elif not self.env_lookup or decl.is_attribute:
            return None, None
        else:
            raw = self.env.get(name)
        json_name = f"{name}_JSON"
        json_raw = None
        if not decl.is_attribute and json_name not in self.declarations and json_name not in self.builtins:
            json_raw = self.cli_vars.get(json_name)
            if json_raw is None and self.env_lookup:
                json_raw = self.env.get(json_name)
        return raw, json_raw

    def _variable_value(self, decl: VariableDecl) -> Value:
        declared = self._declared_type(decl)
        default: Value = None
        if decl.default is not None:
            default = self.evaluator.eval(decl.default, {})
            if declared is not None and default is not None:
                try:
                    default = convert(default, declared)
                except ConversionError as err:
                    raise DiagnosticError(
                        "Invalid value",
                        f"invalid type {declared} for variable {decl.name} default value: {err}",
                        decl.header,
                    ) from None
        elif declared is None:
            default = ""
        raw, json_raw = self._override_text(decl)
        if raw is None and json_raw is None:
            return default
        if declared is None and raw is None and json_raw is not None:
            return (
                json_raw
                if not isinstance(default, (bool, Decimal, list, dict))
                else self._convert_override(decl, None, json_raw, None, default)
            )
        if declared is not None and declared.kind == "any" and json_raw is None:
            raise DiagnosticError(
                "Invalid value", f"unsupported type dynamic for variable {decl.name}", decl.header
            )
        return self._convert_override(
            decl, raw, json_raw if declared is not None else None, declared, default
        )

    def _convert_override(self, decl, raw, json_raw, declared, default) -> Value:
        try:
            return convert_override(decl.name, raw, json_raw, declared, default)
        except OverrideError as err:
            raise DiagnosticError("Invalid value", str(err), decl.header) from None

    def resolve_all_variables(self) -> None:
        """Evaluate every variable, then run validation blocks (as buildx does)."""
        for name, decl in self.declarations.items():
            if name not in self.values:
                self._resolve_variable(decl, decl.default.range if decl.default is not None else decl.header)
        self.used.clear()
        for decl in self.declarations.values():
            for condition, message in decl.validations:
                self._validate(decl, condition, message)

    def _validate(self, decl: VariableDecl, condition: ast.Node, message: ast.Node | None) -> None:
        result = self.evaluator.eval(condition, {})
        if result is None:
            raise DiagnosticError(
                "Invalid condition result",
                "Condition expression must return either true or false, not null.",
                condition.range,
            )
        try:
            ok = convert(result, BOOL)
        except ConversionError:
            raise DiagnosticError(
                "Invalid condition result",
                "Invalid condition result value: a bool is required",
                condition.range,
            ) from None
        if ok:
            return
        text = ""
        if message is not None:
            value = self.evaluator.eval(message, {})
            text = convert(value, STRING) if value is not None else ""
        raise DiagnosticError("Validation failed", text, condition.range)

    # -- blocks ---------------------------------------------------------------------
    def expand_blocks(self) -> None:
        """Expand matrices and record every target/group instance in file order."""
        instances: list[BlockInstance] = []
        for body in self.bodies:
            for block in body.blocks:
                if block.type not in ("target", "group"):
                    continue
                instances.extend(self._expand(block))
        self.instances = instances

    def _expand(self, block: ast.Block) -> list[BlockInstance]:
        label = block.labels[0]
        label_range = block.label_ranges[0]
        attrs_ = block.body.attributes
        if block.type == "group":
            if "matrix" in attrs_ or "name" in attrs_:
                bad = attrs_.get("matrix") or attrs_.get("name")
                raise DiagnosticError("Invalid group", "matrix is not supported for groups", bad.name_range)
            self._check_name(label, label_range)
            return [BlockInstance("group", label, block, {}, label_range)]
        if "matrix" not in attrs_:
            if "name" in attrs_:
                raise DiagnosticError("Invalid name", "name requires matrix", attrs_["name"].name_range)
            self._check_name(label, label_range)
            return [BlockInstance("target", label, block, {}, label_range)]
        matrix = self.evaluator.eval(attrs_["matrix"].expr, {})
        if not isinstance(matrix, dict):
            raise DiagnosticError("Invalid matrix", "matrix must be a map", attrs_["matrix"].expr.range)
        axes = sorted(matrix)
        for axis in axes:
            if not isinstance(matrix[axis], list):
                raise DiagnosticError(
                    "Invalid matrix", "matrix values must be a list", attrs_["matrix"].expr.range
                )
        self._count_generated(matrix, axes, attrs_["matrix"].expr.range)
        combos = [
            dict(zip(axes, combo, strict=False))
            for combo in itertools.product(*(matrix[a] for a in reversed(axes)))
        ]
        combos = [dict(zip(reversed(axes), combo.values(), strict=False)) for combo in combos]
        out: list[BlockInstance] = []
        seen: set[str] = set()
        for local in combos:
            if "name" in attrs_:
                name = self.evaluator.eval(attrs_["name"].expr, local)
                if not isinstance(name, str):
                    try:
                        name = convert(name, STRING)
                    except ConversionError:
                        raise DiagnosticError(
                            "Invalid name", "name must be a string", attrs_["name"].expr.range
                        ) from None
            else:
                name = label
            self._check_name(name, label_range)
            if name in seen:
                raise DiagnosticError("Invalid name", f'duplicate name "{name}"', label_range)
            seen.add(name)
            out.append(BlockInstance("target", name, block, local, label_range))
        return out

    def _count_generated(self, matrix: dict, axes: list[str], rng: Range) -> None:
        """Refuse matrices generating more than :data:`MAX_MATRIX_TARGETS` targets in all."""
        count = math.prod(len(matrix[axis]) for axis in axes)
        self._generated += count
        if self._generated > MAX_MATRIX_TARGETS:
            raise DiagnosticError(
                "Too many targets",
                f"This matrix generates {count} targets; at most {MAX_MATRIX_TARGETS} may be generated in all.",
                rng,
            )

    def _check_name(self, name: str, rng: Range) -> None:
        if not NAME_PATTERN.match(name):
            raise DiagnosticError("Invalid name", 'only "[a-zA-Z0-9_-]+" are allowed', rng)

    def evaluate(self) -> EvaluatedConfig:
        """Evaluate variables, validations, then every block into raw targets and groups."""
        self.resolve_all_variables()
        self.expand_blocks()
        targets: dict[str, Target] = {}
        groups: dict[str, Group] = {}
        order: list[str] = []
        for instance in self.instances:
            if instance.kind == "group":
                groups[instance.name] = self._group(instance)
                continue
            target = self._target(instance)
            if instance.name in targets:
                targets[instance.name] = merging.merge(targets[instance.name], target)
            else:
                targets[instance.name] = target
                order.append(instance.name)
        # a matrix label becomes a group of its generated targets
        members: dict[str, dict[str, None]] = {}  # ordered sets
        for instance in self.instances:
            if instance.kind == "target" and "matrix" in instance.block.body.attributes:
                label = instance.block.labels[0]
                if label not in members:
                    members[label] = dict.fromkeys(groups[label].targets) if label in groups else {}
                members[label][instance.name] = None
        for label, names in members.items():
            groups[label] = Group(label, list(names), groups[label].description if label in groups else None)
        variables = self._variable_models()
        labels = {i.name: i.block.labels[0] for i in self.instances if i.kind == "target"}
        return EvaluatedConfig(targets, groups, variables, order, set(self.used), labels)

    def _variable_models(self) -> list[Variable]:
        out = []
        for name, decl in self.declarations.items():
            type_text = None
            if decl.type_expr is not None and not _is_null_literal(decl.type_expr):
                type_text = str(type_from_expression(decl.type_expr))
            out.append(Variable(name, type_text, self.values.get(name), decl.description))
        return out

    def _group(self, instance: BlockInstance) -> Group:
        attrs_ = instance.block.body.attributes
        group = Group(instance.name)
        if "targets" in attrs_:
            value = self.evaluator.eval(attrs_["targets"].expr, instance.local)
            group.targets = self._convert_attr(value, list_of(STRING), attrs_["targets"].expr) or []
            members: list[str] = []
            for member in group.targets:
                if member is not None and member not in members:
                    members.append(member)
            group.targets = members
        if "description" in attrs_:
            group.description = self._convert_attr(
                self.evaluator.eval(attrs_["description"].expr, instance.local),
                STRING,
                attrs_["description"].expr,
            )
        return group

    def _target(self, instance: BlockInstance) -> Target:
        target = Target(name=instance.name)
        for attr_name, attr in instance.block.body.attributes.items():
            if attr_name in _SPECIAL_TARGET_ATTRS:
                continue
            field_ = TARGET_FIELDS_BY_BAKE_NAME.get(attr_name)
            if field_ is None:
                continue  # buildx silently ignores unknown attributes; `bakec check` warns
            setattr(target, field_.name, self._attribute_value(attr, field_, instance.local))
        if self.relative_paths:
            _relative_to_file(target, instance.block.range.filename)
        return target

    def _attribute_value(self, attr: ast.Attribute, field_, local: dict[str, Value]) -> Value:
        """An attribute's converted value, memoised on the matrix values it mentions.

        Matrix instances share most attributes (4,000 targets from one block often
        have a handful of distinct ``cache-from`` values), and values are never
        changed in place, so the result can be shared between instances.
        """
        key = None
        if local:
            names = self._names.get(id(attr.expr))
            if names is None:
                names = self._names[id(attr.expr)] = tuple(sorted(ast.names_in(attr.expr)))
            try:
                key = (id(attr.expr), tuple((type(local[n]), local[n]) for n in names if n in local))
                hash(key)
            except TypeError:  # a matrix value that is a list or object
                key = None
            else:
                if key in self._attr_values:
                    return self._attr_values[key]
        value = self.evaluator.eval(attr.expr, local)
        result = self._field_value(field_.metadata["kind"], attr.name, value, attr.expr)
        if key is not None:
            self._attr_values[key] = result
        return result

    def _convert_attr(self, value: Value, t: Type, node: ast.Node) -> Value:
        try:
            return convert(value, t)
        except ConversionError as err:
            got = value_type(value)
            # a missing conversion is explained by type (cty's MismatchMessage); a failing one
            # by its value alone (a cty PathError prints without its path)
            detail = mismatch_message(got, t) if not convertible(got, t) else _PATH_PREFIX.sub("", str(err))
            raise DiagnosticError(
                "Unsuitable value type", f"Unsuitable value: {detail}", start_range(node)
            ) from None

    def _field_value(self, kind: Kind, bake_name: str, value: Value, node: ast.Node) -> Value:
        if value is None:
            return None
        if kind is Kind.STRING:
            return self._convert_attr(value, STRING, node)
        if kind is Kind.BOOL:
            return self._convert_attr(value, BOOL, node)
        if kind is Kind.STRING_LIST:
            items = self._convert_attr(value, list_of(STRING), node)
            return list(items)
        if kind is Kind.STRING_MAP:
            mapping = self._convert_attr(value, map_of(STRING), node)
            return dict(mapping)
        if kind is Kind.ENTRY_LIST:
            if not isinstance(value, list):
                value = self._convert_attr(value, list_of(STRING), node)
            items = []
            for item in value:
                if isinstance(item, dict):
                    item = {k: _entry_value(v) for k, v in item.items()}
                elif item is not None and not isinstance(item, str):
                    item = self._convert_attr(item, STRING, node)
                items.append(item)
            try:  # empty items are dropped (output = ["${DESTDIR}"] with DESTDIR unset)
                return options.parse_entries(bake_name, items)
            except BakecError as err:
                # buildx reports these as a decode error at the list's opening bracket
                start = node.range.start
                at = Range(node.range.filename, start, Pos(start.line, start.column + 1))
                raise DiagnosticError(
                    "Unsuitable value type", f"Unsuitable value: {err.message}", at
                ) from None
        if kind is Kind.OBJECT:
            if not isinstance(value, dict):
                raise DiagnosticError(
                    "Unsuitable value type",
                    f"Unsuitable value: object required, but have {type_name(value)}",
                    node.range,
                )
            return dict(value)
        if kind is Kind.OBJECT_LIST:  # policy: objects or CSV strings
            if not isinstance(value, list):
                raise DiagnosticError(
                    "Unsuitable value type",
                    f"Unsuitable value: list of object required, but have {type_name(value)}",
                    node.range,
                )
            items = [{k: _entry_value(v) for k, v in v.items()} if isinstance(v, dict) else v for v in value]
            try:
                return options.parse_entries(bake_name, items)
            except BakecError as err:
                raise DiagnosticError(
                    "Unsuitable value type", f"Unsuitable value: {err.message}", node.range
                ) from None
        return value  # pragma: no cover


_PATH_PREFIX = re.compile(r'^(?:(?:element \d+|attribute "[^"]*"): )+')


def _entry_value(value: Value) -> Value:
    if isinstance(value, (str, bool)) or value is None:
        return value
    try:
        return convert(value, STRING)
    except ConversionError:
        return value


def _is_local_path(value: str) -> bool:
    return not (
        "://" in value
        or value.startswith(("target:", "git@", "docker-image:", "oci-layout:"))
        or os.path.isabs(value)
    )


def _relative_to_file(target: Target, filename: str) -> None:
    """BUILDX_BAKE_FILE_RELATIVE_PATHS: local paths are relative to the declaring file's folder."""
    folder = os.path.dirname(filename)
    if not folder:
        return
    if target.context is None:
        target.context = folder
    elif _is_local_path(target.context):
        target.context = os.path.normpath(os.path.join(folder, target.context))
    if target.contexts:
        target.contexts = {
            k: os.path.normpath(os.path.join(folder, v)) if v and _is_local_path(v) else v
            for k, v in target.contexts.items()
        }


def _is_null_literal(node: object) -> bool:
    return isinstance(node, ast.Literal) and node.value is None
