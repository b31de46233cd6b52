"""The CPU a ``--progress`` renderer costs: replay a run's events with their timing through it.

Usage: replay_progress.py MODE EVENTS OUT — EVENTS is the stderr of ``bakec build
--progress bakec-json``; the renderer of MODE (run it in a terminal for ``tty``) gets the same
events at the same pace, and OUT receives ``MODE <cpu seconds> wall=<seconds>``: the process CPU
(every thread, rich's refresh thread included) from creating the renderer to the last event.
"""

import json, sys, time

t0 = time.process_time()
from bakec.progress.events import Log, Summary, TargetSummary, Vertex
from bakec.progress.render import renderer
from bakec.progress.reporter import Progress

mode, path, out = sys.argv[1:4]
raw = [json.loads(line) for line in open(path) if line.startswith("{")]
events = []
for e in raw:
    if e["type"] == "vertex":
        events.append(
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
        events.append(Log(e["id"], e["stream"], e["data"], e["time"]))
    else:
        events.append(
            Summary({k: TargetSummary(**v) for k, v in e["targets"].items()}, e["seconds"], e["time"])
        )
setup = time.process_time() - t0
cpu = time.process_time()
progress = Progress(renderer(mode, sys.stderr))
start, first = time.monotonic(), raw[0]["time"]
for e, d in zip(events, raw):
    delay = (d["time"] - first) - (time.monotonic() - start)
    if delay > 0:
        time.sleep(delay)
    progress.emit(e)
used = time.process_time() - cpu
open(out, "w").write(f"{mode} {used:.4f} wall={time.monotonic() - start:.2f}\n")
