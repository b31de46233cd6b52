#!/usr/bin/env python3
"""A 3-shard fleet run of the cpumono workload against the single-machine cold build: CPU, wall, bytes.

Usage: bench/fleet_cpumono.py [--shards 3] [--keep]   (root; the loopback registry of scripts/registry)

Measures, each job on its own fresh ``--state-dir`` (its own containerd) as a CI runner would:

- single: ``bakec build`` of the whole workload, cold.
- fleet, one job after another: ``bakec plan --shards N --cache-repo``, every shard, then the
  publish; CPU and wall per job, and the registry bytes each shard uploaded.
- fleet, all shards at once: a new cache repo and plan, each shard started as soon as the shards
  it needs are done (as a CI pipeline does), then the publish; wall of the shards and total CPU.

CPU is user + sys of the whole process tree of a job: bakec, the ``runc run`` it waits for and
the RUN processes under it, and the containerd it spawned. containerd outlives bakec (it is
detached), so this script makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER): the
orphaned containerd is reparented here, stopped with ``bakec daemon stop`` (counted too) and
reaped, and its rusage lands in this process's RUSAGE_CHILDREN. RUN containers sit in their own
cgroups (``/bakec-<id>``), so a cgroup around the job would miss them; rusage does not.
Uploaded bytes are the sizes of the blobs whose upload the registry's access log shows completed
(a PUT answered 201 with ``?digest=``) in the job's repositories; mounts and HEAD hits are free.

Goal (issue "One build graph across many CI runners"): fleet CPU <= 1.3x the single cold build.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GEN = Path(__file__).resolve().parent / "gen_workloads.py"
REGISTRY = "127.0.0.1:5000"
BASE = f"{REGISTRY}/busybox:latest"
ACCESS_LOG = Path(os.environ.get("BAKEC_TEST_REGISTRY_DIR", "/var/lib/bakec-test-registry")) / "access.log"
PR_SET_CHILD_SUBREAPER = 36
_LOG_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d+)')


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reap_orphans(timeout: float = 120) -> None:
    """Wait for every process reparented to this one (the stopped containerds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)
    raise SystemExit("a child of the benchmark did not exit")


class Fleet:
    def __init__(self, root: Path, tmp: Path) -> None:
        self.root = root
        self.tmp = tmp
        exe = shutil.which("bakec")
        self.cmd = [exe] if exe else [sys.executable, "-m", "bakec.cli.main"]
        self.env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "BAKEC_DAEMON_IDLE": "0"}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)

    def state(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="state-", dir=self.tmp))

    def start(self, args: list[str], state: Path | None) -> subprocess.Popen:
        extra = ["--state-dir", str(state), "--progress", "quiet"] if state else []
        return subprocess.Popen(
            self.cmd + args + extra,
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE if args[0] == "plan" else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, proc: subprocess.Popen, state: Path | None) -> str:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{proc.args} failed:\n{err}")
        if state is not None:
            stop = [*self.cmd, "daemon", "stop", "--state-dir", str(state)]
            subprocess.run(stop, env=self.env, check=True, capture_output=True)
        return out or ""

    def job(self, args: list[str], fresh_state: bool = True) -> tuple[float, float, str]:
        """(cpu s, wall s, stdout) of one job and its daemon, everything reaped."""
        _reap_orphans()
        cpu, wall = _cpu(), time.perf_counter()
        state = self.state() if fresh_state else None
        out = self.finish(self.start(args, state), state)
        wall = time.perf_counter() - wall
        _reap_orphans()
        return _cpu() - cpu, wall, out

    def plan(self, cache_repo: str, shards: int) -> tuple[float, float, dict]:
        cpu, wall, out = self.job(["plan", "--shards", str(shards), "--cache-repo", cache_repo], False)
        (self.root / "plan.json").write_text(out)
        return cpu, wall, json.loads(out)


