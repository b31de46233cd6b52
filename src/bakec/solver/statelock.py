"""One lock per state dir between builds (shared) and ``bakec prune`` (exclusive).

A build may reuse any cache entry it finds, so prune must not remove entries
while a build runs; builds on the same state dir run side by side. The lock is
an ``flock`` on ``<state>/solve.lock``: the kernel drops it when the process
dies, so a killed build never blocks the next prune.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable
from pathlib import Path
from typing import IO

from bakec.state import SOLVE_LOCK


def hold(
    state_dir: Path, *, exclusive: bool = False, waiting: Callable[[], object] | None = None
) -> IO[bytes]:
    """Take the state dir's lock and return the open file holding it (closing it releases it).

    ``waiting`` is called once when the lock is busy, before blocking for it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    f = open(state_dir / SOLVE_LOCK, "ab")  # noqa: SIM115 - the caller owns the handle
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(f, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if waiting is not None:
            waiting()
        fcntl.flock(f, mode)
    return f
