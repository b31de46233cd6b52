"""Cancelling running processes: what Ctrl-C / SIGTERM does to the RUN steps in flight.

An executor starts every process through :meth:`Cancel.start`, which registers how to
kill it; :meth:`Cancel.cancel` kills everything registered and makes later starts fail,
so a process can never slip in between the signal and the kill.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from bakec.errors import BuildError

T = TypeVar("T")


class Cancelled(BuildError):
    """The build was cancelled before or while this process ran."""


class Cancel:
    """The kill switch of one executor's running processes (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kills: dict[str, Callable[[], None]] = {}
        self.cancelled = False

    def start(self, key: str, spawn: Callable[[], T], kill: Callable[[T], None]) -> T:
        """Start a process with ``spawn()`` unless cancelled; ``kill(handle)`` stops it on cancel."""
        with self._lock:
            if self.cancelled:
                raise Cancelled("cancelled")
            handle = spawn()
            self._kills[key] = lambda: kill(handle)
        return handle

    def done(self, key: str) -> None:
        """The process ``key`` ended: nothing to kill any more."""
        with self._lock:
            self._kills.pop(key, None)

    def cancel(self) -> None:
        """Kill every running process (in parallel, each until it is gone) and refuse new ones."""
        with self._lock:
            self.cancelled = True
            kills = list(self._kills.values())
        threads = [threading.Thread(target=kill, daemon=True) for kill in kills]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
