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
    "bakec": "library face: `import bakec` stays instant; bake files load on the first call",
    "bakec.cli.main": "command dispatch: each subcommand's machinery loads only when it runs",
    "bakec.cli.build": "start-up: --print and --list never load the builder",
    "bakec.cli.check": "start-up: command dispatch",
    "bakec.cli.daemon": "start-up: command dispatch",
    "bakec.cli.plan": "start-up: the registry client loads only when a plan resolves base images",
    "bakec.cli.prune": "start-up: command dispatch",
    "bakec.cli.version": "start-up: command dispatch",
    "bakec.cli.doctor": "start-up: command dispatch",
    "bakec.cli.du": "start-up: command dispatch",
    "bakec.cli.completion": "start-up: a completion request loads the bake files only to list targets",
    "bakec.cli.verify": "start-up: the builder loads only when the rebuild starts",
    "bakec.cli.lock": "start-up: registry, git and frontend code load only when a lock is read or written",
    "bakec.lock.collect": "start-up: the Dockerfile frontend loads only when a target is compiled",
    "bakec.builder": "start-up: each exporter, cache transfer and executor loads only when a build uses it",
    "bakec.bake.definition": "start-up: HCL, JSON and compose parsers load only for files of that kind",
    "bakec.bake.hcl.functions": "start-up: the HCL stdlib loads on the first function call",
    "bakec.bake.hcl.parsecache": "start-up: the Lark grammar loads only when the parse cache misses",
    "bakec.progress.render": "optional: rich loads only for --progress=tty",
    "bakec.worker": "grpc: a fully cached build never imports containerd's client (PEP 562 attributes)",
    "bakec.worker.deferred": "grpc: the daemon, client and executor load on the first op that runs",
    "bakec.worker.oprunner": "grpc: the client and executor load on the first op that runs",
    "bakec.worker.mounts": "grpc: containerd's Mount type is needed only when a RUN mounts something",
    "bakec.export.containerd_store": "grpc: only --load and type=image talk to containerd",
    "bakec.solver.solve": "grpc: the op runner loads on the first op that is not cached",
    "bakec.remotecache": "start-up: cache import and export load only when a target names a cache",
    "bakec.remotecache.import_": "grpc: the op runner loads only when an imported result must be unpacked",
    "bakec.graph.build": "start-up: the Dockerfile frontend loads only when a target is planned",
    "bakec.graph.context": "start-up: .dockerignore parsing loads only for a local context",
    "bakec.graph.resolve": "start-up: the frontend's model loads only when an image is resolved",
    "bakec.export.attest": "start-up: provenance and SBOM code (spdx-tools) load only when asked for",
    "bakec.remotecache.export": "start-up: registry and compression code load only for that cache type",
    "bakec.bake.entitlements_fs": "start-up: --set parsing loads only when paths are checked",
    "bakec.dockerfile.lexer": "start-up: Go formatting rules load only for history strings",
    "bakec.export.provenance": "start-up: the op vocabulary loads only when provenance is written",
    "bakec.solver.prune": "start-up: duration parsing loads only for --filter",
    "bakec.solver.records": "start-up: `bakec why` reads records without loading the context hasher",
    "bakec.source.git": "start-up: the state dir is resolved only when a repository is fetched",
    "bakec.worker.leftovers": "start-up: CNI code loads only to sweep a state dir that has a network",
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
