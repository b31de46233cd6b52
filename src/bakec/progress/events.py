"""Progress events and their renderers (``--progress plain|rawjson|quiet``).

Every event is a plain dict, so ``rawjson`` prints exactly what the solver
emits, one JSON object per line (documented in the README):

``{"type": "vertex", "id": 3, "digest": "sha256:...", "name": "[api build 2/3] RUN make",
   "state": "started|done|cached|failed|skipped|cancelled", "time": 1700000000.0,
   "seconds": 1.25, "targets": ["api"], "emulated": false}``

``{"type": "log", "id": 3, "stream": "stdout|stderr", "data": "..."}``

``{"type": "summary", "targets": {"api": {"state": "done", "seconds": 3.2, "emulated_seconds": 0.0}},
   "seconds": 4.0}`` (``emulated_seconds``: time in this target's RUN steps that ran under QEMU)

A vertex's ``name`` is the graph's label (:func:`vertex_name`): the Dockerfile frontend's
``[<platform> <stage> n/m] RUN ...`` (the platform only when the target builds several) or
``[internal] load ...``, with buildx bake's target prefix (``[api linux/arm64 build 2/3]``)
when the run builds more than one target. A step several targets share shows the first one's.

``plain`` renders them as buildx does: ``#3 [api build 2/3] RUN make``, the
command's output as ``#3 0.512 <line>``, then ``#3 DONE 1.2s`` / ``#3 CACHED``;
a step that runs under emulation is marked ``(emulated)``, and so is the
emulated share of a target's time in the summary.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from bakec.progress.summary import render_summary

Event = dict[str, Any]


def vertex_name(label: str, target: str, prefix_target: bool) -> str:
    """The progress name of a vertex labelled ``label`` in the graph (its first target: ``target``).

    Graph labels always carry the target (``[api build 2/3] RUN make``, ``[api] ...``); buildx
    adds it only when a bake run builds several targets, so it is dropped otherwise.
    """
    if prefix_target or not target:
        return label
    if label.startswith(f"[{target} "):
        return "[" + label[len(target) + 2 :]
    if label.startswith(f"[{target}] "):
        return label[len(target) + 3 :]
    return label


class Progress:
    """Fan-out of solver events to one renderer; thread-safe."""

    def __init__(self, render: Callable[[Event], None]) -> None:
        self._render = render
        self._lock = threading.Lock()
        self._started: dict[int, float] = {}

    def emit(self, event: Event) -> None:
        event.setdefault("time", time.time())
        with self._lock:
            if event.get("type") == "vertex" and event.get("state") == "started":
                self._started[event["id"]] = time.monotonic()
            self._render(event)

    def since_start(self, vertex_id: int) -> float:
        return time.monotonic() - self._started.get(vertex_id, time.monotonic())


def rawjson(stream: TextIO) -> Callable[[Event], None]:
    def render(event: Event) -> None:
        stream.write(json.dumps(event, sort_keys=True) + "\n")
        stream.flush()

    return render


def plain(stream: TextIO) -> Callable[[Event], None]:
    starts: dict[int, float] = {}

    def render(event: Event) -> None:
        kind = event.get("type")
        if kind == "vertex":
            vid = event["id"]
            state = event["state"]
            if state == "started":
                starts[vid] = time.monotonic()
                label = " (emulated)" if event.get("emulated") else ""
                stream.write(f"#{vid} {event['name']}{label}\n")
            elif state == "cached":
                stream.write(f"#{vid} {event['name']}\n#{vid} CACHED\n")
            elif state == "done":
                stream.write(f"#{vid} DONE {event.get('seconds', 0):.1f}s\n")
            elif state == "failed":
                stream.write(f"#{vid} ERROR: {event.get('error', 'failed')}\n")
            elif state in ("skipped", "cancelled"):
                stream.write(f"#{vid} {state.upper()}\n")
        elif kind == "log":
            vid = event["id"]
            offset = time.monotonic() - starts.get(vid, time.monotonic())
            stream.writelines(
                f"#{vid} {offset:.3f} {line}\n" for line in str(event.get("data", "")).splitlines()
            )
        elif kind == "summary":
            stream.write(render_summary(event))
        stream.flush()

    return render


def quiet(stream: TextIO) -> Callable[[Event], None]:
    def render(event: Event) -> None:
        if event.get("type") == "vertex" and event.get("state") == "failed":
            stream.write(f"ERROR: {event['name']}: {event.get('error', 'failed')}\n")
            stream.flush()

    return render


def renderer(mode: str, stream: TextIO | None = None) -> Callable[[Event], None]:
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
