"""What a failed step shows, as buildx shows it: the step's last output lines.

::

    ------
     > [api build 2/2] RUN make:
    0.104 cc -c main.c
    0.212 main.c:3: error: ...
    ------

The Dockerfile lines around the instruction follow with the error itself (``api/Dockerfile:4``
and its excerpt, then ``ERROR: target api: failed to solve: ...``), printed once by the CLI in
every progress mode: see :class:`bakec.errors.SolveError`.
"""

from __future__ import annotations

from collections import deque

from bakec.progress.events import Log, Vertex

TAIL_LINES = 10  # what BuildKit keeps of a step's output for its error


def offset(seconds: float) -> str:
    """A log line's time since its step started, with BuildKit's precision."""
    return f"{seconds:.{3 if seconds < 10 else 2 if seconds < 100 else 1}f}"


class LogTails:
    """The last :data:`TAIL_LINES` lines each running step wrote, each prefixed with its offset."""

    def __init__(self, keep: int = TAIL_LINES) -> None:
        self._keep = keep
        self._started: dict[int, float] = {}
        self._lines: dict[int, deque[str]] = {}
        self._partial: set[int] = set()  # steps whose last line has no newline yet

    def vertex(self, event: Vertex) -> None:
        """Follow ``event``'s step: a start resets it; a success forgets it (only failures are shown)."""
        if event.state == "started":
            self._started[event.id] = event.time
            self._lines[event.id] = deque(maxlen=self._keep)
            self._partial.discard(event.id)
        elif event.state in ("done", "cached"):
            self._started.pop(event.id, None)
            self._lines.pop(event.id, None)
            self._partial.discard(event.id)

    def log(self, event: Log) -> None:
        """Add ``event``'s lines (a chunk may end inside a line; the next one continues it)."""
        lines = self._lines.setdefault(event.id, deque(maxlen=self._keep))
        stamp = offset(max(0.0, event.time - self._started.get(event.id, event.time)))
        chunks = event.data.split("\n")
        complete = chunks[-1] == ""
        if complete:
            chunks.pop()
        for i, chunk in enumerate(chunks):
            if i == 0 and event.id in self._partial and lines:
                lines[-1] += chunk
            else:
                lines.append(f"{stamp} {chunk}")
        if complete:
            self._partial.discard(event.id)
        else:
            self._partial.add(event.id)

    def last(self, vertex_id: int, count: int | None = None) -> list[str]:
        """The step's last lines (all kept, or the last ``count``)."""
        lines = list(self._lines.get(vertex_id, ()))
        return lines if count is None else lines[-count:]


def failure_block(event: Vertex, tail: list[str]) -> str:
    """The failed step's name and last output lines."""
    return "\n".join(["------", f" > {event.name}:", *tail, "------"]) + "\n"


class Failures:
    """The failed steps of a run with their output's tail, for the renderers to print at the end."""

    def __init__(self) -> None:
        self.tails = LogTails()
        self._failed: list[tuple[Vertex, list[str]]] = []

    def follow(self, event: Vertex | Log) -> Vertex | None:
        """Track ``event``; return it when it is a step failing (its tail is kept)."""
        if isinstance(event, Log):
            self.tails.log(event)
            return None
        self.tails.vertex(event)
        if event.state != "failed":
            return None
        self._failed.append((event, self.tails.last(event.id)))
        return event

    def block(self, event: Vertex) -> str:
        """:func:`failure_block` of a failure :meth:`follow` returned."""
        return next(failure_block(e, tail) for e, tail in self._failed if e is event)

    def blocks(self) -> str:
        """Every failure's :func:`failure_block`, in the order they failed."""
        return "".join(failure_block(e, tail) for e, tail in self._failed)
