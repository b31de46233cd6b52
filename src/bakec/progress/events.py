"""The events a build emits: a step (vertex) changing state, a step's output, the run's summary.

Every event is typed data; :meth:`as_dict` is what ``--progress=bakec-json`` prints, one JSON
object per line (documented in the README; ``--progress=rawjson`` prints BuildKit's
``SolveStatus`` instead, :mod:`.solvestatus`):

``{"type": "vertex", "id": 3, "digest": "sha256:...", "name": "[api build 2/3] RUN make",
   "state": "started|done|cached|failed|skipped|cancelled", "time": 1700000000.0,
   "seconds": 1.25, "targets": ["api"], "emulated": false}`` (a failed step adds ``error`` and, when it
   is a Dockerfile instruction, ``source``: ``{"filename": "api/Dockerfile", "line": 4}``)

``{"type": "log", "id": 3, "stream": "stdout|stderr", "data": "...", "time": ...}``

``{"type": "summary", "targets": {"api": {"state": "done", "seconds": 3.2, "emulated_seconds": 0.0}},
   "seconds": 4.0, "time": ...}`` (``emulated_seconds``: time in this target's RUN steps that ran under QEMU)

A vertex's ``name`` is the graph's label (:func:`vertex_name`): the Dockerfile frontend's
``[<platform> <stage> n/m] RUN ...`` (the platform only when the target builds several) or
``[internal] load ...``, with buildx bake's target prefix (``[api linux/arm64 build 2/3]``)
when the run builds more than one target. A step several targets share shows the first one's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

VertexState = Literal["started", "done", "cached", "failed", "skipped", "cancelled"]


@dataclass(frozen=True)
class Source:
    """Where a step comes from: line ``line`` of the Dockerfile ``filename`` (as shown), whose text is ``text``."""

    filename: str
    line: int
    text: str = field(repr=False, default="")


@dataclass(frozen=True)
class Vertex:
    """A step changed state (``seconds`` once it ended, ``error`` when it failed)."""

    id: int
    name: str
    state: VertexState
    digest: str = ""
    targets: tuple[str, ...] = ()
    emulated: bool = False
    seconds: float | None = None
    error: str | None = None
    time: float = field(default_factory=time.time)
    inputs: tuple[str, ...] = ()  # digests of the steps this one reads
    source: Source | None = None  # set on failures of Dockerfile instructions

    def as_dict(self) -> dict[str, object]:
        """The event as ``--progress=bakec-json`` prints it."""
        data: dict[str, object] = {
            "type": "vertex",
            "id": self.id,
            "digest": self.digest,
            "name": self.name,
            "state": self.state,
            "targets": list(self.targets),
            "emulated": self.emulated,
            "time": self.time,
        }
        if self.seconds is not None:
            data["seconds"] = self.seconds
        if self.error is not None:
            data["error"] = self.error
        if self.source is not None:
            data["source"] = {"filename": self.source.filename, "line": self.source.line}
        return data


@dataclass(frozen=True)
class Log:
    """Output a step's process wrote (``stream``: ``stdout`` or ``stderr``)."""

    id: int
    stream: Literal["stdout", "stderr"]
    data: str
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        """The event as ``--progress=bakec-json`` prints it."""
        return {"type": "log", "id": self.id, "stream": self.stream, "data": self.data, "time": self.time}


@dataclass(frozen=True)
class TargetSummary:
    """How one target ended and how long it took (of which ``emulated_seconds`` under QEMU)."""

    state: str
    seconds: float
    emulated_seconds: float = 0.0


@dataclass(frozen=True)
class Summary:
    """The run ended: each target's result, and the whole run's time."""

    targets: Mapping[str, TargetSummary]
    seconds: float
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        """The event as ``--progress=bakec-json`` prints it."""
        return {
            "type": "summary",
            "targets": {
                name: {"state": t.state, "seconds": t.seconds, "emulated_seconds": t.emulated_seconds}
                for name, t in self.targets.items()
            },
            "seconds": self.seconds,
            "time": self.time,
        }


Event = Vertex | Log | Summary


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
