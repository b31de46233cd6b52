"""Every requested target × platform → ops → ONE graph where equal ops are one node.

For each build the Dockerfile frontend gives a :class:`~bakec.dockerfile.BuildPlan`;
its stages and steps become :mod:`bakec.ops`, each identified by its
digest. Ops land in one graph keyed by digest (edges run input → consumer), so
a stage shared by 24 targets, or the same command on the same parent in six
Dockerfiles, is one node. ``target:`` contexts are planned first and their
final op feeds the referencing target.

The graph is kept in two plain dicts (node → attributes, node → inputs) and
offered as a ``networkx.DiGraph`` only on demand (:attr:`Graph.graph`, for
plans, the critical path, provenance and cache export): importing networkx
costs ~0.1 s, a quarter of a fully cached rebuild, and building needs no more
than the build order and each op's inputs, computed here in a few lines.
"""

from __future__ import annotations

import heapq
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakec import ops as o
from bakec.bake.definition import local_platform
from bakec.dockerfile import DockerfileError, NamedContext, compile
from bakec.dockerfile.dockerignore import find_ignore_file, read_patterns
from bakec.dockerfile.model import CopyStep, RunStep, WorkdirStep
from bakec.dockerfile.refs import RefError, parse_ref
from bakec.errors import BakecError, Pos, Range, SolveError, SpecError, TargetSpecError
from bakec.graph.context import ContextHasher, ContextIndex, select_key
from bakec.graph.resolve import ImageResolver, OfflineResolver
from bakec.graph.target_options import TargetBuildSpec, frontend_inputs, target_build_spec
from bakec.source.git import GitCheckout, GitFetcher
from bakec.util.gitref import is_add_git_source, is_git_url, is_http_source, parse_git_url, redact
from bakec.util.golang import go_quote
from bakec.util.sourcefile import decode_utf8, read_source

if TYPE_CHECKING:
    import networkx as nx  # type: ignore[import-untyped]

    from bakec.bake.model import Target
    from bakec.dockerfile import BuildPlan, NamedContext, ResolvedImage, Stage

__all__ = ["Build", "Graph", "build_graph"]

_STEP_NUMBER = re.compile(r"^\[(.*?) ?(\d+)/(\d+)\] ")


@dataclass
class Build:
    """One requested target on one platform."""

    target: str
    platform: str
    output: str  # digest of the final op ("" when the result is an empty filesystem)
    plan: BuildPlan
    context: str
    dockerfile: str
    ops: int = 0  # operations this build needs (its output and everything upstream)
    spec: TargetBuildSpec | None = None  # the target's build inputs on this platform


