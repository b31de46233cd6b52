"""Which bakec process owns a container, lease or mount directory: ``<pid>:<start time>``.

Kept apart from the containerd client so the crash sweep (:mod:`bakec.worker.leftovers`)
runs without importing grpc.
"""

from __future__ import annotations

import os


def owner_label() -> str:
    """``<pid>:<start time>`` of this process: what the startup sweep checks for liveness.

    The start time guards against pid reuse after a crash.
    """
    return f"{os.getpid()}:{process_start_time(os.getpid())}"


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, or "" if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    # Field 22; split after the command name, which may itself contain spaces or parens.
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def owner_alive(label: str) -> bool:
    """Whether the process named by an :func:`owner_label` value still runs."""
    pid, _, start = label.partition(":")
    return pid.isdigit() and bool(start) and process_start_time(int(pid)) == start
