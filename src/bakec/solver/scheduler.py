"""Run a DAG of operations with maximal parallelism, each node exactly once.

The scheduler knows nothing about what a node does: ``execute(node_id)`` is
called in a worker thread once every dependency has succeeded. A node whose
dependency failed is *skipped*; without ``keep_going`` the first failure
stops new work from starting (running nodes finish or are cancelled by the
caller's executor), with ``keep_going`` independent branches run to the end.
``max_parallelism`` bounds the nodes running at once; with a ``light`` predicate it bounds only
the others (the solver's RUN steps, which take whole cores), and light nodes (file operations,
sources: Python and I/O) run beside them in as many slots again, so a core never idles while a
COPY holds a slot.
Ctrl-C / SIGTERM set :attr:`Scheduler.cancelled`; executors poll it.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)  # a node id: the solver's are op digests


class State(enum.Enum):
    DONE = "done"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"  # a dependency failed, or the run stopped first
    CANCELLED = "cancelled"


@dataclass
class NodeResult:
    """How one node ended, with what its executor returned (``value``) or raised (``error``)."""

    state: State
    value: object = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        """How long the node ran."""
        return max(0.0, self.finished - self.started)


@dataclass
class RunOutcome(Generic[N]):
    """Every node's result, once the run has ended."""

    results: dict[N, NodeResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every node succeeded or came from the cache."""
        return all(r.state in (State.DONE, State.CACHED) for r in self.results.values())

    def failed(self) -> list[N]:
        """The nodes whose executor raised."""
        return [n for n, r in self.results.items() if r.state is State.FAILED]


class Cached:
    """What an executor returns (not raises) to say its result came from the cache."""

    __slots__ = ("value",)

    def __init__(self, value: object = None) -> None:
        self.value = value


class Scheduler:
    """Dependency-ordered parallel execution of a DAG given as ``{node: [dependencies]}``."""

    def __init__(self, max_parallelism: int | None = None, keep_going: bool = False) -> None:
        self.max_parallelism = max(1, max_parallelism or os.cpu_count() or 1)
        self.keep_going = keep_going
        self.cancelled = threading.Event()

    def run(
        self,
        dependencies: Mapping[N, Iterable[N]],
        execute: Callable[[N], object],
        on_state: Callable[[N, NodeResult], None] | None = None,
        light: Callable[[N], bool] | None = None,
    ) -> RunOutcome[N]:
        """Run ``execute(node)`` for every node once its dependencies succeeded; wait for all.

        Nodes for which ``light(node)`` is true do not count against ``max_parallelism``: up to
        as many of them run beside the others.
        """
        deps = {node: set(ds) for node, ds in dependencies.items()}
        for node, ds in deps.items():
            missing = ds - deps.keys()
            if missing:
                raise ValueError(f"node {node!r} depends on unknown nodes {sorted(map(str, missing))}")
        dependents: dict[N, list[N]] = {n: [] for n in deps}
        for node, ds in deps.items():
            for d in ds:
                dependents[d].append(node)
        waiting = {n: len(ds) for n, ds in deps.items()}
        ready = [n for n, count in waiting.items() if count == 0]
        outcome: RunOutcome[N] = RunOutcome()
        stop = False
        running: dict[Future[NodeResult], N] = {}
        is_light = light or (lambda node: False)
        limit = self.max_parallelism
        busy = {False: 0, True: 0}  # running nodes, by lightness

        def startable(node: N) -> bool:
            return busy[is_light(node)] < limit

        def finish(node: N, result: NodeResult) -> None:
            outcome.results[node] = result
            if on_state is not None:
                on_state(node, result)

        def skip_downstream(node: N) -> None:
            stack = list(dependents[node])
            while stack:
                nxt = stack.pop()
                if nxt in outcome.results:
                    continue
                finish(nxt, NodeResult(State.SKIPPED))
                stack.extend(dependents[nxt])

        workers = limit * 2 if light is not None else limit
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bakec-op") as pool:
            while ready or running:
                if not stop and not self.cancelled.is_set():
                    held = []  # ready nodes whose kind of slot is full, in their order
                    while ready:
                        node = ready.pop(0)
                        if node in outcome.results:  # skipped meanwhile
                            continue
                        if not startable(node):
                            held.append(node)
                            continue
                        busy[is_light(node)] += 1
                        running[pool.submit(self._timed, execute, node)] = node
                    ready = held
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    node = running.pop(future)
                    busy[is_light(node)] -= 1
                    result = future.result()
                    finish(node, result)
                    if result.state in (State.DONE, State.CACHED):
                        for nxt in dependents[node]:
                            waiting[nxt] -= 1
                            if waiting[nxt] == 0 and nxt not in outcome.results:
                                ready.append(nxt)
                    else:
                        skip_downstream(node)
                        if not self.keep_going:
                            stop = True
        for node in deps:
            if node not in outcome.results:
                finish(node, NodeResult(State.CANCELLED if self.cancelled.is_set() else State.SKIPPED))
        return outcome

    def _timed(self, execute: Callable[[N], object], node: N) -> NodeResult:
        started = time.monotonic()
        if self.cancelled.is_set():
            return NodeResult(State.CANCELLED, started=started, finished=started)
        try:
            value = execute(node)
        except BaseException as err:  # noqa: BLE001 - reported per node, never lost
            state = State.CANCELLED if self.cancelled.is_set() else State.FAILED
            return NodeResult(state, error=err, started=started, finished=time.monotonic())
        if isinstance(value, Cached):
            return NodeResult(State.CACHED, value.value, started=started, finished=time.monotonic())
        return NodeResult(State.DONE, value, started=started, finished=time.monotonic())
