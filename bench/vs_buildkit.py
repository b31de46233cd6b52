#!/usr/bin/env python3
"""bakec against ``docker buildx bake`` + BuildKit, alternating, in one run; prints the ratios.

Usage: python bench/vs_buildkit.py [--runs N] [--ref DIR] [--baseline SRC] [--run-cpu] [CASE ...]

CASE is any of (default: all)

  cpumono-cold         16 images whose RUNs do CPU work; both caches pruned (``prune --all``) before each build
  cpumono-warm         the same, nothing changed: every op cached, the 16 OCI tarballs written again
  cpumono-incremental  a line appended to services/svc0/src/f000.txt before each build
  monorepo-cold        the 25-target monorepo, both caches pruned before each build
  monorepo-warm        the same, nothing changed
  chain-cold           30 RUNs, each with a fresh nonce every round (per-RUN overhead)
  bigctx-noop          the 20,000-file context unchanged, ``--set *.output=type=cacheonly``

The workloads come from ``bench/gen_workloads.py`` (base ``127.0.0.1:5000/busybox:latest``); each
tool builds its own copy of them. A round runs both tools once, alternating which goes first; the
ratio printed is the median of the per-round ratios bakec / BuildKit (so it can differ from the
ratio of the medians). Both run as users run them: ``bakec build --progress quiet`` on a private
state dir (its embedded containerd stopped at the end) and ``buildx bake --progress quiet`` on the
remote builder of ``/work/shared/bench/reference.md`` (``--ref``, default ``/work/ref``: its
``bin/`` and a running ``buildkitd`` on ``bk/buildkitd.sock``). Without the reference the BuildKit
column is skipped with a message.

CPU columns: bakec's is user + system of the CLI, the runc processes and RUN commands it waited for,
and its containerd; BuildKit's is the ``buildx`` CLI plus buildkitd (and the runc children it
waited for). ``--baseline SRC`` adds a third builder in the same rounds: bakec run from another
source tree (``SRC`` holds the ``bakec`` package, e.g. ``git archive OLD src | tar -x``), on a state
dir of its own, to compare a change with what it changes. ``--run-cpu`` also samples the RUN commands' own cgroups (cpuacct, every 5 ms, the last
value seen before runc removes them) for bakec.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = Path(__file__).resolve().parent / "gen_workloads.py"
BASE = "127.0.0.1:5000/busybox:latest"
CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def _proc_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and the children it waited for (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _find_pid(needle: bytes) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and not cmdline.startswith(sys.executable.encode()):
            return int(entry)
    return None


class RunCgroups:
    """Sums the CPU time of one bakec build's RUN cgroups, sampled until runc removes each.

    Set :attr:`pid` to the build's pid once it runs: its containers (and so their cgroups) are
    named ``bakec-<pid>-...``; other builds on the machine have cgroups of their own.
    """

    def __init__(self) -> None:
        self.pid = 0
        self.seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            if not self.pid:
                continue
            for path in glob.glob(str(CPUACCT / f"bakec-{self.pid}-*" / "cpuacct.usage")):
                try:
                    value = int(Path(path).read_text())
                except (OSError, ValueError):
                    continue
                if value > self.seen.get(path, 0):
                    self.seen[path] = value

    def __enter__(self) -> RunCgroups:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values()) / 1e9


class Tool:
    """One builder: how to build a workload dir, and how to empty its cache."""

    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work  # this tool's copy of the workloads
        self.env = dict(os.environ)

    def command(self, *args: str) -> list[str]:
        raise NotImplementedError

    def daemon_cpu(self) -> float:
        return 0.0

    def prune(self) -> None:
        raise NotImplementedError

    def build(self, workload: str, *args: str, runs: RunCgroups | None = None) -> tuple[float, float]:
        """One build in ``workload``: (wall seconds, CPU seconds). Fails loudly on a build error."""
        cmd = self.command(*args)
        cwd = self.work / workload
        daemon_before = self.daemon_cpu()
        with tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=err)
            if runs is not None:
                runs.pid = proc.pid
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.perf_counter() - started
            if os.waitstatus_to_exitcode(status) != 0:
                err.seek(0)
                raise SystemExit(f"{' '.join(cmd)} (in {cwd}) failed:\n{err.read().decode()[-3000:]}")
        cpu = usage.ru_utime + usage.ru_stime + self.daemon_cpu() - daemon_before
        return elapsed, cpu


class Bakec(Tool):
    name = "bakec"

    def __init__(self, work: Path, state: Path, src: Path = REPO / "src", name: str = "bakec") -> None:
        super().__init__(work)
        exe = shutil.which("bakec")
        self.cmd = [exe] if exe else [sys.executable, "-m", "bakec.cli.main"]
        self.state = state
        self.name = name
        self.env["PYTHONPATH"] = str(src)
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's bakec runs from cached bytecode

    def command(self, *args: str) -> list[str]:
        return [*self.cmd, "build", "--progress", "quiet", "--state-dir", str(self.state), *args]

    def daemon_cpu(self) -> float:
        try:
            return _proc_cpu(int((self.state / "containerd" / "pid").read_text()))
        except (OSError, ValueError):
            return 0.0

    def prune(self) -> None:
        subprocess.run(
            [*self.cmd, "prune", "--all", "--state-dir", str(self.state)],
            env=self.env,
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.cmd, "daemon", "stop", "--state-dir", str(self.state)],
            env=self.env,
            check=False,
            capture_output=True,
        )


class BuildKit(Tool):
    name = "BuildKit"

    def __init__(self, work: Path, ref: Path) -> None:
        super().__init__(work)
        self.ref = ref
        self.sock = f"unix://{ref}/bk/buildkitd.sock"
        self.env["DOCKER_CONFIG"] = str(ref / "bk" / "dockercfg")
        self.env["BUILDX_BUILDER"] = "bk"
        self.pid = _find_pid(f"{ref}/bk/buildkitd.sock".encode())

    @classmethod
    def available(cls, ref: Path) -> str:
        """Why the reference cannot run ("" when it can)."""
        for exe in ("buildx", "buildkitd", "buildctl"):
            if not (ref / "bin" / exe).is_file():
                return f"{ref / 'bin' / exe} is missing"
        if _find_pid(f"{ref}/bk/buildkitd.sock".encode()) is None:
            return f"no buildkitd running on {ref}/bk/buildkitd.sock"
        return ""

    def command(self, *args: str) -> list[str]:
        return [str(self.ref / "bin" / "buildx"), "bake", "--progress", "quiet", *args]

    def daemon_cpu(self) -> float:
        return _proc_cpu(self.pid) if self.pid else 0.0

    def prune(self) -> None:
        subprocess.run(
            [str(self.ref / "bin" / "buildctl"), "--addr", self.sock, "prune", "--all"],
            check=True,
            capture_output=True,
        )


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def _rewrite(path: Path, text: str) -> None:
    path.write_text(text)


Case = tuple[str, Callable[[Tool, str], None] | None, tuple[str, ...], bool]
"""(workload dir, what to do before each build given (tool, round nonce), build args, prune first)."""


def _chain_nonce(tool: Tool, nonce: str) -> None:
    steps = "".join(f"RUN echo step{i}-{nonce} > /s{i}\n" for i in range(30))
    _rewrite(tool.work / "chain" / "Dockerfile", f"FROM {BASE}\n{steps}")


def _edit_svc0(tool: Tool, nonce: str) -> None:
    _append(tool.work / "cpumono" / "services" / "svc0" / "src" / "f000.txt", f"svc0 edit {nonce}\n")


CASES: dict[str, Case] = {
    "cpumono-cold": ("cpumono", None, (), True),
    "cpumono-warm": ("cpumono", None, (), False),
    "cpumono-incremental": ("cpumono", _edit_svc0, (), False),
    "monorepo-cold": ("monorepo", None, (), True),
    "monorepo-warm": ("monorepo", None, (), False),
    "chain-cold": ("chain", _chain_nonce, (), False),
    "bigctx-noop": ("bigctx", None, ("--set", "*.output=type=cacheonly"), False),
}


def run_case(name: str, tools: list[Tool], runs: int, run_cpu: bool) -> dict[str, object]:
    workload, before, args, prune = CASES[name]
    for tool in tools:  # warm up: pulls the base, starts the daemons, fills the caches
        if before is not None:
            before(tool, "warmup")
        tool.build(workload, *args)
    walls: dict[str, list[float]] = {t.name: [] for t in tools}
    cpus: dict[str, list[float]] = {t.name: [] for t in tools}
    runs_cpu: list[float] = []
    ratios: dict[str, list[float]] = {}
    for i in range(runs):
        nonce = uuid.uuid4().hex[:12]
        order = tools if i % 2 == 0 else tools[::-1]
        for tool in order:
            if prune:
                tool.prune()
            if before is not None:
                before(tool, nonce)
            if run_cpu and isinstance(tool, Bakec):
                with RunCgroups() as sampler:
                    wall, cpu = tool.build(workload, *args, runs=sampler)
                runs_cpu.append(sampler.seconds)
            else:
                wall, cpu = tool.build(workload, *args)
            walls[tool.name].append(wall)
            cpus[tool.name].append(cpu)
        if "BuildKit" in walls:
            for tool in tools:
                if tool.name != "BuildKit":
                    ratios.setdefault(tool.name, []).append(walls[tool.name][-1] / walls["BuildKit"][-1])
    load = os.getloadavg()[0]
    line = f"  {name:<20}"
    for tool in tools:
        line += (
            f"  {tool.name} {statistics.median(walls[tool.name]):6.2f} s"
            f" (CPU {statistics.median(cpus[tool.name]):5.2f} s)"
        )
    for who, pairs in ratios.items():
        line += f"  {who}/BuildKit {statistics.median(pairs):.2f}x ({', '.join(f'{r:.2f}' for r in pairs)})"
    if runs_cpu:
        line += f"  RUN cgroups {statistics.median(runs_cpu):5.2f} CPU-s"
    print(line + f"  load {load:.1f}  n={runs}", flush=True)
    return {"walls": walls, "cpus": cpus, "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ref", type=Path, default=Path("/work/ref"), help="the reference's directory")
    parser.add_argument(
        "--run-cpu", action="store_true", help="sample bakec's RUN cgroups (cgroup v1 cpuacct)"
    )
    parser.add_argument("--baseline", type=Path, help="also run bakec from this source tree (its src dir)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (workloads and state)")
    parser.add_argument("cases", nargs="*", help=f"any of {', '.join(CASES)} (default: all)")
    args = parser.parse_args()
    chosen = args.cases or list(CASES)
    unknown = sorted(set(chosen) - set(CASES))
    if unknown:
        parser.error(f"unknown case {unknown[0]!r} (choose from {', '.join(CASES)})")
    tmp = Path(tempfile.mkdtemp(prefix="bkv", dir="/tmp"))  # short: containerd socket paths
    for sub in ("bakec", "buildkit", "baseline"):
        subprocess.run(
            [sys.executable, str(GEN), str(tmp / sub), "--base", BASE, "--apps", "1"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    bakec = Bakec(tmp / "bakec", tmp / "s")
    tools: list[Tool] = [bakec]
    if args.baseline:
        tools.append(Bakec(tmp / "baseline", tmp / "sb", args.baseline.resolve(), "baseline"))
    why_not = BuildKit.available(args.ref)
    if why_not:
        print(f"BuildKit column skipped: {why_not} (see /work/shared/bench/reference.md)", flush=True)
    else:
        tools.append(BuildKit(tmp / "buildkit", args.ref))
    print(f"load {os.getloadavg()[0]:.1f}; bakec: {' '.join(bakec.command())}", flush=True)
    try:
        for name in chosen:
            run_case(name, tools, args.runs, args.run_cpu)
    finally:
        for tool in tools:
            if isinstance(tool, Bakec):
                tool.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