def _uploaded_bytes(offset: int, repo_prefix: str) -> int:
    with open(ACCESS_LOG, "rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    total = 0
    for line in lines:
        m = _LOG_LINE.search(line)
        if not m or m.group(1) != "PUT" or m.group(3) != "201":
            continue
        url = urllib.parse.urlsplit(m.group(2))
        if not url.path.startswith(f"/v2/{repo_prefix}/") or "/blobs/uploads/" not in url.path:
            continue
        digest = urllib.parse.parse_qs(url.query)["digest"][0]
        repo = url.path.removeprefix("/v2/").split("/blobs/uploads/")[0]
        req = urllib.request.Request(f"http://{REGISTRY}/v2/{repo}/blobs/{digest}", method="HEAD")
        with urllib.request.urlopen(req, timeout=10) as resp:
            total += int(resp.headers["Content-Length"])
    return total


def _log_offset() -> int:
    time.sleep(0.3)  # the registry logs a request after answering it
    return ACCESS_LOG.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
    spec = importlib.util.spec_from_file_location("gen_workloads", GEN)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    tmp = Path(tempfile.mkdtemp(prefix="fleet-cpumono-"))
    root = tmp / "cpumono"
    gen.cpumono(str(root), BASE)
    fleet = Fleet(root, tmp)
    print(f"uptime: {os.popen('uptime').read().strip()}", flush=True)

    single_cpu, single_wall, _ = fleet.job(["build"])
    print(f"single cold build: cpu {single_cpu:.1f} s, wall {single_wall:.1f} s", flush=True)

    prefix = f"bench-fleet/{uuid.uuid4().hex[:10]}"
    plan_cpu, plan_wall, plan = fleet.plan(f"{REGISTRY}/{prefix}/cache", args.shards)
    print(f"plan: cpu {plan_cpu:.1f} s, wall {plan_wall:.1f} s", flush=True)
    shard_cpu = shard_wall = 0.0
    for shard in plan["shards"]:
        offset = _log_offset()
        cpu, wall, _ = fleet.job(shard["command"][1:])
        time.sleep(0.3)  # the registry logs a request after answering it
        sent = _uploaded_bytes(offset, prefix)
        shard_cpu, shard_wall = shard_cpu + cpu, shard_wall + wall
        print(
            f"shard {shard['id']} ({len(shard['ops'])} ops, needs {shard['needs'] or '-'}): "
            f"cpu {cpu:.1f} s, wall {wall:.1f} s, uploaded {sent / 1e6:.2f} MB",
            flush=True,
        )
    pub_cpu, pub_wall, _ = fleet.job(["build", "--plan", "plan.json", "--publish"])
    print(f"publish: cpu {pub_cpu:.1f} s, wall {pub_wall:.1f} s", flush=True)
    total = plan_cpu + shard_cpu + pub_cpu
    print(
        f"fleet one after another: cpu {total:.1f} s = {total / single_cpu:.2f}x single (goal <= 1.3x); "
        f"shards wall {shard_wall:.1f} s, plan+shards+publish wall {plan_wall + shard_wall + pub_wall:.1f} s",
        flush=True,
    )
    print(f"uptime: {os.popen('uptime').read().strip()}", flush=True)

    # the same from cold, every shard started once the shards it needs are done
    prefix = f"bench-fleet/{uuid.uuid4().hex[:10]}"
    plan_cpu, _, plan = fleet.plan(f"{REGISTRY}/{prefix}/cache", args.shards)
    _reap_orphans()
    cpu, start = _cpu(), time.perf_counter()
    waiting = {s["id"]: s for s in plan["shards"]}
    running: dict[str, tuple[subprocess.Popen, Path]] = {}
    done: set[str] = set()
    while waiting or running:
        for sid, shard in list(waiting.items()):
            if set(shard["needs"]) <= done:
                state = fleet.state()
                running[sid] = (fleet.start(shard["command"][1:], state), state)
                del waiting[sid]
        for sid, (proc, state) in list(running.items()):
            if proc.poll() is not None:
                fleet.finish(proc, state)
                done.add(sid)
                del running[sid]
        time.sleep(0.1)
    shards_wall = time.perf_counter() - start
    _reap_orphans()
    shards_cpu = _cpu() - cpu
    pub_cpu, pub_wall, _ = fleet.job(["build", "--plan", "plan.json", "--publish"])
    total = plan_cpu + shards_cpu + pub_cpu
    print(
        f"fleet shards at once: shards wall {shards_wall:.1f} s (+ publish {pub_wall:.1f} s); "
        f"cpu {total:.1f} s = {total / single_cpu:.2f}x single",
        flush=True,
    )
    print(f"uptime: {os.popen('uptime').read().strip()}", flush=True)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
