"""``bakec build``: resolved targets → one graph → solved on containerd → exported outputs.

This is the library face ``bakec.build()`` and the CLI's engine. It wires the
layers together and owns nothing else: the graph (``bakec.graph``), the
solver (``bakec.solver``), the worker (``bakec.worker``) and the exporters
(``bakec.export``) do the work.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec import remotecache as cache_io
from bakec.bake import entitlements_fs
from bakec.bake.annotations import export_attrs as annotation_attrs
from bakec.bake.definition import local_platform
from bakec.content.store import ContentStore
from bakec.errors import BakecError, BuildError, EnvironmentProblem, Pos, Range, SolveError
from bakec.export.attest import RunAttestations
from bakec.export.exporters import exporter_for, with_absolute_dest
from bakec.export.image import Image
from bakec.export.publish import Publisher, push_timeout
from bakec.export.request import ExportRequest
from bakec.graph.build import build_graph
from bakec.graph.context import ContextHasher
from bakec.graph.platforms import refuse_docker_manifest_lists
from bakec.graph.resolve import RegistryResolver
from bakec.graph.target_options import target_build_specs
from bakec.lock.resolve import LockedFetcher, LockedResolver
from bakec.progress.events import Summary, TargetSummary, vertex_name
from bakec.progress.render import renderer
from bakec.progress.reporter import Progress
from bakec.registry import RegistryClient
from bakec.remotecache import with_inline_cache
from bakec.solver import interrupt, records, statelock
from bakec.solver.cache_index import CacheIndex
from bakec.solver.emulated import emulated_seconds
from bakec.solver.scheduler import Scheduler
from bakec.solver.solve import solve
from bakec.source.git import GitFetcher
from bakec.state import resolve_state_dir
from bakec.util.platform import Platform
from bakec.worker.deferred import DeferredRunner, LazyClient
from bakec.worker.emulation import emulated
from bakec.worker.entitlements import Entitlements, ask_terminal, grant
from bakec.worker.leftovers import sweep as sweep_leftovers
from bakec.worker.oprunner import image_config
from bakec.worker.paths import DaemonPaths
from bakec.worker.secrets import SecretStore
from bakec.worker.ssh import SshForwards


@dataclass
class BuildOptions:
    state_dir: str | None = None
    containerd_address: str | None = None  # an external containerd's socket instead of the embedded one
    progress: str = "auto"
    max_parallelism: int | None = None
    keep_going: bool = False
    no_cache: bool = False
    allow: Sequence[str] = ()
    metadata_file: str | None = None
    check_fs: bool = False  # fs.read/fs.write entitlements, checked by the CLI as buildx's bake command does
    lock: Any = None  # a bakec.lock.Lockfile: base images and git refs resolve to its pins
    fleet: Any = None  # a bakec.fleet_run.FleetJob: run one shard of a fleet plan, or publish it


@dataclass
class TargetReport:
    name: str
    state: str
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    targets: dict[str, TargetReport]
    executed: list[str]
    cached: int

    @property
    def ok(self) -> bool:
        return all(t.state == "done" for t in self.targets.values())


def _forwards(specs: Mapping[str, Any], env: Mapping[str, str], cwd: str, state_dir: Path) -> tuple[Any, Any]:
    """The build's secret sources and ssh agents (``RUN --mount=type=secret|ssh``; bakec.worker.mounts)."""

    secrets = SecretStore.from_targets({name: spec.secrets for name, spec in specs.items()}, env, cwd)
    ssh = SshForwards.from_targets(
        {name: spec.ssh for name, spec in specs.items()}, env, cwd, state_dir / "tmp"
    )
    return secrets, ssh


