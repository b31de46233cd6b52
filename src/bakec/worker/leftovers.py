"""The crash sweep: what killed bakec processes left under a state dir, removed without containerd.

A bakec process that dies (SIGKILL, OOM, power loss of the terminal) leaves behind what
its RUNs had: runc containers still running, run dirs (the bundle, its rootfs mount and,
for a RUN with secrets, the tmpfs the bundle lives on), and its scratch directory
``<state>/tmp/mounts-<pid>-<start>/`` (secret tmpfs, throw-away overlays). Everything is
tied to its owner, ``<pid>:<start time>`` (:mod:`bakec.worker.owner`): a container by its
``bakec.owner`` annotation, a run dir by its bundle's, a scratch directory by its name.
:func:`sweep` removes what belongs to processes that are gone and never touches a live
one's. Every bakec process that writes to the state dir runs it first (a build, even a
fully cached one, and ``bakec prune``), so a secret never outlives its build's next
successor. It needs runc and mount(2) only: no grpc, no daemon.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from bakec.worker.mount import unmount
from bakec.worker.owner import owner_alive, owner_label
from bakec.worker.paths import DaemonPaths

SCRATCH_PREFIX = "mounts-"
"""A process's scratch directory in ``<state>/tmp`` is this plus its owner label (``:`` as ``-``)."""


def sweep(paths: DaemonPaths, *, everything: bool = False) -> None:
    """Kill and delete runc containers whose owning bakec process is gone; unmount and remove what they left.

    Also sweeps half-made network namespaces; ``everything`` (``Daemon.stop()``) takes what
    live processes hold too and tears the whole CNI network down: namespaces, bridge,
    firewall chains.
    """
    try:
        _sweep_containers(paths, everything)
        _sweep_run_dirs(paths, everything)
        sweep_scratch(paths.state_dir / "tmp", everything=everything)
    finally:
        if everything or (paths.state_dir / "net").is_dir():
            from bakec.worker import network  # CNI code loads only where a network was set up

            if everything:
                network.teardown(paths.state_dir)
            else:
                network.sweep(paths.state_dir)


def run_id() -> str:
    """A new RUN's container id, also its run dir's name: ``bakec-<pid>-<start>-<random>``.

    The owner is in the name so that a run dir whose process was killed before it wrote the
    bundle (which names the owner too) is still known to be stale.
    """
    return f"bakec-{owner_label().replace(':', '-')}-{uuid.uuid4().hex[:12]}"


def _owner_in_name(name: str) -> str:
    parts = name.split("-")
    return f"{parts[1]}:{parts[2]}" if len(parts) == 4 and parts[0] == "bakec" else ""


def runc(paths: DaemonPaths, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``runc`` on the direct executor's state root (exit status 127 when runc is not installed)."""
    argv = ["runc", "--root", str(paths.direct_runc_root), *args]
    try:
        return subprocess.run(argv, capture_output=True, check=False)
    except FileNotFoundError:
        return subprocess.CompletedProcess(argv, 127, b"", b"runc not found")


def _sweep_containers(paths: DaemonPaths, everything: bool) -> None:
    root = paths.direct_runc_root
    if not root.is_dir():
        return
    for state_dir in root.iterdir():
        cid = state_dir.name
        proc = runc(paths, "state", cid)
        try:
            state = json.loads(proc.stdout) if proc.returncode == 0 else {}
        except ValueError:
            state = {}
        owner = (state.get("annotations") or {}).get("bakec.owner", "")
        if not everything and owner_alive(owner):
            continue
        runc(paths, "kill", cid, "KILL")
        runc(paths, "delete", "--force", cid)
        remove_run_dir(paths.runs_dir / cid)


def _sweep_run_dirs(paths: DaemonPaths, everything: bool) -> None:
    """Unmount and remove run dirs a killed bakec left after its container was gone.

    A kill between ``runc run`` returning and the rootfs unmount leaves no container for
    :func:`_sweep_containers` to find; the bundle's ``config.json`` still names the owner, and
    so does the run dir's name (:func:`run_id`) when the kill came before the bundle was written.
    """
    if not paths.runs_dir.is_dir():
        return
    for run_dir in paths.runs_dir.iterdir():
        try:
            spec = json.loads((run_dir / "config.json").read_text())
        except (OSError, ValueError):
            spec = {}  # still being prepared, or a containerd task's (swept with its container)
        owner = (spec.get("annotations") or {}).get("bakec.owner", "") or _owner_in_name(run_dir.name)
        if not everything and (not owner or owner_alive(owner)):
            continue
        if (paths.direct_runc_root / run_dir.name).exists():
            continue  # its container is still there: _sweep_containers decided to keep it
        remove_run_dir(run_dir)


def remove_run_dir(run_dir: Path) -> None:
    """Unmount a bundle's rootfs and its tmpfs (a private run dir: secret env), then remove it.

    The rootfs is unmounted whenever it is there (:func:`unmount` of a plain directory does
    nothing): ``os.path.ismount`` misses a bind mount from the same disk (a snapshot with no
    parent), and ``rmtree`` would then empty the snapshot through it.
    """
    if (run_dir / "rootfs").is_dir():
        unmount(run_dir / "rootfs")
    if os.path.ismount(run_dir):
        unmount(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)


def sweep_scratch(scratch: Path, *, everything: bool = False) -> None:
    """Unmount and remove what crashed bakec processes left in ``scratch`` (secret tmpfs, rw overlays).

    ``everything`` also clears the directories of live processes (the daemon is stopping).
    """
    try:
        owned = [p for p in scratch.iterdir() if p.name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return
    for directory in owned:
        if not everything and owner_alive(directory.name[len(SCRATCH_PREFIX) :].replace("-", ":", 1)):
            continue
        for point in sorted(_mount_points_below(str(directory)), key=len, reverse=True):
            unmount(Path(point))
        shutil.rmtree(directory, ignore_errors=True)


def _mount_points_below(directory: str) -> list[str]:
    points = []
    with open("/proc/self/mountinfo", "rb") as mountinfo:
        for line in mountinfo:
            # the mount point field escapes space, tab, newline and backslash as \ooo
            raw = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), line.split()[4])
            point = os.fsdecode(raw)
            if point.startswith(directory + "/"):
                points.append(point)
    return points


__all__ = ["SCRATCH_PREFIX", "remove_run_dir", "run_id", "runc", "sweep", "sweep_scratch"]
