"""The hybrid executor: ``runc run`` on a snapshot we mount ourselves.

containerd keeps content, snapshots and leases; the RUN process is started by runc
directly, as BuildKit's OCI worker does. That skips the per-task shim (about two thirds
of the task path's cost here), at the price of owning what the shim did:

- mounting the rootfs (overlay via mount(2)) and unmounting it;
- reaping: ``runc run`` stays in the foreground and returns the process's exit status;
- cleanup after a crash: :func:`sweep_direct` kills and deletes containers whose owner
  (``bakec.owner`` spec annotation) is gone, and unmounts their rootfs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bakec.errors import BuildError
from bakec.worker import network
from bakec.worker.client import Mount, owner_alive
from bakec.worker.mount import mount, unmount
from bakec.worker.paths import DaemonPaths
from bakec.worker.run import Clock, Executor, OutputCallback, drain


class RuncExecutor(Executor):
    """Runs each process with ``runc run`` in a bundle under the run dir."""

    def _execute(
        self,
        cid: str,
        mounts: Sequence[Mount],
        spec: dict[str, Any],
        run_dir: Path,
        on_output: OutputCallback | None,
        clock: Clock,
    ) -> tuple[int, bytes, bytes]:
        if len(mounts) != 1:
            raise ValueError(f"expected one snapshot mount, got {len(mounts)}")
        root = run_dir / "rootfs"
        root.mkdir()
        (run_dir / "config.json").write_text(json.dumps(spec))
        log = run_dir / "runc.log"
        mount(mounts[0], root)
        clock.lap("mount")
        try:
            proc = self.cancel.start(
                cid,
                lambda: subprocess.Popen(
                    [
                        "runc",
                        "--root",
                        str(self.paths.direct_runc_root),
                        "--log",
                        str(log),
                        "--log-format",
                        "json",
                        "run",
                        "--bundle",
                        str(run_dir),
                        cid,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
                lambda proc: _kill_until_gone(self.paths, cid, proc),
            )
            try:
                assert proc.stdout is not None and proc.stderr is not None
                out, err = drain([proc.stdout.fileno(), proc.stderr.fileno()], on_output)
                exit_code = proc.wait()
            except BaseException:
                # Ctrl-C or an error: never leave the process running.
                _runc(self.paths, "kill", cid, "KILL")
                proc.wait()
                raise
            finally:
                self.cancel.done(cid)
                proc.stdout.close()  # type: ignore[union-attr]
                proc.stderr.close()  # type: ignore[union-attr]
            clock.lap("runc_run")
        finally:
            unmount(root)
            clock.lap("unmount")
        failure = _runc_error(log)
        if failure:
            raise BuildError("process did not start", failure)
        return exit_code, out, err


def _kill_until_gone(paths: DaemonPaths, cid: str, proc: subprocess.Popen[bytes]) -> None:
    """``runc kill`` until ``runc run`` returns: when cancelled it may not have created the container yet."""
    for _ in range(400):
        _runc(paths, "kill", cid, "KILL")
        try:
            proc.wait(timeout=0.05)
            return
        except subprocess.TimeoutExpired:
            continue


def _runc(paths: DaemonPaths, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["runc", "--root", str(paths.direct_runc_root), *args], capture_output=True, check=False
    )


def _runc_error(log: Path) -> str:
    """runc's own error (not the process's), from its JSON log; "" if it had none."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal"):
            errors.append(str(entry.get("msg", "")))
    return "; ".join(errors)


def sweep_direct(paths: DaemonPaths, *, everything: bool = False) -> None:
    """Kill and delete runc containers whose owning bakec process is gone, and unmount them.

    Also sweeps half-made network namespaces and RUN mount leftovers (secret tmpfs, rw
    overlays: :func:`bakec.worker.mounts.sweep`); ``everything`` (``Daemon.stop()``) tears the
    whole CNI network down: namespaces, bridge, firewall chains.
    """
    try:
        _sweep_containers(paths, everything)
        _sweep_run_dirs(paths, everything)
        from bakec.worker import mounts

        mounts.sweep(paths.state_dir / "tmp", everything=everything)  # secret tmpfs and rw overlays
    finally:
        if everything:
            network.teardown(paths.state_dir)
        else:
            network.sweep(paths.state_dir)


def _sweep_containers(paths: DaemonPaths, everything: bool) -> None:
    root = paths.direct_runc_root
    if not root.is_dir():
        return
    for state_dir in root.iterdir():
        cid = state_dir.name
        proc = _runc(paths, "state", cid)
        try:
            state = json.loads(proc.stdout) if proc.returncode == 0 else {}
        except ValueError:
            state = {}
        owner = (state.get("annotations") or {}).get("bakec.owner", "")
        if not everything and owner_alive(owner):
            continue
        _runc(paths, "kill", cid, "KILL")
        _runc(paths, "delete", "--force", cid)
        _remove_run_dir(paths.runs_dir / cid)


def _sweep_run_dirs(paths: DaemonPaths, everything: bool) -> None:
    """Unmount and remove run dirs a killed bakec left after its container was gone.

    A kill between ``runc run`` returning and the rootfs unmount leaves no container for
    :func:`_sweep_containers` to find; the bundle's ``config.json`` still names the owner.
    """
    if not paths.runs_dir.is_dir():
        return
    for run_dir in paths.runs_dir.iterdir():
        try:
            spec = json.loads((run_dir / "config.json").read_text())
        except (OSError, ValueError):
            continue  # still being prepared, or a containerd task's (swept with its container)
        owner = (spec.get("annotations") or {}).get("bakec.owner", "")
        if not everything and (not owner or owner_alive(owner)):
            continue
        if (paths.direct_runc_root / run_dir.name).exists():
            continue  # its container is still there: _sweep_containers decided to keep it
        _remove_run_dir(run_dir)


def _remove_run_dir(run_dir: Path) -> None:
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
