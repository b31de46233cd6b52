"""The hybrid executor: ``runc run`` on a snapshot we mount ourselves.

containerd keeps content, snapshots and leases; the RUN process is started by runc
directly, as BuildKit's OCI worker does. That skips the per-task shim (about two thirds
of the task path's cost here), at the price of owning what the shim did:

- mounting the rootfs (overlay via mount(2)) and unmounting it;
- reaping: ``runc run`` stays in the foreground and returns the process's exit status;
- cleanup after a crash: :func:`bakec.worker.leftovers.sweep` kills and deletes containers
  whose owner (``bakec.owner`` spec annotation) is gone, and unmounts their rootfs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bakec.errors import BuildError
from bakec.worker.client import Mount
from bakec.worker.leftovers import runc as _runc
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
