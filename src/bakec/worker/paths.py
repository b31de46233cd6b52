"""Where everything of one embedded containerd lives (see daemon.py for the layout)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import EnvironmentProblem
from bakec.state import SOLVE_LOCK

SOCKET_MAX = 107  # sun_path is 108 bytes including the terminating NUL


@dataclass(frozen=True)
class DaemonPaths:
    """Where everything of one embedded daemon lives."""

    state_dir: Path

    @property
    def base(self) -> Path:
        return self.state_dir / "containerd"

    @property
    def socket(self) -> Path:
        return self.state_dir / "c.sock"

    @property
    def ttrpc_socket(self) -> Path:
        return self.state_dir / "t.sock"

    @property
    def config(self) -> Path:
        return self.base / "config.toml"

    @property
    def log(self) -> Path:
        return self.base / "containerd.log"

    @property
    def pid_file(self) -> Path:
        return self.base / "pid"

    @property
    def lock_file(self) -> Path:
        return self.base / "lock"

    @property
    def last_use(self) -> Path:
        """Touched when a build uses the daemon; the idle watcher stops it this long after."""
        return self.base / "last-use"

    @property
    def watcher_pid_file(self) -> Path:
        return self.base / "idle-watcher.pid"

    @property
    def build_lock(self) -> Path:
        """Builds hold it shared while they run (:mod:`bakec.solver.statelock`)."""
        return self.state_dir / SOLVE_LOCK

    @property
    def runc_root(self) -> Path:
        return self.state_dir / "runc"

    @property
    def direct_runc_root(self) -> Path:
        return self.runc_root / "direct"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def check_socket_length(self) -> None:
        for sock in (self.socket, self.ttrpc_socket):
            if len(os.fsencode(sock)) > SOCKET_MAX:
                raise EnvironmentProblem(
                    f"state dir path too long for a unix socket: {sock}",
                    f"socket paths are limited to {SOCKET_MAX} bytes; choose a shorter --state-dir",
                )
