#!/usr/bin/env python3
"""The physical floor of a cold (or incremental) ``cpumono`` build: its RUN commands run on the host.

Usage: python bench/cpumono_floor.py [--runs N] [--incremental]

Generates ``cpumono`` with ``bench/gen_workloads.py`` and runs each RUN command of its graph with the
host's busybox in a chroot holding only ``/bin/busybox`` and what the COPY steps put there (no
container, no layers, no cache), one command at a time, in dependency order:
toolbase's RUN, the 8 ``deps`` RUNs, then per image the two ``build`` RUNs. Each command's CPU time
(user + system of it and its children) and wall time are kept (the minimum over ``--runs``, the least
disturbed on a shared machine). ``--incremental`` counts only what an edit of svc0's sources re-runs
(svc0's two channels' build stages).

Printed: the summed CPU time, that divided by 2 cores, the critical path (the longest chain of
dependent commands, each taking its wall time or, if less, its CPU time: above that
it waited for a core another user held), the export of the final images (per image: a
gzipped tar of the three files the last stage copies, then an OCI tarball), and the floor =
max(CPU / 2, critical path) + export.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GEN = Path(__file__).resolve().parent / "gen_workloads.py"
CORES = 2
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def _runs(dockerfile: str) -> list[str]:
    return re.findall(r"^RUN (.*)$", dockerfile, re.M)


def timed(root: Path, script: str, env: dict[str, str], runs: int) -> tuple[float, float]:
    """(CPU s, wall s) of ``sh -c script`` in a chroot at ``root``: the minimum of ``runs`` tries."""
    best_cpu = best_wall = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen(
            [CHROOT, str(root), "/bin/busybox", "sh", "-c", script],
            env={"PATH": "/bin", **env},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed in {root}: {script}")
        best_cpu = min(best_cpu, usage.ru_utime + usage.ru_stime)
        best_wall = min(best_wall, wall)
    # a command alone on an idle machine takes at most its CPU time (its pipelines overlap): a wall
    # time above that is waiting for a core on a shared machine
    return best_cpu, min(best_wall, best_cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--incremental", action="store_true")
    args = parser.parse_args()
    busybox = shutil.which("busybox")
    if busybox is None:
        raise SystemExit("needs a static busybox on the host (apt-get install busybox-static)")
    tmp = Path(tempfile.mkdtemp(prefix="floor"))
    try:
        subprocess.run(
            [sys.executable, str(GEN), str(tmp / "w"), "--apps", "1"], check=True, stdout=subprocess.DEVNULL
        )
        work = tmp / "w" / "cpumono"
        base = tmp / "base"
        (base / "bin").mkdir(parents=True)
        shutil.copy2(busybox, base / "bin" / "busybox")
        cpu_total = 0.0
        # toolbase
        (tool_run,) = _runs((work / "toolbase" / "Dockerfile").read_text())
        tool_cpu, tool_wall = timed(base, tool_run, {}, args.runs)
        if not args.incremental:
            cpu_total += tool_cpu
            print(f"toolbase            CPU {tool_cpu:6.2f} s  wall {tool_wall:6.2f} s", flush=True)
        longest = 0.0
        export = 0.0
        for n in range(8):
            svc = work / "services" / f"svc{n}"
            deps_run, build_run, manifest_run = _runs((svc / "Dockerfile").read_text())
            deps = tmp / f"deps{n}"
            shutil.copytree(base, deps, symlinks=True)
            (deps / "deps").mkdir()
            shutil.copy2(svc / "deps.txt", deps / "deps" / "deps.txt")
            deps_cpu, deps_wall = timed(deps, deps_run, {}, args.runs)
            if not args.incremental:
                cpu_total += deps_cpu
                print(f"svc{n} deps           CPU {deps_cpu:6.2f} s  wall {deps_wall:6.2f} s", flush=True)
            for channel in ("stable", "edge"):
                build = tmp / f"build{n}{channel}"
                shutil.copytree(deps, build, symlinks=True)
                shutil.copytree(svc / "src", build / "src")
                env = {"CHANNEL": channel}
                b_cpu, b_wall = timed(build, build_run, env, args.runs)
                m_cpu, m_wall = timed(build, manifest_run, env, args.runs)
                if args.incremental and n != 0:
                    continue
                cpu_total += b_cpu + m_cpu
                path = b_wall + m_wall + (0 if args.incremental else tool_wall + deps_wall)
                longest = max(longest, path)
                print(
                    f"svc{n} {channel:<6} build  CPU {b_cpu:6.2f} s  wall {b_wall:6.2f} s; "
                    f"manifest CPU {m_cpu:5.2f} s  wall {m_wall:5.2f} s",
                    flush=True,
                )
                started = time.perf_counter()  # the final image's new layer, gzipped, in a tarball
                files = ["bundle.gz", "channel", "manifest.md5"]
                layer = tmp / f"layer{n}{channel}.tar.gz"
                subprocess.run(
                    f"tar -C {build} -c {' '.join(files)} | gzip -6 > {layer}", shell=True, check=True
                )
                subprocess.run(
                    ["tar", "-cf", str(tmp / f"oci{n}{channel}.tar"), "-C", str(tmp), layer.name], check=True
                )
                export += time.perf_counter() - started
        floor = max(cpu_total / CORES, longest) + export
        what = "incremental (svc0's build stages)" if args.incremental else "cold"
        print(
            f"\n{what}: RUN CPU {cpu_total:.2f} s; / {CORES} cores {cpu_total / CORES:.2f} s; critical path "
            f"{longest:.2f} s; export {export:.2f} s; floor {floor:.2f} s  (load {os.getloadavg()[0]:.1f})"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
