"""``Progress``: where every part of a build reports its steps; it numbers them and fans events out."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from bakec.progress.events import Event, Log, Vertex, VertexState


class Progress:
    """Thread-safe fan-out of events to one renderer, and the one allocator of vertex ids."""

    def __init__(self, render: Callable[[Event], None]) -> None:
        self._render = render
        self._lock = threading.Lock()
        self._next_id = 1

    def emit(self, event: Event) -> None:
        """Pass ``event`` to the renderer (events never interleave)."""
        with self._lock:
            self._render(event)

    def reserve(self, count: int) -> range:
        """``count`` consecutive vertex ids no other step gets (the graph's steps take theirs first)."""
        with self._lock:
            ids = range(self._next_id, self._next_id + count)
            self._next_id += count
        return ids

    def log(self, vertex_id: int, stream: str, data: str) -> None:
        """Output of the step ``vertex_id`` (``stream``: ``stdout`` or ``stderr``)."""
        self.emit(Log(vertex_id, "stdout" if stream == "stdout" else "stderr", data))

    @contextmanager
    def step(self, name: str, *, targets: Iterable[str] = ()) -> Iterator[int]:
        """Report the ``with`` body as one step: started, then done or failed with its time.

        Yields the step's vertex id, for :meth:`log`. Used for what is not an op of the graph:
        cache imports and exports, pushes.
        """
        (vertex_id,) = self.reserve(1)
        digest = "sha256:" + hashlib.sha256(name.encode()).hexdigest()
        shown = tuple(sorted(targets))

        def vertex(state: VertexState, seconds: float | None = None, error: str | None = None) -> Vertex:
            return Vertex(vertex_id, name, state, digest, shown, seconds=seconds, error=error)

        started = time.monotonic()
        self.emit(vertex("started"))
        try:
            yield vertex_id
        except BaseException as err:
            self.emit(vertex("failed", round(time.monotonic() - started, 3), str(err)))
            raise
        self.emit(vertex("done", round(time.monotonic() - started, 3)))
