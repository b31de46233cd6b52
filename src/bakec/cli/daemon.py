"""``bakec daemon status|stop``: the embedded containerd in the state dir."""

from __future__ import annotations

import sys


def run_daemon(args, sources: dict[str, bytes]) -> int:
    from bakec.state import resolve_state_dir
    from bakec.worker.daemon import Daemon

    daemon = Daemon(resolve_state_dir(args.state_dir))
    if args.action == "status":
        status = daemon.status()
        state = "running" if status.running else "stopped"
        sys.stdout.write(f"state dir: {status.state_dir}\naddress:   {status.address}\nstatus:    {state}\n")
        if status.running:
            sys.stdout.write(f"pid:       {status.pid}\nversion:   {status.version}\n")
        return 0
    stopped = daemon.stop()
    sys.stdout.write("stopped\n" if stopped else "not running\n")
    return 0
