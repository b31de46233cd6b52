"""A small, immutable expression tree for HCL, built from python-hcl2's Lark tree.

Every node keeps its source :class:`~bakec.errors.Range` so evaluation errors
can point at the exact expression, as HCL's diagnostics do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from bakec.errors import Range


@dataclass(slots=True, eq=False, repr=False)
class Node:
    range: Range = field(compare=False)


@dataclass(slots=True, eq=False, repr=False)
class Literal(Node):
    value: object


@dataclass(slots=True, eq=False, repr=False)
class Template(Node):
    """A string template: literal strings and expressions, concatenated."""

    parts: tuple[Node, ...]


@dataclass(slots=True, eq=False, repr=False)
class TemplateIf(Node):
    condition: Node
    then: Template
    otherwise: Template | None


@dataclass(slots=True, eq=False, repr=False)
class TemplateFor(Node):
    key: str | None
    value: str
    collection: Node
    body: Template


@dataclass(slots=True, eq=False, repr=False)
class Variable(Node):
    name: str


@dataclass(slots=True, eq=False, repr=False)
class GetAttr(Node):
    target: Node
    name: str
    name_range: Range = field(compare=False)


@dataclass(slots=True, eq=False, repr=False)
class Index(Node):
    target: Node
    key: Node


@dataclass(slots=True, eq=False, repr=False)
class SplatAnchor(Node):
    """The element being visited inside a splat's traversal."""


@dataclass(slots=True, eq=False, repr=False)
class Splat(Node):
    """``source.*.attr`` or ``source[*].attr``: ``each`` is evaluated per element."""

    source: Node
    each: Node
    full: bool


@dataclass(slots=True, eq=False, repr=False)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    expand_final: bool
    name_range: Range = field(compare=False)
    close_range: Range = field(compare=False)


@dataclass(slots=True, eq=False, repr=False)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(slots=True, eq=False, repr=False)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(slots=True, eq=False, repr=False)
class Unary(Node):
    op: str
    operand: Node


@dataclass(slots=True, eq=False, repr=False)
class TupleExpr(Node):
    items: tuple[Node, ...]


@dataclass(slots=True, eq=False, repr=False)
class ObjectExpr(Node):
    items: tuple[tuple[Node, Node], ...]


@dataclass(slots=True, eq=False, repr=False)
class ForExpr(Node):
    """``[for k, v in coll : value if cond]`` or ``{for k, v in coll : key => value... if cond}``."""

    key_var: str | None
    value_var: str
    collection: Node
    key: Node | None  # None for tuple results
    value: Node
    condition: Node | None
    group: bool


@dataclass(slots=True, eq=False, repr=False)
class Paren(Node):
    """A parenthesised expression (matters for object keys)."""

    inner: Node


@dataclass(slots=True)
class Attribute:
    name: str
    expr: Node
    range: Range
    name_range: Range


@dataclass(slots=True)
class Block:
    type: str
    labels: list[str]
    body: "Body"
    range: Range
    type_range: Range
    label_ranges: list[Range]


@dataclass(slots=True)
class Body:
    attributes: dict[str, Attribute]
    blocks: list[Block]
    range: Range


def names_in(node: Node) -> frozenset[str]:
    """Every bare name an expression mentions (variables, and function names suffixed ``()``).

    A static over-approximation: names bound by ``for`` expressions are included too.
    """
    found: set[str] = set()
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Variable):
            found.add(item.name)
        elif isinstance(item, Call):
            found.add(item.name + "()")
        if isinstance(item, Node):
            for f in fields(item):
                value = getattr(item, f.name)
                if isinstance(value, Node):
                    stack.append(value)
                elif isinstance(value, tuple):
                    for element in value:
                        if isinstance(element, Node):
                            stack.append(element)
                        elif isinstance(element, tuple):
                            stack.extend(x for x in element if isinstance(x, Node))
    return frozenset(found)
