#!/usr/bin/env python3
"""Wall-clock times of ``bakec build`` on the build workloads of ``bench/gen_workloads.py``.

Usage: python bench/build_workloads.py [--runs N] [--keep] [chain|monorepo|bigctx|bigimage ...]

Generates the workloads into a temp dir, builds them with the ``bakec`` CLI as a user does
(a subprocess per build, interpreter start included) on a private state dir (its own
embedded containerd, stopped at the end) and prints medians:

  chain     per-RUN overhead: a cold build of the 30-RUN chain minus a cold build of the same
            target with no RUN (same base, same local export), divided by 30. "Cold" means the
            RUN steps miss the cache: every round writes the steps with a fresh nonce.
  monorepo  cold (a nonce in base's RUN invalidates all 25 targets) and warm (nothing changed:
            every op cached, the 24 OCI tarballs written again).
  bigctx    no-op rebuild of the 20,000-file context with ``--set *.output=type=cacheonly``,
            and the same with its ``type=local`` export.
  bigimage  cold build (a nonce in the RUN) of the 256 MiB + 15 MB layer, OCI tarball export.

Goals on a 2-core machine (BuildKit's times in brackets): per-RUN <= 70 ms [65 ms],
no-op <= 0.25 s [0.48 s], no-op + local export <= 2 s [6 s], warm monorepo <= 0.7 s [1.4 s],
bigimage cold <= 3.5 s [4.3 s].
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
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = Path(__file__).resolve().parent / "gen_workloads.py"
BASE = "127.0.0.1:5000/busybox:latest"
GOALS = {  # name -> (goal seconds, BuildKit seconds)
    "per-RUN overhead": (0.070, 0.065),
    "monorepo warm": (0.7, 1.4),
    "bigctx no-op (cacheonly)": (0.25, 0.48),
    "bigctx no-op + local export": (2.0, 6.0),
    "bigimage cold": (3.5, 4.3),
}


class Bench:
    """Runs the CLI on one private state dir and collects timings."""

    def __init__(self, state: Path, runs: int) -> None:
        self.state = state
        self.runs = runs
        exe = shutil.which("bakec")
        self.cmd = [exe] if exe else [sys.executable, "-m", "bakec.cli.main"]
        self.env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's bakec runs from cached bytecode
        self.results: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        # CPU seconds (user + system) of each build, the children it waited for included
        self._cpu: list[float] = []

    def build(self, cwd: Path, *args: str) -> float:
        """One ``bakec build`` in ``cwd``; its wall-clock seconds. Fails loudly on a build error."""
        cmd = self.cmd + ["build", "--progress", "quiet", "--state-dir", str(self.state), *args]
        with tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                raise SystemExit(f"{' '.join(cmd)} (in {cwd}) failed:\n{err.read().decode()[-3000:]}")
        self._cpu.append(usage.ru_utime + usage.ru_stime)
        return elapsed

    def repeat(self, name: str, once: Callable[[], float]) -> list[float]:
        self._cpu = []
        times = [once() for _ in range(self.runs)]
        self.results[name] = times
        self.cpu[name] = self._cpu
        print(
            f"  {name:<30} median {statistics.median(times):7.3f} s  min {min(times):7.3f} s  "
            f"CPU median {statistics.median(self._cpu):6.3f} s  (n={len(times)})",
            flush=True,
        )
        return times

    def stop(self) -> None:
        subprocess.run(
            self.cmd + ["daemon", "stop", "--state-dir", str(self.state)],
            env=self.env,
            check=False,
            capture_output=True,
        )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def bench_chain(bench: Bench, root: Path) -> None:
    chain = root / "chain"
    empty = root / "chain0"
    _write(empty / "docker-bake.hcl", (chain / "docker-bake.hcl").read_text())
    _write(empty / "Dockerfile", f"FROM {BASE}\n")
    bench.build(empty)  # pulls the base and starts the daemon

    def cold_chain() -> float:
        nonce = uuid.uuid4().hex[:12]
        steps = "".join(f"RUN echo step{i}-{nonce} > /s{i}\n" for i in range(30))
        _write(chain / "Dockerfile", f"FROM {BASE}\n{steps}")
        return bench.build(chain)

    def cold_empty() -> float:
        # the same fixed costs (CLI, daemon, base, export of the same tree) without the RUNs
        return bench.build(empty)

    chains = bench.repeat("chain cold (30 RUN)", cold_chain)
    bases = bench.repeat("chain baseline (0 RUN)", cold_empty)
    per_run = (statistics.median(chains) - statistics.median(bases)) / 30
    bench.results["per-RUN overhead"] = [per_run]
    cpu = (
        statistics.median(bench.cpu["chain cold (30 RUN)"])
        - statistics.median(bench.cpu["chain baseline (0 RUN)"])
    ) / 30
    print(
        f"  {'per-RUN overhead':<30} {per_run * 1000:7.1f} ms  (CPU {cpu * 1000:.1f} ms; difference of the medians / 30)",
        flush=True,
    )


def _cold(bench: Bench, work: Path, dockerfile: Path, old: str, new: str, *args: str) -> Callable[[], float]:
    """A build of ``work`` (with ``args``) whose RUN misses the cache: ``old`` in ``dockerfile``
    becomes ``new`` with ``{nonce}`` replaced by a fresh nonce each time."""
    original = dockerfile.read_text()

    def cold() -> float:
        dockerfile.write_text(original.replace(old, new.format(nonce=uuid.uuid4().hex[:12])))
        return bench.build(work, *args)

    return cold


def bench_monorepo(bench: Bench, root: Path) -> None:
    work = root / "monorepo"
    bench.repeat(
        "monorepo cold",
        _cold(bench, work, work / "base" / "Dockerfile", "echo base-ready", "echo base-ready-{nonce}"),
    )
    bench.repeat("monorepo warm", lambda: bench.build(work))
    tarballs = sorted((work / "out").glob("*.tar"))
    assert len(tarballs) == 24, tarballs
    # the same cold build with an SBOM in each of the 24 OCI tarballs
    dockerfile = work / "base" / "Dockerfile"
    bench.repeat(
        "monorepo cold --sbom=true",
        _cold(bench, work, dockerfile, "echo base-ready", "echo base-ready-{nonce}", "--sbom=true"),
    )


def bench_bigctx(bench: Bench, root: Path) -> None:
    work = root / "bigctx"
    bench.build(work)  # the cold build
    bench.repeat("bigctx no-op (cacheonly)", lambda: bench.build(work, "--set", "*.output=type=cacheonly"))
    bench.repeat("bigctx no-op + local export", lambda: bench.build(work))
    assert (work / "out" / "app" / "pkg099" / "file199.py").is_file()


def bench_bigimage(bench: Bench, root: Path) -> None:
    work = root / "bigimage"
    bench.repeat(
        "bigimage cold",
        _cold(bench, work, work / "Dockerfile", "busybox seq", "echo {nonce} >/nonce && busybox seq"),
    )


BENCHES = {
    "chain": bench_chain,
    "monorepo": bench_monorepo,
    "bigctx": bench_bigctx,
    "bigimage": bench_bigimage,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (workloads and state)")
    parser.add_argument("workloads", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    args = parser.parse_args()
    chosen = args.workloads or list(BENCHES)
    unknown = sorted(set(chosen) - set(BENCHES))
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r} (choose from {', '.join(BENCHES)})")
    tmp = Path(tempfile.mkdtemp(prefix="bkb", dir="/tmp"))  # short: containerd socket paths
    bench = Bench(tmp / "s", args.runs)
    try:
        subprocess.run(
            [sys.executable, str(GEN), str(tmp / "w"), "--base", BASE, "--apps", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"command: {' '.join(bench.cmd)} build ...  (state dir {bench.state})", flush=True)
        for name in chosen:
            print(f"{name}:", flush=True)
            BENCHES[name](bench, tmp / "w")
    finally:
        bench.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\ngoals:")
    for name, (goal, buildkit) in GOALS.items():
        if name in bench.results:
            median = statistics.median(bench.results[name])
            verdict = "met" if median <= goal else "NOT met"
            print(f"  {name:<30} {median:7.3f} s  goal {goal} s  (BuildKit {buildkit} s)  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