def build(
    definition: Any,
    names: Sequence[str],
    overrides: Sequence[str] = (),
    *,
    flag_overrides: Sequence[str] = (),
    options: BuildOptions | None = None,
) -> BuildReport:
    """Build the requested targets; raise :class:`BuildError` when a target fails."""
    import sys

    publish_within = push_timeout(os.environ)  # a bad value fails before anything is built

    options = options or BuildOptions()
    started = time.monotonic()
    resolved = definition.resolve(list(names), list(overrides), flag_overrides=list(flag_overrides))
    refuse_docker_manifest_lists(resolved.targets.values())
    build_platform = local_platform()
    # every target's build inputs, before anything is granted or run: what bakec refuses fails here
    specs = {name: target_build_specs(t, build_platform)[0] for name, t in resolved.targets.items()}
    attestations = RunAttestations.start(resolved.targets, definition.env, definition.cwd)
    allowed = Entitlements.parse(options.allow)
    fs = entitlements_fs.check(
        resolved.targets,
        allowed.fs_read,
        allowed.fs_write,
        overrides=overrides,
        env=definition.env,
        cwd=definition.cwd,
        remote=bool(definition.remote),
        paths=options.check_fs,
    )
    allowed = allowed.granting(fs.granted)  # --set entitlements=network.host grants itself, as in buildx
    requested = {e for spec in specs.values() for e in spec.entitlements}
    fleet = options.fleet
    if fleet is not None:  # a fleet job asks only for what its own steps need (publish: nothing)
        requested = fleet.entitlements(requested)
    grant(
        requested,
        allowed,
        fs_read=fs.read,
        fs_write=fs.write,
        fs_checks=fs.enforced,
        fs_hint=fs.hint,
        argv=sys.argv,
        interactive=sys.stdin.isatty() and sys.stderr.isatty(),
        ask=ask_terminal,
        out=lambda text: sys.stderr.write(text if text.endswith("\n") else text + "\n"),
    )
    state_dir = resolve_state_dir(options.state_dir, definition.env)
    registry = RegistryClient()
    resolver: Any = RegistryResolver(registry)
    fetcher = GitFetcher(state_dir / "git")
    if options.lock is not None:
        resolver = LockedResolver(options.lock, resolver)
        fetcher = LockedFetcher(state_dir / "git", options.lock)
    if fleet is not None:
        resolver = fleet.resolver(resolver)
    with ContextHasher() as hasher:
        graph = build_graph(
            resolved.targets,
            cwd=definition.cwd,
            requested=list(resolved.targets),
            resolver=resolver,
            hasher=hasher,
            fetcher=fetcher,
            build_platform=build_platform,
            http_checksums=options.lock.http if options.lock is not None else None,
        )
        records.save_context_files(state_dir, graph, hasher)  # for `bakec why`: which files changed
    if fleet is not None:
        fleet.check(graph)  # a stale plan is refused before anything runs
    progress = Progress(renderer(options.progress, sys.stderr))
    lock = statelock.hold(state_dir)  # noqa: F841 - held until the build returns; prune waits for it
    # What killed builds left (their secrets' tmpfs, bundles, containers) goes first, daemon or not.
    sweep_leftovers(DaemonPaths(state_dir))
    # containerd is started or contacted only when an op or an output needs it
    client = LazyClient(state_dir, address=options.containerd_address)
    store = ContentStore(state_dir / "content")
    cache = CacheIndex(state_dir / "cache.db")
    secrets, ssh = _forwards(specs, definition.env, definition.cwd, state_dir)
    try:
        with client.lease() as leased:
            runner = DeferredRunner(leased, store, allow=allowed, registry=registry, secrets=secrets, ssh=ssh)
            cache_steps = cache_io.Steps(progress)
            if fleet is not None:
                imported = fleet.imports(store=store, registry=registry, steps=cache_steps, graph=graph)
            else:
                imported = cache_io.import_caches(
                    specs, store=store, registry=registry, cwd=definition.cwd, steps=cache_steps
                )
            scheduler = Scheduler(options.max_parallelism, keep_going=options.keep_going)
            with interrupt.cancelling(scheduler, runner.executor) as signals:  # Ctrl-C/SIGTERM: kill, exit
                solved = solve(
                    graph,
                    runner if fleet is None else fleet.runner(runner, graph, store=store, registry=registry),
                    cache,
                    progress,
                    max_parallelism=options.max_parallelism,
                    keep_going=options.keep_going,
                    no_cache=options.no_cache,
                    emulated=emulated,
                    imported=imported,
                    scheduler=scheduler,
                )
            if fleet is not None and not fleet.publishing:
                # what finished goes to the shard's ref even when an op failed or the run was stopped
                fleet.export(graph, solved, store=store, registry=registry, steps=cache_steps)
            interrupt.raise_if_interrupted(signals)
            if fleet is not None and not fleet.publishing:
                reports = _shard_reports(resolved.targets, solved)
                publisher = None
            else:
                cache_io.prefetch_outputs(graph, solved, imported)
                publisher = Publisher.for_state_dir(
                    registry, store, state_dir, progress=progress, timeout=publish_within
                )
                publisher.known_images(
                    (d["op"].ref, [b.digest for b in solved.results[n].layers])
                    for n, d in graph.nodes.items()
                    if d["op"].kind == "image" and n in solved.results
                )
                if imported is not None:  # a layer a cache import read is mounted from its repository
                    publisher.known_images(imported.registry_blobs())
                reports = _export(
                    graph,
                    solved,
                    resolved.targets,
                    store,
                    leased,
                    definition,
                    progress,
                    publisher,
                    attestations,
                )
    finally:
        ssh.close()
        cache.close()
        client.close()
    record = records.to_record(graph, solved, cwd=definition.cwd, no_cache=options.no_cache)
    records.write_record(state_dir, record)
    if publisher is not None and all(r.state == "done" for r in reports.values()):
        publisher.publish()  # every target built: now every blob, then every manifest and tag
        cache_io.export_caches(
            graph,
            solved,
            specs,
            store=store,
            registry=registry,
            imported=imported,
            cwd=definition.cwd,
            steps=cache_steps,
        )
    emulated_time = emulated_seconds(graph, solved.outcome, emulated)
    summary = {
        name: TargetSummary(
            r.state,
            r.seconds,
            round(emulated_time.get(name, 0.0), 3),
        )
        for name, r in reports.items()
    }
    progress.emit(Summary(summary, round(time.monotonic() - started, 3)))
    if options.metadata_file:
        Path(options.metadata_file).write_text(
            json.dumps({name: r.metadata for name, r in reports.items() if r.metadata}, indent=2) + "\n"
        )
    cached = sum(1 for r in solved.outcome.results.values() if r.state.value == "cached")
    report = BuildReport(reports, solved.executed, cached)
    if not report.ok:
        failed = [n for n, r in reports.items() if r.state != "done"]
        problem = next(
            (r.error for r in solved.outcome.results.values() if isinstance(r.error, EnvironmentProblem)),
            None,
        )
        if problem is not None:
            raise problem  # containerd could not be started when the first op that runs needed it
        raise _failure(graph, solved.outcome, failed)
    return report


