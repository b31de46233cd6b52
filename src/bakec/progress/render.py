"""Renderers of progress events, one per ``--progress`` mode (:data:`MODES`).

``plain`` renders them as buildx does: ``#3 [api build 2/3] RUN make``, the command's
output as ``#3 0.512 <line>``, then ``#3 DONE 1.2s`` / ``#3 CACHED``; a step that runs
under emulation is marked ``(emulated)``, and so is the emulated share of a target's time
in the summary. A failed step's last output lines and its Dockerfile excerpt
(:mod:`.failure`) follow the steps in every mode but the JSON ones, whose consumers get
the log events themselves. ``rawjson`` is BuildKit's ``SolveStatus`` JSON
(:mod:`.solvestatus`); ``bakec-json`` is bakec's own events (:meth:`.events.Vertex.as_dict`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TextIO

from bakec.progress.events import Event, Log, Summary, Vertex
from bakec.progress.failure import Failures, offset
from bakec.progress.solvestatus import SolveStatusWriter
from bakec.progress.summary import render_summary

Renderer = Callable[[Event], None]

MODES = ("auto", "plain", "tty", "quiet", "rawjson", "bakec-json", "none")


def bakec_json(stream: TextIO) -> Renderer:
    """One JSON object per event (:meth:`Vertex.as_dict` and its siblings)."""

    def render(event: Event) -> None:
        stream.write(json.dumps(event.as_dict(), sort_keys=True) + "\n")
        stream.flush()

    return render


def rawjson(stream: TextIO) -> Renderer:
    """BuildKit's ``SolveStatus`` objects, one per line, as ``buildx --progress=rawjson``."""
    return SolveStatusWriter(stream)


def plain(stream: TextIO) -> Renderer:
    """buildx's ``--progress=plain`` lines."""
    starts: dict[int, float] = {}
    failures = Failures()

    def render(event: Event) -> None:
        if isinstance(event, Vertex):
            failures.follow(event)
            vid, state = event.id, event.state
            if state == "started":
                starts[vid] = event.time
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
            failures.follow(event)
            stamp = offset(max(0.0, event.time - starts.get(event.id, event.time)))
            stream.writelines(f"#{event.id} {stamp} {line}\n" for line in event.data.splitlines())
        elif isinstance(event, Summary):
            stream.write(failures.blocks())
            stream.write(render_summary(event))
        stream.flush()

    return render


def quiet(stream: TextIO) -> Renderer:
    """Only failures: each failed step's last output lines and Dockerfile excerpt, as it fails."""
    failures = Failures()

    def render(event: Event) -> None:
        if isinstance(event, Vertex | Log) and failures.follow(event) is not None:
            assert isinstance(event, Vertex)
            stream.write(failures.block(event))
            stream.flush()

    return render


def renderer(mode: str, stream: TextIO | None = None) -> Renderer:
    """The renderer for a ``--progress`` mode (``auto`` is ``tty`` on a terminal, else ``plain``)."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "tty" if stream.isatty() else "plain"
    if mode == "rawjson":
        return rawjson(stream)
    if mode == "bakec-json":
        return bakec_json(stream)
    if mode in ("quiet", "none"):
        return quiet(stream)
    if mode == "tty":
        from bakec.progress.tty import live

        return live(stream)
    return plain(stream)
