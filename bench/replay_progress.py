#!/usr/bin/env python3
"""The CPU a ``--progress`` renderer costs: replay a run's events with their timing through it.

Usage: replay_progress.py MODE EVENTS OUT — EVENTS is the stderr of ``bakec build
--progress bakec-json``; the renderer of MODE (run it in a terminal for ``tty``) gets the same
events at the same pace, and OUT receives ``MODE <cpu seconds> wall=<seconds>``: the process CPU
(every thread, rich's refresh thread included) from creating the renderer to the last event.
"""

from __future__ import annotations

import json
import sys
import time

from bakec.progress.events import Event, Log, Summary, TargetSummary, Vertex
from bakec.progress.render import renderer
from bakec.progress.reporter import Progress


def load(path: str) -> list[Event]:
    """The events of a ``--progress bakec-json`` log."""
    out: list[Event] = []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        if e["type"] == "vertex":
            out.append(
                Vertex(
                    e["id"],
                    e["name"],
                    e["state"],
                    e["digest"],
                    tuple(e["targets"]),
                    e["emulated"],
                    e.get("seconds"),
                    e.get("error"),
                    e["time"],
                )
            )
        elif e["type"] == "log":
            out.append(Log(e["id"], e["stream"], e["data"], e["time"]))
        else:
            targets = {name: TargetSummary(**t) for name, t in e["targets"].items()}
            out.append(Summary(targets, e["seconds"], e["time"]))
    return out


def main() -> None:
    mode, path, out = sys.argv[1:4]
    events = load(path)
    cpu = time.process_time()
    progress = Progress(renderer(mode, sys.stderr))
    start, first = time.monotonic(), events[0].time
    for event in events:
        delay = (event.time - first) - (time.monotonic() - start)
        if delay > 0:
            time.sleep(delay)
        progress.emit(event)
    used = time.process_time() - cpu
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"{mode} {used:.4f} wall={time.monotonic() - start:.2f}\n")


if __name__ == "__main__":
    main()