def _shard_reports(targets: Mapping[str, Any], solved: Any) -> dict[str, TargetReport]:
    """A fleet shard exports no target: each of them is done when every op of the shard is."""
    state = "done" if solved.outcome.ok else "failed"
    return {name: TargetReport(name, state) for name in targets}


def _failure(graph: Any, outcome: Any, failed: Sequence[str]) -> BakecError:
    """The first failed op as buildx reports it: its target, the Dockerfile line that made it, the reason."""
    errors = [(node, r.error) for node, r in outcome.results.items() if r.error is not None]
    if not errors:
        return BuildError(f"failed to build {', '.join(sorted(failed))}")
    node, error = errors[0]
    data = graph.nodes.get(node, {})
    owners = sorted(set(data.get("targets", ())) & set(failed))
    target = owners[0] if owners else data.get("first_target") or sorted(failed)[0]
    builds = sum(1 for b in graph.builds if b.target == target)
    platform = data.get("platform", "") if builds > 1 else ""
    path, line, text = data.get("source") or ("", 0, None)  # (Dockerfile as shown, line, its text)
    rng = Range(path, Pos(line, 1), Pos(line, 1)) if path and line > 0 else None
    others = sorted(set(failed) - {target})
    return SolveError(
        target,
        str(error),
        platform=platform,
        range=rng,
        source=text.encode() if text is not None and rng is not None else None,
        detail=f"also failed: {', '.join(others)}" if others else "",
    )


