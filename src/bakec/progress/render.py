"""Renderers of progress events, one per ``--progress`` mode (``plain``, ``rawjson``, ``quiet``; ``tty``).

``plain`` renders them as buildx does: ``#3 [api build 2/3] RUN make``, the command's
output as ``#3 0.512 <line>``, then ``#3 DONE 1.2s`` / ``#3 CACHED``; a step that runs
under emulation is marked ``(emulated)``, and so is the emulated share of a target's time
in the summary.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import TextIO

from bakec.progress.events import Event, Log, Summary, Vertex
from bakec.progress.summary import render_summary

Renderer = Callable[[Event], None]


def rawjson(stream: TextIO) -> Renderer:
    """One JSON object per event (:meth:`Vertex.as_dict` and its siblings)."""

    def render(event: Event) -> None:
        stream.write(json.dumps(event.as_dict(), sort_keys=True) + "\n")
        stream.flush()

    return render


def plain(stream: TextIO) -> Renderer:
    """buildx's ``--progress=plain`` lines."""
    starts: dict[int, float] = {}

    def render(event: Event) -> None:
        if isinstance(event, Vertex):
            vid, state = event.id, event.state
            if state == "started":
                starts[vid] = time.monotonic()
                label = " (emulated)" if event.emulated else ""
                stream.write(f"#{vid} {event.name}{label}\n")
            elif state == "cached":
                stream.write(f"#{vid} {event.name}\n#{vid} CACHED\n")
            elif state == "done":
                stream.write(f"#{vid} DONE {event.seconds or 0:.1f}s\n")
            elif state == "failed":
                stream.write(f"#{vid} ERROR: {event.error or 'failed'}\n")
            else:
                stream.write(f"#{vid} {state.upper()}\n")
        elif isinstance(event, Log):
            offset = time.monotonic() - starts.get(event.id, time.monotonic())
            stream.writelines(f"#{event.id} {offset:.3f} {line}\n" for line in event.data.splitlines())
        elif isinstance(event, Summary):
            stream.write(render_summary(event))
        stream.flush()

    return render


def quiet(stream: TextIO) -> Renderer:
    """Only failures."""

    def render(event: Event) -> None:
        if isinstance(event, Vertex) and event.state == "failed":
            stream.write(f"ERROR: {event.name}: {event.error or 'failed'}\n")
            stream.flush()

    return render


def renderer(mode: str, stream: TextIO | None = None) -> Renderer:
    """The renderer for a ``--progress`` mode (``auto`` is ``tty`` on a terminal, else ``plain``)."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if stream.isatty() else "plain"
    if mode == "rawjson":
        return rawjson(stream)
    if mode in ("quiet", "none"):
        return quiet(stream)
    if mode == "tty":
        from bakec.progress.tty import live

        return live(stream)
    return plain(stream)
