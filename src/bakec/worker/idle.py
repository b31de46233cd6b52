"""When the embedded containerd counts as idle: ``BAKEC_DAEMON_IDLE`` (default 5 minutes), its stamps.

A small detached process, started with the daemon (``python -m bakec.worker.watcher STATE_DIR
SECONDS``, :mod:`bakec.worker.watcher`), polls two things: the build lock (a running build holds ``solve.lock`` shared,
so the watcher then touches the last-use stamp), and the stamp's age. Once the stamp is
older than the idle time, it takes the build lock exclusively -- so no build can start
meanwhile -- and stops containerd through :meth:`Daemon.stop`; the next build starts it
again. It exits when containerd is gone (stopped by anyone). ``0`` means never stop.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from bakec.errors import UsageError
from bakec.util.golang import parse_duration
from bakec.worker.paths import DaemonPaths

DEFAULT_IDLE = 300.0
_WATCHER_MODULE = "bakec.worker.watcher"
ENV = "BAKEC_DAEMON_IDLE"


def idle_timeout(env: Mapping[str, str] | None = None) -> float:
    """``BAKEC_DAEMON_IDLE`` in seconds: a Go duration (``5m``, ``90s``) or a number of seconds; 0 = never."""
    text = (os.environ if env is None else env).get(ENV, "").strip()
    if not text:
        return DEFAULT_IDLE
    try:
        seconds = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else parse_duration(text) / 1e9
    except ValueError as err:
        raise UsageError(f"invalid {ENV}={text!r}: {err} (use e.g. 5m, 90s or 0 for never)") from None
    if seconds < 0:
        raise UsageError(f"invalid {ENV}={text!r}: the idle time cannot be negative")
    return seconds


def touch(path: Path) -> None:
    """Mark the daemon as used now."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a"):
        pass
    os.utime(path)


def last_use(paths: DaemonPaths) -> float | None:
    try:
        return paths.last_use.stat().st_mtime
    except OSError:
        return None


def builds_running(paths: DaemonPaths) -> list[int]:
    """Pids of the processes holding the build lock (from ``/proc/locks``)."""
    try:
        st = paths.build_lock.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return []
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pids = []
    for line in locks.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == ident:
            pids.append(int(fields[4]))
    return sorted(set(pids))


def watcher(paths: DaemonPaths) -> tuple[int, float] | None:
    """``(pid, idle seconds)`` of the running watcher of this state dir, if any."""
    try:
        pid_text, seconds_text = paths.watcher_pid_file.read_text().split()
        pid, seconds = int(pid_text), float(seconds_text)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    mine = _WATCHER_MODULE.encode() in cmdline and os.fsencode(paths.state_dir) in cmdline
    return (pid, seconds) if mine else None


def spawn_watcher(paths: DaemonPaths, seconds: float) -> int:
    """Start the detached watcher (the caller holds the daemon's start lock); its pid."""
    null_fd = os.open(os.devnull, os.O_RDWR)
    try:
        argv = [sys.executable, "-m", _WATCHER_MODULE, str(paths.state_dir), str(seconds)]
        pid = os.posix_spawn(
            sys.executable,
            argv,
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, null_fd, fd) for fd in (0, 1, 2)],
            setsid=True,
        )
    finally:
        os.close(null_fd)
    paths.watcher_pid_file.write_text(f"{pid} {seconds}\n")
    return pid
