#!/usr/bin/env python3
"""`bakec build --print` wall time and peak RSS on the matrix workload (1,000 / 2,000 / 4,000 targets).

Usage: bench/print_scaling.py [--runs N] [--apps 25 50 100]
Generates each workload with bench/gen_workloads.py into a temp dir,
runs the CLI as a user would (interpreter start included) N times, and prints
the median wall-clock time and the peak RSS of each size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = Path(__file__).resolve().parent / "gen_workloads.py"


def bakec_command() -> list[str]:
    exe = shutil.which("bakec")
    return [exe] if exe else [sys.executable, "-m", "bakec.cli.main"]


def run_once(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, rusage = os.wait4(proc.pid, 0)[1:]
    elapsed = time.perf_counter() - start
    if proc.stderr is not None:
        err = proc.stderr.read().decode()
        proc.stderr.close()
    else:
        err = ""
    if rusage is None:
        raise RuntimeError("no rusage")
    return elapsed, rusage.ru_maxrss, err


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", type=int, nargs="*", default=[25, 50, 100])
    args = parser.parse_args()
    cmd = bakec_command() + ["build", "--print"]
    print(f"command: {' '.join(cmd)}")
    print(f"{'targets':>8} {'median s':>9} {'min s':>7} {'peak RSS MB':>12}")
    for apps in args.apps:
        with tempfile.TemporaryDirectory(prefix="bakec-bench-") as tmp:
            subprocess.run(
                [sys.executable, str(GEN), tmp, "--apps", str(apps)], check=True, stdout=subprocess.DEVNULL
            )
            workdir = Path(tmp) / "matrix2k"
            times, peaks = [], []
            for _ in range(args.runs):
                elapsed, peak_kb, err = run_once(cmd, workdir)
                if err:
                    print(err, file=sys.stderr)
                    return 1
                times.append(elapsed)
                peaks.append(peak_kb)
            print(
                f"{apps * 40:>8} {statistics.median(times):>9.3f} {min(times):>7.3f} {max(peaks) / 1024:>12.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
