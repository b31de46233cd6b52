"""bakec's import graph, read from the source with ``ast`` (imports inside functions count too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Lowest first. A package may import its own modules and those of any lower layer; packages on
# one layer must not import each other. Keep in step with docs/architecture.md.
LAYERS: Sequence[Sequence[str]] = (
    ("errors", "_version"),
    ("util", "ops", "state"),
    ("progress", "registry"),
    ("source",),
    ("bake", "dockerfile"),
    ("graph",),
    ("fs", "content"),
    ("worker",),
    ("solver",),
    ("export",),
    ("remotecache",),
    ("builder",),
    ("cli", "__init__"),
)

# Imports placed inside functions on purpose; every other import sits at the top of its module.
# (module, imported module): why.
LAZY_ALLOWED_REASONS = {
    "start-up": "the CLI and library face import a command's machinery only when it runs",
    "grpc": "a fully cached build never imports grpc and containerd's client",
    "optional": "a heavy or optional dependency loaded only by the feature that needs it",
}


@dataclass(frozen=True)
class Import:
    """One ``import`` statement of a bakec module naming another bakec module."""

    source: str
    target: str
    line: int
    in_function: bool


def module_name(root: Path, path: Path) -> str:
    """``src/bakec/worker/runc.py`` → ``bakec.worker.runc`` (``__init__`` → the package)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            parent = ".".join(base + ([node.module] if node.module else []))
        else:
            parent = node.module or ""
        for alias in node.names:
            sub = f"{parent}.{alias.name}"
            yield sub if sub in known else parent


def _walk(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """Every node with whether it sits inside a function body."""
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, inside = stack.pop()
        yield node, inside
        nested = inside or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((child, nested) for child in ast.iter_child_nodes(node))


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (never executed)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        lines.add(sub.lineno)
    return lines


def read_imports(root: Path, *, skip: Sequence[str] = ("_gen",)) -> list[Import]:
    """Every import between bakec modules under ``root`` (the ``bakec`` package directory)."""
    files = [p for p in sorted(root.rglob("*.py")) if not any(s in p.parts for s in skip)]
    known = {module_name(root, p) for p in files}
    found: list[Import] = []
    for path in files:
        module = module_name(root, path)
        tree = ast.parse(path.read_text(), filename=str(path))
        typing_only = _type_checking_only(tree)
        for node, inside in _walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in typing_only:
                continue
            for target in _targets(node, module, path.name == "__init__.py", known):
                if target == root.name or target.startswith(root.name + "."):
                    found.append(Import(module, target, node.lineno, inside))
    return found


def package_of(module: str) -> str:
    """The top-level package (``bakec.worker.runc`` → ``worker``; ``bakec.builder`` → ``builder``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_violations(imports: Sequence[Import], layers: Sequence[Sequence[str]] = LAYERS) -> list[str]:
    """Imports that go up a layer, or sideways between packages of one layer."""
    rank = {pkg: i for i, layer in enumerate(layers) for pkg in layer}
    problems = []
    for imp in imports:
        src, dst = package_of(imp.source), package_of(imp.target)
        if src == dst:
            continue
        if src not in rank or dst not in rank:
            problems.append(f"{imp.source}:{imp.line}: package {src or dst!r} has no layer")
        elif rank[dst] >= rank[src]:
            where = "a higher" if rank[dst] > rank[src] else "the same"
            problems.append(
                f"{imp.source}:{imp.line} imports {imp.target} ({dst} is on {where} layer than {src})"
            )
    return problems


def cycles(imports: Sequence[Import]) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's SCCs)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.source != imp.target and not imp.target.startswith(imp.source + "."):
            graph.setdefault(imp.source, set()).add(imp.target)
    return _strongly_connected(graph)


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups
