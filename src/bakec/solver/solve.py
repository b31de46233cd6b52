"""Solve the combined graph: every unique op once, cached results reused across runs.

For each node the solver first asks the persistent cache index; a hit whose
snapshot and blobs still exist is reused without running anything. Otherwise
it takes the op's lock (shared by every process on the state dir), asks the
index again, and only then the worker runs the op and the record is committed only after the op fully
succeeded (so a kill never leaves a half-written entry). Progress events are
emitted for every vertex.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bakec.content.result import OpResult
from bakec.graph.build import Graph
from bakec.progress.events import Source, Vertex, VertexState, vertex_name
from bakec.progress.reporter import Progress
from bakec.solver.cache_index import CacheIndex, CacheRecord
from bakec.solver.emulated import is_emulated
from bakec.solver.oplock import DIRNAME as OPLOCK_DIR
from bakec.solver.oplock import OpLocks
from bakec.solver.protocols import ImportedResults, Runner
from bakec.solver.scheduler import Cached, RunOutcome, Scheduler, State


@dataclass
class SolveResult:
    outcome: RunOutcome[str]
    results: dict[str, OpResult] = field(default_factory=dict)  # by node id
    executed: list[str] = field(default_factory=list)  # node ids that really ran
    vertex_ids: dict[str, int] = field(default_factory=dict)
    # node id -> (start, end) in time.monotonic(), for the nodes that ran or were found cached
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    cached_from: dict[str, str] = field(default_factory=dict)  # node id → "local" or "import"
    started: float = field(default_factory=time.monotonic)  # when solving began (the spans' origin)


_UNCACHED_KINDS = ("local",)  # cheap to redo and keyed by content anyway


def _diff_ids(meta: Mapping[str, Any]) -> list[str]:
    return [layer[1] for layer in meta.get("layers", [])]


def solve(
    graph: Graph,
    runner: Runner,
    cache: CacheIndex,
    progress: Progress,
    *,
    max_parallelism: int | None = None,
    keep_going: bool = False,
    no_cache: bool = False,
    emulated: Callable[[str], bool] = lambda platform: False,
    scheduler: Scheduler | None = None,
    imported: ImportedResults | None = None,
    op_locks: OpLocks | None = None,
) -> SolveResult:
    """Run every op of ``graph`` once with ``runner``, reusing what the cache index holds.

    ``imported`` (results from ``cache-from`` sources) serves ops the local index
    misses; its results get a snapshot only when an op has to run on them. ``op_locks``
    (by default beside the cache index) make a build wait for another process running
    the same op, then reuse its result.
    """
    nodes = graph.nodes
    order = graph.order()
    several_targets = len({b.target for b in graph.builds}) > 1  # buildx prefixes names with the target then
    vertex_ids = progress.reserve(len(order))
    result = SolveResult(RunOutcome(), vertex_ids=dict(zip(order, vertex_ids, strict=True)))
    lock = threading.Lock()
    op_locks = op_locks or OpLocks(cache.path.parent / OPLOCK_DIR)
    scheduler = scheduler or Scheduler(max_parallelism=max_parallelism, keep_going=keep_going)
    unpacked: dict[str, threading.Lock] = {}  # imported results without a snapshot yet
    # ops re-run this time (--no-cache, no-cache-filter, a lost record) whose layers differ from the
    # cached result: what consumes them is keyed by the op, not its output, so it re-runs too
    changed: set[str] = set()

    def ready(node: str) -> OpResult:
        """The result of ``node`` with a snapshot (unpacking an imported one the first time)."""
        lock_of = unpacked.get(node)
        if lock_of is None:
            return result.results[node]
        with lock_of:
            if node in unpacked:
                assert imported is not None  # only imported results wait to be unpacked
                op_result = imported.materialise(result.results[node], runner)
                kind = nodes[node]["op"].kind
                size = sum(b.size for b in op_result.layers[-1:])
                cache.put(
                    CacheRecord(
                        node, kind, op_result.snapshot or None, None, described(node, op_result), size
                    )
                )
                with lock:
                    result.results[node] = op_result
                    del unpacked[node]
        return result.results[node]

    def uncached(node: str) -> bool:
        """Whether ``node`` runs whatever a cache holds (--no-cache, no-cache-filter, or a kind never cached)."""
        return no_cache or nodes[node].get("no_cache", False) or nodes[node]["op"].kind in _UNCACHED_KINDS

    def adopt(node: str, hit: OpResult) -> None:
        """Take an imported cache's result for ``node``; :func:`ready` unpacks it if an op runs on it."""
        with lock:
            result.results[node] = hit
            result.cached_from[node] = "import"
            unpacked[node] = threading.Lock()

    def vertex(node: str, state: VertexState, seconds: float | None = None, error: str | None = None) -> None:
        data = nodes[node]
        name = vertex_name(
            data.get("label") or data.get("description") or data["op"].kind,
            data.get("first_target", ""),
            several_targets,
        )
        targets = tuple(sorted(data.get("targets", ())))
        emulated_step = is_emulated(data["op"], emulated)
        where = data.get("source") if state == "failed" else None  # (Dockerfile as shown, line, text)
        progress.emit(
            Vertex(
                result.vertex_ids[node],
                name,
                state,
                node,
                targets,
                emulated_step,
                seconds,
                error,
                inputs=tuple(d for d in graph.inputs.get(node, ()) if d),
                source=Source(*where) if where else None,
            )
        )
        now = time.monotonic()
        if state == "cached":
            with lock:
                result.spans[node] = (now, now)
        elif state in ("done", "failed"):
            with lock:
                result.spans[node] = (now - (seconds or 0.0), now)

    def described(node: str, op_result: OpResult) -> dict[str, object]:
        """The cache record's meta: the result, plus the step's name and targets for ``bakec du --verbose``."""
        data = nodes[node]
        name = data.get("label") or data.get("description") or data["op"].kind
        return {
            **op_result.to_meta(),
            "description": vertex_name(name, data.get("first_target", ""), several_targets),
            "targets": sorted(data.get("targets", ())),
        }

    def execute(node: str) -> OpResult | Cached:
        data = nodes[node]
        op = data["op"]
        forced = uncached(node)
        with lock:
            inputs_changed = not changed.isdisjoint(op.inputs)
        skip_cache = forced or inputs_changed
        previous = None if op.kind in _UNCACHED_KINDS else cache.get(node)
        if not skip_cache:
            reused = reuse(node, previous)
            if reused is not None:
                return reused
            hit = imported.lookup(node) if imported is not None else None
            if hit is not None:
                adopt(node, hit)
                vertex(node, "cached")
                return Cached(hit)
        if forced:
            return run(node, previous)
        with op_locks.hold(node):
            # Another build on this state dir may have run the op while we waited for it. With
            # changed inputs only a record made meanwhile counts: it was made from their results.
            latest = cache.get(node)
            if latest is not None and (not inputs_changed or latest.meta != getattr(previous, "meta", None)):
                reused = reuse(node, latest)
                if reused is not None:
                    if previous is None or _diff_ids(previous.meta) != _diff_ids(latest.meta):
                        with lock:
                            changed.add(node)
                    return reused
            return run(node, latest)

    def reuse(node: str, previous: CacheRecord | None) -> Cached | None:
        """The cache index's result for ``node`` if its snapshot and blobs still exist."""
        if previous is None:
            return None
        cached = OpResult.from_meta(previous.meta)
        if not runner.snapshot_exists(cached.snapshot) or not all(
            runner.store.has(b.digest) for b in cached.layers
        ):
            return None
        with lock:
            result.results[node] = cached
            result.cached_from[node] = "local"
        vertex(node, "cached")
        return Cached(cached)

    def run(node: str, previous: CacheRecord | None) -> OpResult:
        """Run ``node``'s op and record its result."""
        op = nodes[node]["op"]
        inputs = {d: ready(d) for d in op.inputs if d}
        started = time.monotonic()
        vertex(node, "started")

        def log(stream: int, chunk: bytes) -> None:
            progress.log(
                result.vertex_ids[node],
                "stdout" if stream == 1 else "stderr",
                chunk.decode("utf-8", "replace"),
            )

        try:
            op_result = runner.run(op, inputs, log)
        except BaseException as err:
            vertex(node, "failed", seconds=time.monotonic() - started, error=str(err))
            raise
        if op.kind not in _UNCACHED_KINDS:
            size = sum(b.size for b in op_result.layers[-1:]) if op_result.layers else 0
            cache.put(
                CacheRecord(node, op.kind, op_result.snapshot or None, None, described(node, op_result), size)
            )
        with lock:
            result.results[node] = op_result
            if op.kind not in _UNCACHED_KINDS:
                result.executed.append(node)
                if previous is None or _diff_ids(previous.meta) != [b.diff_id for b in op_result.layers]:
                    changed.add(node)
        vertex(node, "done", seconds=time.monotonic() - started)
        return op_result

    keep = set(order)
    if imported is not None:
        # Ops that only imported results read are not needed; BuildKit shows them as cached too.
        keep = imported.needed(graph, uncached)
        for node in order:
            if node not in keep:
                hit = imported.lookup(node)
                if hit is not None:  # still a result: cache exports and inline caches list it
                    adopt(node, hit)
                vertex(node, "cached")
        order = [node for node in order if node in keep]
    dependencies: Mapping[str, list[str]] = {
        node: [d for d in graph.inputs[node] if d in keep] for node in order
    }
    # RUN steps take whole cores: max_parallelism bounds them; COPY and sources run beside them
    result.outcome = scheduler.run(dependencies, execute, light=lambda node: nodes[node]["op"].kind != "exec")
    for node, node_result in result.outcome.results.items():
        if node_result.state in (State.SKIPPED, State.CANCELLED):
            vertex(node, "skipped" if node_result.state is State.SKIPPED else "cancelled")
    return result
