"""``bakec check``: validate bake files without a daemon.

Reports, with positions where the source has them:

* unknown attributes and blocks, as warnings with "did you mean" (buildx
  silently ignores typos such as ``tagz``);
* ``inherits`` cycles and group cycles, with their path (errors);
* evaluation and type errors (errors);
* variables that no selected target uses (warnings).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

from bakec.bake.hcl import ast
from bakec.bake.model import TARGET_FIELDS_BY_BAKE_NAME
from bakec.errors import BakecError, Range

TARGET_ATTRIBUTES = set(TARGET_FIELDS_BY_BAKE_NAME) | {"name", "matrix"}
GROUP_ATTRIBUTES = {"targets", "description"}
VARIABLE_ATTRIBUTES = {"default", "type", "description", "sensitive", "nullable"}
FUNCTION_ATTRIBUTES = {"params", "variadic_params", "result"}
TOP_LEVEL_BLOCKS = {"target", "group", "variable", "function"}


@dataclass(frozen=True)
class Finding:
    """One problem ``bakec check`` reports; ``rule`` names its kind (BuildKit's rule name for build checks)."""

    severity: str  # "error" or "warning"
    message: str
    range: Range | None = None
    rule: str = ""
    target: str = ""  # the bake target whose Dockerfile or context it is about

    def __str__(self) -> str:
        where = f"{self.range}: " if self.range is not None else ""
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{self.severity.upper()}: {where}{self.message}{rule}"

    def as_json(self) -> dict[str, object]:
        """The machine-readable form (README, ``bakec check --format json``)."""
        rng = self.range
        return {
            "severity": self.severity,
            "rule": self.rule,
            "message": self.message,
            "file": rng.filename if rng else None,
            "line": rng.start.line if rng else None,
            "column": rng.start.column if rng else None,
            "end_line": rng.end.line if rng else None,
            "end_column": rng.end.column if rng else None,
            "target": self.target or None,
        }


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``; did you mean "x"?`` for the closest candidate, or "" when none is close."""
    match = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


def item_range(
    bodies: Sequence[ast.Body], block_type: str, labels: Iterable[str], attribute: str, value: str
) -> Range | None:
    """Where the string ``value`` is written in a list attribute (``inherits``, ``targets``) of a block."""
    wanted = set(labels)
    for body in bodies:
        for block in body.blocks:
            if block.type != block_type or not block.labels or block.labels[0] not in wanted:
                continue
            attr = block.body.attributes.get(attribute)
            if attr is None:
                continue
            items = attr.expr.items if isinstance(attr.expr, ast.TupleExpr) else ()
            for item in items:
                if _static_string(item) == value:
                    return item.range
            return attr.expr.range
    return None


def _static_string(node: ast.Node) -> str | None:
    if isinstance(node, ast.Literal) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Template) and all(
        isinstance(p, ast.Literal) and isinstance(p.value, str) for p in node.parts
    ):
        return "".join(p.value for p in node.parts)  # type: ignore[attr-defined]
    return None


def unknown_names(bodies: Sequence[ast.Body]) -> list[Finding]:
    """Attributes and blocks that buildx would silently ignore."""
    out: list[Finding] = []
    allowed = {
        "target": TARGET_ATTRIBUTES,
        "group": GROUP_ATTRIBUTES,
        "variable": VARIABLE_ATTRIBUTES,
        "function": FUNCTION_ATTRIBUTES,
    }
    for body in bodies:
        for block in body.blocks:
            if block.type not in TOP_LEVEL_BLOCKS:
                out.append(
                    Finding(
                        "warning",
                        f'unknown block type "{block.type}"{did_you_mean(block.type, TOP_LEVEL_BLOCKS)}',
                        block.type_range,
                        "unknown-block",
                    )
                )
                continue
            label = block.labels[0] if block.labels else "?"
            for name, attr in block.body.attributes.items():
                if name not in allowed[block.type]:
                    hint = did_you_mean(name, allowed[block.type])
                    out.append(
                        Finding(
                            "warning",
                            f'{block.type} "{label}": unknown attribute "{name}"{hint}',
                            attr.name_range,
                            "unknown-attribute",
                        )
                    )
            for inner in block.body.blocks:
                if not (block.type == "variable" and inner.type == "validation"):
                    out.append(
                        Finding(
                            "warning",
                            f'{block.type} "{label}": unknown block "{inner.type}" (ignored)',
                            inner.type_range,
                            "unknown-block",
                        )
                    )
    return out


def inherits_cycles(parents: dict[str, list[str]]) -> list[Finding]:
    """Every ``inherits`` cycle, reported once with its path."""
    return [
        Finding("error", "inherits cycle: " + " -> ".join(path), rule="inherits-cycle")
        for path in _cycles(parents)
    ]


def group_cycles(members: dict[str, list[str]]) -> list[Finding]:
    graph = {g: [m for m in ms if m in members] for g, ms in members.items()}
    return [
        Finding("error", "group cycle: " + " -> ".join(path), rule="group-cycle") for path in _cycles(graph)
    ]


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, []):
                if nxt == start:
                    key = frozenset(path)
                    if key not in seen_sets:
                        seen_sets.add(key)
                        found.append(path + [start])
                elif nxt not in path and nxt in graph:
                    stack.append((nxt, path + [nxt]))
    return found


def referenced_names(node: ast.Node) -> set[str]:
    """Names of variables/functions an expression mentions (static walk of the AST)."""
    return set(ast.names_in(node))


def unused_variables(
    bodies: Sequence[ast.Body], selected: Iterable[str], parents: dict[str, list[str]]
) -> list[Finding]:
    """Variables that no selected target (with its parents) reaches, directly or through others."""
    variable_refs: dict[str, set[str]] = {}
    variable_ranges: dict[str, Range] = {}
    function_refs: dict[str, set[str]] = {}
    target_refs: dict[str, set[str]] = {}
    for body in bodies:
        for name, attr in body.attributes.items():
            variable_refs[name] = referenced_names(attr.expr)
            variable_ranges[name] = attr.name_range
        for block in body.blocks:
            if not block.labels:
                continue
            label = block.labels[0]
            refs: set[str] = set()
            for attr in block.body.attributes.values():
                refs |= referenced_names(attr.expr)
            for inner in block.body.blocks:
                for attr in inner.body.attributes.values():
                    refs |= referenced_names(attr.expr)
            if block.type == "variable":
                variable_refs[label] = refs
                variable_ranges[label] = block.label_ranges[0] if block.label_ranges else block.range
            elif block.type == "function":
                function_refs[label] = refs
            elif block.type == "target":
                target_refs.setdefault(label, set()).update(refs)
    reached: set[str] = set()
    pending: list[str] = []
    visited_targets: set[str] = set()
    todo = list(selected)
    while todo:
        target = todo.pop()
        if target in visited_targets:
            continue
        visited_targets.add(target)
        pending.extend(target_refs.get(target, ()))
        todo.extend(parents.get(target, []))
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        if name.endswith("()"):
            pending.extend(function_refs.get(name[:-2], ()))
        else:
            pending.extend(variable_refs.get(name, ()))
    return [
        Finding(
            "warning",
            f'variable "{name}" is not used by any selected target',
            variable_ranges.get(name),
            "unused-variable",
        )
        for name in sorted(variable_refs)
        if name not in reached
    ]


def check(definition, targets: Sequence[str]) -> list[Finding]:
    """All findings for a loaded definition and the selected targets."""
    return check_resolved(definition, targets)[0]


def check_resolved(definition, targets: Sequence[str]) -> tuple[list[Finding], dict]:
    """The findings, and the selected targets resolved (empty when resolving failed)."""
    bodies = definition.bodies
    findings = unknown_names(bodies)
    parents = {name: list(t.inherits or []) for name, t in definition.targets.items()}
    findings += inherits_cycles(parents)
    findings += group_cycles({name: list(g.targets) for name, g in definition.groups.items()})
    selected: list[str] = []
    resolved_targets: dict = {}
    try:
        resolved = definition.resolve(list(targets))
        selected = list(resolved.targets)
        resolved_targets = dict(resolved.targets)
    except BakecError as err:
        findings.append(
            Finding("error", err.summary + (f"; {err.detail}" if err.detail else ""), err.range, "bake")
        )
    # matrix-generated names map back to their block label for the static walk
    labels = {name: getattr(t, "name", name) for name, t in definition.targets.items()}
    block_of = definition.block_labels
    selected_labels = {block_of.get(name, labels.get(name, name)) for name in selected}
    findings += unused_variables(bodies, selected_labels, parents)
    return findings, resolved_targets
