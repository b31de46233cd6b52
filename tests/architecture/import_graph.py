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
    ("lock", "fleet"),  # fleet reads the combined graph; never builds (no worker, solver or export)
    ("fs", "content"),
    ("worker",),
    ("solver",),
    ("attest",),
    ("export",),
    ("remotecache",),
    ("explain",),
    ("builder",),
    ("fleet_run",),  # one job of a fleet plan: drives builder.build with a FleetJob
    ("cli", "__init__"),
)

# The only modules that may import bakec modules inside functions, and why. Everywhere else an
# import sits at the top of its module, where a reader (and this test) sees the dependency.
LAZY_IMPORTS: Mapping[str, str] = {
    # command dispatch: `bakec --version`, `build --print` and each command load only what they run
    "bakec": "library face: `import bakec` stays instant; bake files load on the first call",
    "bakec.cli.main": "command dispatch: each subcommand's module loads only when it runs",
    "bakec.cli.build": "command dispatch: --print and --list load neither the builder, the lock, "
    "the progress renderers nor the Dockerfile linter (graph.lint)",
    "bakec.cli.plan": "command dispatch: the registry client, the HTML report, --diff and the --shards "
    "pipeline emitters load only for the format or option that uses them",
    "bakec.cli.completion": "command dispatch: a completion request loads the bake files only to list targets",
    "bakec.cli.verify": "command dispatch: the builder, the lock and the layer comparison load only when "
    "the rebuild starts",
    "bakec.cli.lock": "start-up: the http source (urllib, ssl: ~45 ms) loads only when an ADD URL is pinned",
    # heavy or optional dependencies that most runs never need
    "bakec.bake.definition": "start-up: the compose and YAML parsers (~200 ms) load only for compose files",
    "bakec.bake.hcl.functions": "start-up: the HCL stdlib (~110 ms) loads on the first function call",
    "bakec.progress.render": "optional: rich loads only for --progress=tty",
    "bakec.export.attest": "start-up: provenance (~150 ms) loads only when an attestation is asked for",
    "bakec.solver.records": "start-up: `bakec why` reads records without loading the context hasher",
    "bakec.worker.leftovers": "start-up: CNI code loads only to sweep a state dir that has a network",
    # grpc: a fully cached build never imports containerd's client (tests/build/test_cached_without_daemon.py)
    "bakec.worker": "grpc: the runc executor is a PEP 562 attribute",
    "bakec.worker.deferred": "grpc: the daemon and the runc executor load on the first op that runs",
    "bakec.worker.oprunner": "grpc: the client and executor load on the first op that runs; file operations "
    "and http downloads (~45 ms each) on the first op of their kind",
    "bakec.worker.mounts": "grpc: containerd's Mount type is needed only when a RUN mounts something",
    "bakec.export.containerd_store": "grpc: only --load and type=image talk to containerd",
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
            relation = f"is above {src}" if rank[dst] > rank[src] else f"shares a layer with {src}"
            problems.append(f"{imp.source}:{imp.line} imports {imp.target} ({dst} {relation})")
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


def unlisted_lazy_imports(imports: Sequence[Import], allowed: Mapping[str, str] = LAZY_IMPORTS) -> list[str]:
    """Imports inside functions of modules that :data:`LAZY_IMPORTS` does not list."""
    return [
        f"{imp.source}:{imp.line} imports {imp.target} inside a function"
        for imp in imports
        if imp.in_function and imp.source not in allowed
    ]


def needless_lazy_entries(imports: Sequence[Import], allowed: Mapping[str, str] = LAZY_IMPORTS) -> list[str]:
    """Modules :data:`LAZY_IMPORTS` lists that import no bakec module inside a function (stale entries)."""
    lazy = {imp.source for imp in imports if imp.in_function}
    return sorted(set(allowed) - lazy)
