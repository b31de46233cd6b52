#!/usr/bin/env python3
"""`bakec plan --shards 8` wall and CPU time on the matrix2k workload (2,000 targets).

Usage: bench/plan_fleet.py [--runs N] [--apps 50] [--shards 8]
The workload comes from bench/gen_workloads.py (`matrix2k`, apps x 5 OS x 8 arch). The CLI runs
as a user runs it (interpreter start included), base images pinned offline, the stat cache warm
after the first run. CPU is user + sys of the child, which a loaded machine does not inflate.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GEN = Path(__file__).resolve().parent / "gen_workloads.py"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--shards", type=int, default=8)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("gen_workloads", GEN)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "matrix2k"
        gen.matrix2k(str(root), args.apps)
        env = dict(os.environ, XDG_CACHE_HOME=str(Path(tmp) / "cache"))
        cmd = [sys.executable, "-m", "bakec.cli.main", "plan", "--shards", str(args.shards)]
        cmd += ["--cache-repo", "127.0.0.1:5000/fleet", "--resolve", "offline"]
        walls, cpus = [], []
        for _ in range(args.runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        load = os.getloadavg()[0]
        print(
            f"targets={args.apps * 40} shards={args.shards} wall median {statistics.median(walls):.2f} s "
            f"min {min(walls):.2f} s; cpu median {statistics.median(cpus):.2f} s min {min(cpus):.2f} s; "
            f"load {load:.1f}"
        )


if __name__ == "__main__":
    main()
