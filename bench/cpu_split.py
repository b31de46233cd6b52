#!/usr/bin/env python3
"""Where the CPU of one ``bakec build`` goes: the RUN commands, runc, containerd, bakec's own Python.

Usage: python bench/cpu_split.py [--runs N] [--workload cpumono] [--cold | --incremental]

Generates the workload (``bench/gen_workloads.py``), builds it once to pull the base and start the
embedded containerd, then ``--runs`` times: (``--cold``: ``bakec prune --all`` first; ``--incremental``:
a line appended to ``services/svc0/src/f000.txt`` first) one ``bakec build --progress bakec-json`` in
a process that reports its own rusage and its children's at exit. Printed per run:

- ``RUN``: the RUN commands' own CPU, from their cgroups (``/sys/fs/cgroup/cpuacct/bakec-*``,
  sampled every 5 ms until runc removes them);
- ``children``: every process bakec waited for (runc, the RUN commands, mount helpers) -- minus
  ``RUN``, that is runc and the other helpers;
- ``containerd``: the embedded daemon's CPU during the build;
- ``bakec``: the bakec process itself (interpreter, imports, hashing, tar, compression, gRPC);
- ``wall``: the build's wall time, and the op timeline's summary (how long 0, 1, 2+ ops ran at once).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_buildkit import BASE, GEN, REPO, RunCgroups, _proc_cpu  # noqa: E402

WRAPPER = """
import atexit, json, resource, sys
def report():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(REPORT, "w") as f:
        json.dump({"self": me.ru_utime + me.ru_stime, "children": kids.ru_utime + kids.ru_stime}, f)
REPORT = sys.argv.pop(1)
atexit.register(report)
sys.argv[0] = "bakec"
from bakec.cli.main import main
sys.exit(main())
"""


def concurrency(events: Path) -> dict[int, float]:
    """Seconds during which 0, 1, 2, ... ops were running (from the bakec-json vertex events)."""
    changes: list[tuple[float, int]] = []
    for line in events.read_text().splitlines():
        if not line.startswith("{"):
            continue
        e = json.loads(line)
        if e.get("type") != "vertex":
            continue
        if e["state"] == "started":
            changes.append((e["time"], 1))
        elif e["state"] in ("done", "failed") and e.get("seconds") is not None:
            changes.append((e["time"], -1))
    changes.sort()
    spent: dict[int, float] = {}
    running = 0
    for (t, delta), (t_next, _) in zip(changes, changes[1:] + changes[-1:], strict=True):
        running += delta
        spent[running] = spent.get(running, 0.0) + (t_next - t)
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workload", default="cpumono")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cold", action="store_true")
    mode.add_argument("--incremental", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bkc", dir="/tmp"))
    state = tmp / "s"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    bakec = [sys.executable, "-m", "bakec.cli.main"]
    try:
        subprocess.run(
            [sys.executable, str(GEN), str(tmp / "w"), "--base", BASE, "--apps", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        work = tmp / "w" / args.workload
        subprocess.run(
            [*bakec, "build", "--progress", "quiet", "--state-dir", str(state)], cwd=work, env=env, check=True
        )
        for i in range(args.runs):
            if args.cold:
                subprocess.run(
                    [*bakec, "prune", "--all", "--state-dir", str(state)],
                    env=env,
                    check=True,
                    capture_output=True,
                )
            if args.incremental:
                with open(work / "services" / "svc0" / "src" / "f000.txt", "a") as f:
                    f.write(f"edit {i} {time.time()}\n")
            report, events = tmp / "report.json", tmp / "events.jsonl"
            pid_file = state / "containerd" / "pid"
            daemon = int(pid_file.read_text()) if pid_file.exists() else 0
            daemon_before = _proc_cpu(daemon) if daemon else 0.0
            started = time.perf_counter()
            with RunCgroups() as runs, open(events, "w") as err:
                cmd = [sys.executable, "-c", WRAPPER, str(report), "build", "--progress", "bakec-json"]
                proc = subprocess.Popen(
                    [*cmd, "--state-dir", str(state)],
                    cwd=work,
                    env=env,
                    stderr=err,
                    stdout=subprocess.DEVNULL,
                )
                runs.pid = proc.pid
                if proc.wait() != 0:
                    raise SystemExit(f"build failed: see {events}")
            wall = time.perf_counter() - started
            if not daemon and pid_file.exists():
                daemon = int(pid_file.read_text())
            cpu = json.loads(report.read_text())
            containerd = (_proc_cpu(daemon) - daemon_before) if daemon else 0.0
            spans = concurrency(events)
            print(
                f"wall {wall:6.2f} s  RUN {runs.seconds:6.2f}  runc+helpers {cpu['children'] - runs.seconds:5.2f}  "
                f"containerd {containerd:5.2f}  bakec {cpu['self']:5.2f} CPU-s  "
                f"ops at once: {', '.join(f'{k}: {v:.1f} s' for k, v in sorted(spans.items()))}  "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        subprocess.run(
            [*bakec, "daemon", "stop", "--state-dir", str(state)], env=env, check=False, capture_output=True
        )
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
