"""One lock per op across processes: a step two builds on one state dir both need runs once.

A build takes the op's lock around "check the cache index, run, record"; a second build
needing the same op waits for it, then finds the first one's record and reuses it. The lock
is an ``flock`` on ``<state>/oplocks/<digest>.lock``: the kernel drops it when the holder
dies, so a killed build never blocks the next one. The files stay (empty, one per op); ``bakec
prune`` removes them while it holds the state dir exclusively.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DIRNAME = "oplocks"


class OpLocks:
    """The per-op locks of one state dir (``directory`` is ``<state>/oplocks``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextmanager
    def hold(self, op: str) -> Iterator[None]:
        """Hold ``op``'s lock (an op digest such as ``sha256:…``) for the ``with`` body."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = op.replace(":", "-").replace("/", "_") + ".lock"
        fd = os.open(self.directory / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
