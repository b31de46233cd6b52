"""``bakec daemon status|stop``: the embedded containerd in the state dir."""

from __future__ import annotations

import sys
import time

from bakec.state import resolve_state_dir
from bakec.worker.daemon import Daemon


def run_daemon(args, sources: dict[str, bytes]) -> int:

    daemon = Daemon(resolve_state_dir(args.state_dir))
    if args.action == "status":
        status = daemon.status()
        state = "running" if status.running else "stopped"
        out = sys.stdout
        out.write(f"state dir: {status.state_dir}\naddress:   {status.address}\nstatus:    {state}\n")
        if status.running:
            out.write(f"pid:       {status.pid}\nversion:   {status.version}\n")
            if status.started is not None:
                out.write(f"uptime:    {_seconds(time.time() - status.started)}\n")
            if status.idle_deadline is None:
                out.write("idle stop: never (BAKEC_DAEMON_IDLE=0, or no watcher)\n")
            else:
                left = _seconds(max(0.0, status.idle_deadline - time.time()))
                out.write(f"idle stop: in {left} without builds (watcher pid {status.watcher_pid})\n")
            builds = ", ".join(map(str, status.builds)) or "none"
            out.write(f"builds:    {builds}\n")
        return 0
    stopped = daemon.stop()
    sys.stdout.write("stopped\n" if stopped else "not running\n")
    return 0


def _seconds(value: float) -> str:
    """``1h2m3s`` (Go's duration style, whole seconds)."""
    total = int(value)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"
