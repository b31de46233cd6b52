"""Loading YAML documents with go-yaml v3's defence against alias bombs.

PyYAML builds an alias as a second reference to the same object, so a "billion
laughs" document loads instantly, and then every walk over it (interpolation,
conversion, printing) visits each reference again: nine levels of nine aliases
are 387 million nodes. go-yaml counts the nodes it decodes, aliases expanded, and
refuses a document whose share of aliased nodes is too high ("document contains
excessive aliasing"); :func:`load_all` applies the same rule to each composed
document before it is constructed.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# go-yaml v3 decode.go: the allowed share of aliased nodes falls from 99% at 400,000
# decoded nodes to 10% at 4,000,000.
_RATIO_LOW = 400_000
_RATIO_HIGH = 4_000_000


MAX_FLOW_NESTING = 1000
"""Deepest ``[``/``{`` nesting bakec reads in YAML (README "Limits"): PyYAML's scanner takes time
quadratic in it (1,000 levels: 0.7 s; 5,000: 24 s)."""

# Flow indicators, and what hides them: quoted scalars and comments. Possessive, so a long
# scalar is one step.
_FLOW = re.compile(r"""[\[{\]}]|"(?:[^"\\]++|\\.)*+"|'(?:[^']++|'')*+'|(?:^|(?<=[ \t]))#[^\n]*+""", re.M)


class ExcessiveNesting(yaml.scanner.ScannerError):
    """Flow collections nested past :data:`MAX_FLOW_NESTING`."""


def check_nesting(text: str) -> None:
    """Raise :class:`ExcessiveNesting`, at the opener, if ``text`` nests flow collections too deep."""
    depth = 0
    for match in _FLOW.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_FLOW_NESTING:
                offset = match.start()
                line = text.count("\n", 0, offset)
                column = offset - (text.rfind("\n", 0, offset) + 1)
                mark = yaml.Mark("<unicode string>", offset, line, column, None, None)
                raise ExcessiveNesting(
                    None, None, f"nesting too deep: more than {MAX_FLOW_NESTING} levels of [ and {{", mark
                )
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)


class ExcessiveAliasing(yaml.YAMLError):
    """A document whose aliases expand to far more nodes than it spells out."""

    def __init__(self) -> None:
        super().__init__("document contains excessive aliasing")
        self.problem = "document contains excessive aliasing"


def load_all(text: str | bytes, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> list[Any]:
    """Every document of ``text``, as ``yaml.load_all`` with ``loader`` (a safe loader) returns them."""
    try:
        check_nesting(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:  # PyYAML detects other encodings, and reports bad bytes itself
        pass
    instance = loader(text)
    try:
        docs = []
        while instance.check_node():
            node = instance.get_node()
            check_aliasing(node)
            docs.append(instance.construct_document(node))
        return docs
    finally:
        instance.dispose()


def safe_load(text: str | bytes) -> Any:
    """The one document of ``text`` (None if empty), as ``yaml.safe_load`` returns it."""
    docs = load_all(text)
    if len(docs) > 1:
        raise yaml.composer.ComposerError(
            "expected a single document in the stream", None, "but found another document", None
        )
    return docs[0] if docs else None


def check_aliasing(root: yaml.Node) -> None:
    """Raise :class:`ExcessiveAliasing` as go-yaml's decoder would for this node graph."""
    seen: set[int] = set()
    decoded = aliased = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    seen.add(id(root))
    while stack:
        node, in_alias = stack.pop()
        decoded += 1
        if in_alias:
            aliased += 1
        if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_ratio(decoded):
            raise ExcessiveAliasing()
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            continue
        for child in reversed(children):
            if in_alias or id(child) in seen:  # a node met again is an alias of its anchor
                stack.append((child, True))
            else:
                seen.add(id(child))
                stack.append((child, False))


def _allowed_ratio(decoded: int) -> float:
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)
