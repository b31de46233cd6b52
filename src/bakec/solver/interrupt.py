"""Ctrl-C and SIGTERM during a solve: stop starting ops, kill the running ones, exit non-zero.

While :func:`cancelling` is active, SIGINT and SIGTERM no longer end the process at
once: they set the scheduler's ``cancelled`` event (nothing new starts) and kill
every process the executor runs, so the solve returns promptly, the build's lease
is released on the way out, and :class:`Interrupted` gives buildx's exit status
(130 for Ctrl-C, 143 for SIGTERM). A second signal ends the process as before.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from bakec.errors import BakecError

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BakecError):
    """The build was stopped by a signal."""

    def __init__(self, signum: int) -> None:
        super().__init__("interrupted" if signum == signal.SIGINT else "terminated")
        self.exit_code = 128 + signum


@contextlib.contextmanager
def cancelling(scheduler: Any, executor: Any) -> Iterator[list[int]]:
    """Cancel ``scheduler`` and kill ``executor``'s processes on SIGINT/SIGTERM; yields the signals seen.

    Only the main thread can handle signals; elsewhere (a library caller's thread) this
    does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def cancel() -> None:
        scheduler.cancelled.set()
        executor.cancel.cancel()

    def handler(signum: int, frame: Any) -> None:
        if received:  # asked twice: stop waiting for the clean-up
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        received.append(signum)
        threading.Thread(target=cancel, name="bakec-cancel", daemon=True).start()

    previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield received
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def raise_if_interrupted(received: list[int]) -> None:
    """Raise :class:`Interrupted` when :func:`cancelling` saw a signal."""
    if received:
        raise Interrupted(received[0])
