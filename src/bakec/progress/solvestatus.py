"""``--progress=rawjson``: BuildKit's ``SolveStatus`` JSON, one object per line, as buildx prints it.

Each event becomes one ``SolveStatus`` (BuildKit's client/graph.go; every key omitted when empty):

``{"vertexes": [{"digest", "inputs", "name", "started", "completed", "cached", "error"}]}`` for a
step changing state, ``{"logs": [{"vertex", "stream", "data", "timestamp"}]}`` for its output
(``stream`` 1 stdout, 2 stderr; ``data`` base64, as Go encodes ``[]byte``). Times are RFC 3339
with nanoseconds, UTC, as Go encodes ``time.Time``. The run's summary has no ``SolveStatus``
form and is not printed.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import TextIO

from bakec.progress.events import Event, Log, Vertex


def go_time(epoch: float) -> str:
    """``epoch`` as Go's ``time.Time`` marshals to JSON (RFC 3339, nanoseconds without trailing zeros)."""
    whole = int(epoch)
    nanos = round((epoch - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: object) -> str:
    """``value`` as Go's ``json.Encoder`` writes it: compact, UTF-8, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)  # these occur only inside strings
    return text


class SolveStatusWriter:
    """Turns bakec's events into ``SolveStatus`` lines (remembering each step's start and digest)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started: dict[int, float] = {}
        self._digests: dict[int, str] = {}

    def __call__(self, event: Event) -> None:
        status = self.status(event)
        if status:
            self._stream.write(go_json(status) + "\n")
            self._stream.flush()

    def status(self, event: Event) -> dict[str, object]:
        """The ``SolveStatus`` of ``event`` (empty when it has none)."""
        if isinstance(event, Vertex):
            return self._vertex(event)
        if isinstance(event, Log):
            log = {
                "vertex": self._digests.get(event.id, ""),
                "stream": 1 if event.stream == "stdout" else 2,
                "data": base64.b64encode(event.data.encode()).decode(),
                "timestamp": go_time(event.time),
            }
            if not log["vertex"]:
                del log["vertex"]
            return {"logs": [log]}
        return {}

    def _vertex(self, event: Vertex) -> dict[str, object]:
        if event.state == "skipped":  # BuildKit never shows a step it did not get to
            return {}
        self._digests[event.id] = event.digest
        vertex: dict[str, object] = {"digest": event.digest}
        if event.inputs:
            vertex["inputs"] = list(event.inputs)
        vertex["name"] = event.name
        if event.state == "started":
            self._started[event.id] = event.time
            vertex["started"] = go_time(event.time)
            return {"vertexes": [vertex]}
        vertex["started"] = go_time(self._started.pop(event.id, event.time))
        vertex["completed"] = go_time(event.time)
        if event.state == "cached":
            vertex["cached"] = True
        elif event.state == "failed":
            vertex["error"] = event.error or "failed"
        elif event.state == "cancelled":
            vertex["error"] = "context canceled"
        return {"vertexes": [vertex]}