@dataclass
class Graph:
    """The combined DAG and what produced it.

    ``nodes`` maps each op digest to its attributes (``op``, ``targets``, ``order``,
    ``label``, ...) in planning order; ``inputs`` maps it to the digests it reads, in
    the op's order (its predecessors).
    """

    nodes: dict[str, dict[str, Any]]
    inputs: dict[str, tuple[str, ...]]
    builds: list[Build]
    images: dict[tuple[str, str], ResolvedImage | None] = field(default_factory=dict)
    requested: list[str] = field(default_factory=list)
    # the resolved bake targets: secrets, ssh, outputs and cache options for the solver
    targets: Mapping[str, Target] = field(default_factory=dict)
    # each Dockerfile's text by the path errors show (relative to the working directory);
    # an op's ``source`` attribute is ``(path, line)`` of the instruction that made it
    dockerfiles: dict[str, str] = field(default_factory=dict)
    # local source op → its files (path → fingerprint), filled only when asked (plans for ``--diff``)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    # each git URL planning fetched (contexts and ``ADD <git url>``, as written) → its commit and tree
    git_checkouts: dict[str, GitCheckout] = field(default_factory=dict)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The same graph as a ``networkx.DiGraph`` (networkx is imported on first use)."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.nodes.items())
        g.add_edges_from((dep, node) for node, inputs in self.inputs.items() for dep in inputs)
        return g

    def order(self) -> list[str]:
        """Node ids in build order (every op after its inputs, then first-planned first).

        Kahn's algorithm taking the lowest ``order`` among the ready nodes: the order
        ``nx.lexicographical_topological_sort(g, key=order)`` gives.
        """
        consumers: dict[str, list[str]] = {node: [] for node in self.nodes}
        waiting = {node: len(inputs) for node, inputs in self.inputs.items()}
        for node, inputs in self.inputs.items():
            for dep in inputs:
                consumers[dep].append(node)
        ready = [(self.nodes[node]["order"], node) for node, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            out.append(node)
            for consumer in consumers[node]:
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    heapq.heappush(ready, (self.nodes[consumer]["order"], consumer))
        return out

    def ancestors(self, node: str) -> set[str]:
        """Every op ``node`` reads, directly or not (``node`` excluded)."""
        seen: set[str] = set()
        stack = list(self.inputs[node])
        while stack:
            dep = stack.pop()
            if dep not in seen:
                seen.add(dep)
                stack.extend(self.inputs[dep])
        return seen

    def critical_path(self) -> list[str]:
        """The longest chain of operations (by count) in the graph."""
        if not self.nodes:
            return []
        import networkx as nx

        return list(nx.dag_longest_path(self.graph, topo_order=self.order()))

    def summary(self) -> dict[str, Any]:
        requested = sum(b.ops for b in self.builds)
        unique = len(self.nodes)
        shared = sum(1 for d in self.nodes.values() if len(d["targets"]) > 1)
        return {
            "targets": len({b.target for b in self.builds}),
            "builds": len(self.builds),
            "requested": requested,
            "unique": unique,
            "shared": shared,
            "saved": requested - unique,
            "critical_path": len(self.critical_path()),
        }


def build_graph(
    targets: Mapping[str, Target],
    *,
    cwd: str | os.PathLike[str],
    requested: Sequence[str] | None = None,
    resolver: ImageResolver | None = None,
    hasher: ContextHasher | None = None,
    build_platform: str | None = None,
    fetcher: GitFetcher | None = None,
    http_checksums: Mapping[str, str] | None = None,
) -> Graph:
    """Compile ``requested`` targets (default: all of ``targets``) into one graph.

    ``targets`` are resolved bake targets (``Definition.resolve(...).targets``);
    relative contexts are taken from ``cwd``; git contexts are fetched by ``fetcher``
    (default: into the default state dir). ``http_checksums`` (a lockfile's ``http`` pins,
    URL → ``sha256:<hex>``) verify each ``ADD <url>`` without ``--checksum`` as if it had one.
    A ``target:`` cycle raises
    :class:`~bakec.errors.SpecError` naming the path.
    """
    if build_platform is None:
        build_platform = local_platform()
    own_hasher = hasher is None
    builder = _Builder(
        targets,
        Path(cwd),
        resolver or OfflineResolver(),
        hasher or ContextHasher(),
        build_platform,
        fetcher,
        http_checksums,
    )
    try:
        names = list(requested) if requested is not None else list(targets)
        for name in names:
            for platform in builder.platforms_of(name):
                builder.build(name, platform, ())
        # linked targets were planned on demand; list them after the requested ones
        builds = [b for b in builder.builds.values() if b.target in names]
        builds += [b for b in builder.builds.values() if b.target not in names]
        graph = Graph(
            builder.nodes,
            builder.inputs,
            builds,
            builder.images,
            names,
            targets,
            builder.shown_texts,
            git_checkouts=builder.git_checkouts,
        )
        _attribute(graph)
        return graph
    finally:
        if own_hasher:
            builder.hasher.close()


def located(error: BakecError, target: str, platform: str, path: str, text: str) -> TargetSpecError:
    """A Dockerfile error as buildx shows it for a target: positioned at ``path:line``, with the excerpt."""
    line = getattr(error, "line", 0) or (error.range.start.line if error.range is not None else 0)
    rng = None
    if line > 0:
        end = error.range.end.line if error.range is not None else line
        rng = Range(path, Pos(line, 1), Pos(max(end, line), 1))
    return TargetSpecError(target, error.summary, platform=platform, range=rng, source=text.encode())


def _attribute(graph: Graph) -> None:
    for build in graph.builds:
        if not build.output:
            continue
        closure = graph.ancestors(build.output)
        closure.add(build.output)
        build.ops = len(closure)
        for node in closure:
            graph.nodes[node]["targets"].add(build.target)


class _Builder:
    def __init__(
        self,
        targets: Mapping[str, Target],
        cwd: Path,
        resolver: ImageResolver,
        hasher: ContextHasher,
        build_platform: str,
        fetcher: GitFetcher | None = None,
        http_checksums: Mapping[str, str] | None = None,
    ) -> None:
        self.targets = targets
        self.cwd = cwd
        self.resolver = resolver
        self.hasher = hasher
        self.fetcher = fetcher
        self.http_checksums = http_checksums or {}  # URL → pinned sha256 (a lockfile's http pins)
        self.build_platform = build_platform
        self.nodes: dict[str, dict[str, Any]] = {}  # op digest -> attributes (Graph.nodes)
        self.inputs: dict[str, tuple[str, ...]] = {}  # op digest -> the digests it reads
        self.builds: dict[tuple[str, str], Build] = {}
        self.images: dict[tuple[str, str], ResolvedImage | None] = {}
        self._texts: dict[str, str] = {}
        self._specs: dict[tuple[str, str], TargetBuildSpec] = {}
        self.shown_texts: dict[str, str] = {}  # Graph.dockerfiles
        self._ignores: dict[tuple[Path, Path | None], tuple[str, ...]] = {}
        self._counter = 0
        self._paths: dict[str, Path] = {}
        self.git_checkouts: dict[str, GitCheckout] = {}  # Graph.git_checkouts

    # -- targets -------------------------------------------------------------------
    def platforms_of(self, name: str) -> list[str]:
        return list(self.spec(name, "").platforms) or [""]

    def spec(self, name: str, platform: str) -> TargetBuildSpec:
        """The build inputs of target ``name`` on ``platform`` (refused attributes raise here)."""
        key = (name, platform)
        found = self._specs.get(key)
        if found is None:
            found = self._specs[key] = target_build_spec(self._target(name), platform, self.build_platform)
        return found

    def _target(self, name: str) -> Target:
        target = self.targets.get(name)
        if target is None:
            raise SpecError(f"failed to find target {name}")
        return target

    def build(self, name: str, platform: str, stack: tuple[str, ...]) -> Build:
        key = (name, platform)
        found = self.builds.get(key)
        if found is not None:
            return found
        if name in stack:
            path = " -> ".join(stack[stack.index(name) :] + (name,))
            raise SpecError(f"target cycle: {path}")
        spec = self.spec(name, platform)
        stack = stack + (name,)
        multi = len(self.platforms_of(name)) > 1
        context_dir = self.context_dir(spec, name)
        text, dockerfile = self._dockerfile(spec, context_dir, name)
        inline = spec.dockerfile_inline is not None
        shown = self.shown_path(spec, dockerfile)
        self.shown_texts[shown] = text
        if not _has_ignore_file(context_dir, None if inline else Path(dockerfile)):
            # the context's walk runs on another core while the frontend is imported and compiles
            self.hasher.prefetch(context_dir)
        named, linked = self._named_contexts(spec, platform, stack)

        try:
            plan = compile(
                text,
                **frontend_inputs(spec, platform, self.build_platform),
                named_contexts=named,
                resolver=self._resolve,
                multi_platform=multi,
                filename="Dockerfile" if inline else os.path.basename(dockerfile),
            )
        except DockerfileError as err:
            raise located(err, name, platform if multi else "", shown, text) from None
        ignore = self._ignore_patterns(context_dir, None if inline else Path(dockerfile))
        translator = _Translator(self, spec, plan, context_dir, ignore, named, linked)
        translator.source = (shown, text)
        output = translator.run()
        written = dockerfile if inline else spec.dockerfile
        build = Build(name, platform or plan.platform, output, plan, spec.context, written, spec=spec)
        self.builds[key] = build
        return build

    def context_dir(self, spec: TargetBuildSpec, name: str) -> Path:
        """The target's context directory; buildx's error when a local one does not exist."""
        value = spec.context
        path = self._local_path(value, name, "context")
        if not is_git_url(value) and not path.is_dir():
            # buildx checks this before solving: no "failed to solve" here
            raise BakecError(f"target {name}: unable to prepare context: path {go_quote(value)} not found")
        return path

    def shown_path(self, spec: TargetBuildSpec, dockerfile: str) -> str:
        """The Dockerfile as errors name it: relative to the working directory, unambiguous in a monorepo."""
        if spec.dockerfile_inline is not None:
            return "Dockerfile"
        return os.path.relpath(dockerfile, self.cwd)

    def _local_path(self, value: str, name: str, what: str) -> Path:
        """The directory a context names: a local path, or the checked-out tree of a git URL."""
        if value.startswith("cwd://"):
            value = value[len("cwd://") :] or "."
        elif is_git_url(value):
            return self._git_checkout(value).path
        elif "://" in value:
            raise BakecError(
                f"target {name}: {what} {redact(value)!r}: only local and git contexts are supported"
            )
        found = self._paths.get(value)
        if found is None:  # resolved once: a matrix of 2,000 targets often names one context
            found = self._paths[value] = (self.cwd / value).resolve()
        return found

    def git_commit(self, url: str, checksum: str = "") -> str:
        """The commit an ``ADD <git url>`` reads (fetched now, as image references are resolved now)."""
        commit = self._git_checkout(url).commit
        if checksum and not commit.startswith(checksum):
            raise BakecError(f"expected checksum to match {checksum}, got {commit}")
        return commit

    def _git_checkout(self, url: str) -> GitCheckout:
        """Fetch ``url`` and note its commit and tree for the graph (provenance records them)."""
        found = self.git_checkouts[url] = self._fetcher().checkout(url)
        return found

    def _fetcher(self) -> GitFetcher:
        """The fetcher given, or the default state dir's (created on the first git URL)."""
        if self.fetcher is None:
            self.fetcher = GitFetcher.default()
        return self.fetcher

    def _dockerfile(self, spec: TargetBuildSpec, context_dir: Path, target_name: str = "") -> tuple[str, str]:
        if spec.dockerfile_inline is not None:
            return spec.dockerfile_inline, "<inline>"
        name = spec.dockerfile
        if name.startswith("cwd://"):  # a local Dockerfile for a remote definition or context
            name = str(self.cwd / name[len("cwd://") :])
        path = name if os.path.isabs(name) else str(context_dir / name)
        text = self._texts.get(path)
        if text is None:
            try:
                data = read_source(path, name)
            except OSError as exc:
                reason = f"failed to read dockerfile: open {name}: {(exc.strerror or str(exc)).lower()}"
                if target_name:
                    raise SolveError(target_name, reason) from None
                raise BakecError(reason) from None
            # Newlines as text-mode open() reads them (universal newlines), as before the cap.
            text = decode_utf8(data, name).replace("\r\n", "\n").replace("\r", "\n")
            self._texts[path] = text
        return text, path

    def _ignore_patterns(self, context_dir: Path, dockerfile: Path | None) -> tuple[str, ...]:
        key = (context_dir, dockerfile)
        found = self._ignores.get(key)
        if found is None:
            path = find_ignore_file(context_dir, dockerfile)
            text = path.read_text(encoding="utf-8", errors="surrogateescape") if path is not None else ""
            found = self._ignores[key] = tuple(read_patterns(text))
        return found

    def _named_contexts(
        self, spec: TargetBuildSpec, platform: str, stack: tuple[str, ...]
    ) -> tuple[dict[str, NamedContext], dict[str, str]]:
        """Named contexts for the frontend, and the final op of each ``target:`` one."""

        out: dict[str, NamedContext] = {}
        linked: dict[str, str] = {}
        for key, value in spec.contexts.items():
            nc = NamedContext.parse(value)
            if nc.kind == "target":
                other = [p for p in self.platforms_of(nc.value) if p]
                # an implicit platform takes the linked target's only platform, as buildx does
                build = self.build(
                    nc.value, other[0] if not platform and len(other) == 1 else platform, stack
                )
                linked[key] = build.output
                nc = NamedContext("target", nc.value, plan=build.plan)
            elif nc.kind == "image":
                nc = NamedContext(
                    "image", nc.value, image=self._resolve(nc.value, platform or self.build_platform)
                )
            elif nc.kind == "local":
                nc = NamedContext("local", str(self._local_path(nc.value, stack[-1], f"context {key!r}")))
            out[key] = nc
        return out, linked

    def _resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        key = (ref, platform)
        if key not in self.images:
            self.images[key] = self.resolver.resolve(ref, platform)
        return self.images[key]

    # -- the graph -----------------------------------------------------------------
    def add(self, op: o.Op, target: str, no_cache: bool = False, **attrs: Any) -> str:
        """Add ``op`` unless an equal one is there; ``no_cache`` (never unset) asks for a re-run."""
        digest = op.digest
        if digest not in self.nodes:
            self._counter += 1
            self.nodes[digest] = dict(
                op=op,
                targets=set(),
                order=self._counter,
                first_target=target,
                no_cache=False,
                **attrs,
            )
            self.inputs[digest] = op.inputs
        if no_cache:
            self.nodes[digest]["no_cache"] = True
        return digest


class _Translator:
    """One BuildPlan's stages and steps → ops in the shared graph."""

    def __init__(
        self,
        builder: _Builder,
        spec: TargetBuildSpec,
        plan: BuildPlan,
        context_dir: Path,
        ignore: tuple[str, ...],
        named: Mapping[str, NamedContext],
        linked: Mapping[str, str],
    ) -> None:
        self.b = builder
        self.spec = spec
        self.target = spec.name
        self.plan = plan
        self.context_dir = context_dir
        self.ignore = ignore
        self.named = named
        self.linked = linked
        self.outputs: list[str] = []
        self.no_cache = spec.no_cache  # bake's no-cache: every op of this build re-runs
        self.no_cache_stages = spec.no_cache_filter  # bake's no-cache-filter
        self.source: tuple[str, str] | None = None  # the Dockerfile as errors show it, and its text

    def run(self) -> str:
        for stage in self.plan.stages:
            self.outputs.append(self._stage(stage))
        return self.outputs[self.plan.target]

    # -- sources -------------------------------------------------------------------
    def _context(self) -> ContextIndex:
        return self.b.hasher.index(self.context_dir, self.ignore, "context")

    def _local(self, index: ContextIndex, sources: Sequence[str], exclude: Sequence[str] = ()) -> str:
        include = select_key(sources)
        op = o.LocalSource(
            index.digest(include, exclude),
            include,
            index.exclude,
            tuple(exclude),
            name=index.name,
            path=str(index.root),
        )
        shown = " ".join(s or "." for s in include)
        name = "context" if index.name == "context" else f"context {index.name}"
        return self.b.add(
            op,
            self.target,
            description=f"load build {name}: {shown}",
            label=f"[{self.target} internal] load build {name} ({shown})",
            platform="",
            stage="internal",
            no_cache=self.no_cache,
        )

    def _image(self, ref: str, platform: str, stage: Stage | None = None) -> str:
        name, _, digest = ref.partition("@")
        resolved = self.b.images.get((name, platform))
        config = resolved.config if resolved is not None else ""
        if not digest and resolved is not None:
            digest = resolved.digest
        op = o.ImageSource(name, platform, digest, config=config)
        label = f"[{self.target} internal] load metadata for {name}"
        if stage is not None:
            label = self._label(stage, f"FROM {ref}")
        return self.b.add(
            op,
            self.target,
            description=f"FROM {ref}",
            label=label,
            platform=platform,
            stage=stage.display_name if stage else "internal",
            no_cache=self._uncached(stage),
        )

    def _named_key(self, name: str) -> str | None:
        """The ``contexts`` key serving ``name``, looked up as the frontend does."""
        if name in self.named:
            return name

        try:
            familiar = parse_ref(name).familiar().removesuffix(":latest")
        except RefError:
            return None
        return familiar if familiar in self.named else None

    def _named(
        self, name: str, platform: str, select: Sequence[str] = ("/",), exclude: Sequence[str] = ()
    ) -> str:
        key = self._named_key(name)
        if key is None:
            return self._image(name, platform)
        name, nc = key, self.named[key]
        if nc.kind == "target":
            return self.linked[name]
        if nc.kind == "local":
            patterns = self.b._ignore_patterns(Path(nc.value), None)
            index = self.b.hasher.index(nc.value, patterns, name)
            return self._local(index, select, exclude)
        if nc.kind == "oci-layout":
            return self._image("oci-layout://" + nc.value, platform)
        return self._image(nc.value, platform)

    def _source(
        self,
        kind: str,
        name: str,
        stage_index: int,
        platform: str,
        select: Sequence[str] = ("/",),
        exclude: Sequence[str] = (),
    ) -> str:
        """The op a COPY or mount reads; a local named context narrowed to ``select``."""
        if kind == "stage":
            return self.outputs[stage_index]
        if kind == "named-context":
            if 0 <= stage_index < len(self.outputs):
                return self.outputs[stage_index]
            return self._named(name, platform, select, exclude)
        if kind == "image":
            return self._image(name, platform)
        if kind == "scratch":
            return o.SCRATCH
        raise AssertionError(kind)

    # -- stages --------------------------------------------------------------------
    def _stage(self, stage: Stage) -> str:

        base = stage.base
        if base.kind == "scratch":
            state = o.SCRATCH
        elif base.kind == "image":
            state = self._image(base.name, base.platform or stage.platform, stage)
        elif base.kind == "stage":
            state = self.outputs[base.stage]
        else:
            state = self._named(base.name, base.platform or stage.platform)
        for step in stage.steps:
            if isinstance(step, RunStep):
                state = self._run(stage, step, state)
            elif isinstance(step, CopyStep):  # AddStep included
                state = self._copy(stage, step, state)
            elif isinstance(step, WorkdirStep):
                op = o.FileOp(state, (o.Mkdir(step.path, 0o755, step.user, True),), (), step.platform)
                state = self._add(op, stage, step)
        return state

    def _label(self, stage: Stage, text: str) -> str:
        """The FROM vertex of a stage, numbered and prefixed like the stage's other steps."""
        prefix, total = stage.display_name, 1
        for step in stage.steps:
            m = _STEP_NUMBER.match(step.description)
            if m:
                prefix, total = m.group(1), int(m.group(3))
                break
        head = f"{self.target} {prefix}".rstrip()
        return f"[{head} {1:>{len(str(total))}}/{total}] {text}"

    def _uncached(self, stage: Stage | None) -> bool:
        return self.no_cache or (stage is not None and stage.name in self.no_cache_stages)

    def _add(self, op: o.Op, stage: Stage, step: Any, kind_prefix: str = "") -> str:
        desc = step.description
        if desc.startswith("["):
            label = "[" + self.target + (" " if not desc.startswith("[ ") else "") + desc[1:]
        else:
            label = f"[{self.target}] {desc}"
        return self.b.add(
            op,
            self.target,
            description=kind_prefix + step.instruction,
            label=kind_prefix + label,
            platform=step.platform,
            stage=stage.display_name,
            no_cache=self._uncached(stage),
            # where a failure points: (Dockerfile as shown, line, its text)
            source=(self.source[0], step.line, self.source[1]) if self.source and step.line else None,
        )

    def _run(self, stage: Stage, step: Any, state: str) -> str:
        mounts = []
        for m in step.mounts:
            source = o.SCRATCH
            if m.type in ("bind", "cache") and m.origin is not None:
                origin = m.origin
                if origin.kind == "context":
                    source = self._local(self._context(), (m.source or "/",))
                else:
                    source = self._source(
                        origin.kind,
                        origin.name,
                        origin.stage,
                        origin.platform or step.platform,
                        (m.source or "/",),
                    )
            mounts.append(
                o.ExecMount(
                    type=m.type,
                    target=m.target,
                    input=source,
                    selector=m.source if m.type in ("bind", "cache") else "",
                    readonly=m.readonly,
                    id=m.id,
                    sharing=m.sharing,
                    required=m.required,
                    mode=m.mode,
                    uid=m.uid,
                    gid=m.gid,
                    size=m.size,
                    env=m.env,
                    scope=self.target if m.type in ("secret", "ssh") else "",
                )
            )
        op = o.Exec(
            root=state,
            args=tuple(step.args),
            env=tuple(f"{k}={v}" for k, v in step.env),
            cwd=step.workdir or "/",
            user=step.user,
            mounts=tuple(mounts),
            # the target's network is the stage's default, which a RUN's own --network replaces
            network=step.network if step.network not in ("", "default") else self.spec.network,
            security=step.security or "sandbox",
            platform=step.platform,
            files=tuple(o.InlineFile(f.name, f.data, f.mode) for f in step.files),
            proxy_env=tuple(f"{k}={v}" for k, v in step.proxy_env),
            extra_hosts=self.spec.extra_hosts,
            shm_size=self.spec.shm_size,
            ulimits=self.spec.ulimits,
        )
        return self._add(op, stage, step)

    def _copy(self, stage: Stage, step: Any, state: str) -> str:
        is_add = step.kind == "add"
        sources: list[str] = []
        actions: list[Any] = []
        dest = step.dest
        many = len(step.sources) + len(step.contents) > 1
        into_dir = dest.endswith("/") or many
        local: list[str] = []
        for src in step.sources:
            if is_add and (is_add_git_source(src) or is_http_source(src)):
                if is_add_git_source(src):
                    git = parse_git_url(src)
                    op: o.Op = o.GitSource(
                        git.remote,
                        git.ref,
                        git.subdir,
                        bool(step.keep_git_dir),
                        step.checksum,
                        self.b.git_commit(src, step.checksum),
                    )
                    label = f"[{self.target} internal] git {redact(src)}"
                    src_path = "/"
                else:
                    # a lockfile's pin is verified exactly as ADD --checksum is (written one wins)
                    checksum = step.checksum or self.b.http_checksums.get(src, "")
                    op = o.HttpSource(src, checksum, posixpath.basename(src.rstrip("/")))
                    label = f"[{self.target} internal] https {redact(src)}"
                    src_path = "/" + (posixpath.basename(src.split("?")[0].rstrip("/")) or "index.html")
                digest = self.b.add(
                    op,
                    self.target,
                    description=redact(src),  # progress and plans show it; a URL's password is not shown
                    label=label,
                    platform="",
                    stage="internal",
                    no_cache=self._uncached(stage),
                )
                sources.append(digest)
                actions.append(
                    o.Copy(
                        len(sources) - 1,
                        src_path,
                        dest,
                        step.chown,
                        step.chmod,  # a download is a 0600 file already: no mode unless --chmod
                        unpack=step.unpack is True,
                        exclude=step.exclude,
                    )
                )
            else:
                local.append(src)
        if local:
            origin = step.origin
            if origin.kind == "context":
                digest = self._local(self._context(), local, step.exclude)
            else:
                digest = self._source(
                    origin.kind,
                    origin.name,
                    origin.stage,
                    origin.platform or step.platform,
                    local,
                    step.exclude,
                )
            sources.append(digest)
            for src in local:
                actions.append(
                    o.Copy(
                        len(sources) - 1,
                        src,
                        dest,
                        step.chown,
                        step.chmod,
                        parents=step.parents,
                        exclude=step.exclude,
                        unpack=is_add and step.unpack is not False,
                    )
                )
        for f in step.contents:
            path = posixpath.join(dest, f.name) if into_dir else dest
            actions.append(o.Mkfile(path, f.data, f.mode, step.chown, chmod=step.chmod or ""))
        if step.merge:
            copied = self._add(
                o.FileOp(o.SCRATCH, tuple(actions), tuple(sources), step.platform), stage, step
            )
            if state == o.SCRATCH:
                return copied
            return self._add(o.Merge((state, copied)), stage, step, kind_prefix="merge ")
        return self._add(o.FileOp(state, tuple(actions), tuple(sources), step.platform), stage, step)


def _has_ignore_file(context_dir: Path, dockerfile: Path | None) -> bool:
    """Whether :func:`bakec.dockerfile.dockerignore.find_ignore_file` finds one (without importing the frontend)."""
    if dockerfile is not None and dockerfile.with_name(dockerfile.name + ".dockerignore").is_file():
        return True
    return (context_dir / ".dockerignore").is_file()