def _export(
    graph: Any,
    solved: Any,
    targets: Mapping[str, Any],
    store: Any,
    client: Any,
    definition: Any,
    progress: Any,
    publisher: Any,
    attestations: Any = None,
) -> dict[str, TargetReport]:

    reports: dict[str, TargetReport] = {}
    by_target: dict[str, list[Any]] = {}
    for b in graph.builds:
        by_target.setdefault(b.target, []).append(b)
    spans = _target_spans(graph, solved)
    for name, builds in by_target.items():
        images = []
        state = "done"
        for b in builds:
            if b.output and b.output not in solved.results:
                state = "failed"
                break
            result = solved.results.get(b.output) if b.output else None
            layers = tuple(result.layers) if result is not None else ()
            base = len(list(itertools.takewhile(lambda layer: layer.from_base, b.plan.layers)))
            config = with_inline_cache(image_config(b.plan, b.platform), b.spec, graph, solved, b)
            images.append(
                Image(config, layers, Platform.from_formatted(b.plan.image.platform), base_layers=base)
            )
        report = TargetReport(name, state)
        reports[name] = report
        first, last = spans.get(name, (time.monotonic(), time.monotonic()))
        report.seconds = round(last - first, 3)
        if state != "done":
            continue
        target = targets[name]
        spec = builds[0].spec
        attest = attestations.for_target(target, builds, graph, store) if attestations else None
        outputs = (
            spec.outputs if spec.outputs is not None else [{"type": "image", "name": ",".join(spec.tags)}]
        )
        exporting = time.monotonic()
        for out in outputs:
            kind = out.get("type", "")
            exporter = exporter_for(kind)
            attrs = {k: v for k, v in out.items() if k != "type"}
            attrs.update(annotation_attrs(list(spec.annotations)))
            try:
                with _export_step(progress, name, exporter.step, attrs.get("dest"), len(by_target) > 1):
                    request = ExportRequest(
                        target=spec.name,
                        attrs=with_absolute_dest(attrs, definition.cwd),
                        images=images,
                        store=store,
                        containerd=client,
                        tags=tuple(spec.tags),
                        source_date_epoch=spec.source_date_epoch,
                        publisher=publisher,
                        attest=attest,
                    )
                    report.metadata.update(exporter.write(request))
            except BakecError:
                raise
            except OSError as err:
                raise BuildError(f"target {name}: exporting {kind} output failed: {err}") from None
        # Its own span: its steps (outputs are written once every target's steps ended, so the
        # time between its last step and its export is other targets' and not counted) and its exports.
        report.seconds = round(last - first + time.monotonic() - exporting, 3)
    return reports


def _target_spans(graph: Any, solved: Any) -> dict[str, tuple[float, float]]:
    """Each target's first step's start and last step's end (monotonic), from the solver's spans."""
    spans: dict[str, tuple[float, float]] = {}
    for node, (start, end) in solved.spans.items():
        for name in graph.nodes[node].get("targets", ()):
            first, last = spans.get(name, (start, end))
            spans[name] = (min(first, start), max(last, end))
    return spans


@contextmanager
def _export_step(
    progress: Any, target: str, title: str | None, dest: str | None, prefix: bool
) -> Iterator[None]:
    """Show an output's export as a step (``[api] exporting to oci image format``; none for cacheonly)."""

    if title is None:
        yield
        return
    with progress.step(vertex_name(f"[{target}] {title}", target, prefix), targets=[target]) as step:
        if dest:
            progress.log(step, "stderr", f"writing {'to stdout' if dest == '-' else dest}\n")
        yield
