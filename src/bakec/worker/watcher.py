"""The idle watcher of the embedded containerd: ``python -m bakec.worker.watcher STATE_DIR SECONDS``.

Started detached by :meth:`bakec.worker.daemon.Daemon.ensure`; see :mod:`bakec.worker.idle`.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from bakec.worker.daemon import Daemon
from bakec.worker.idle import builds_running, last_use, touch


def watch(state_dir: Path, seconds: float) -> None:
    """The watcher's loop: stop the daemon once it has been idle ``seconds``; return when it is gone."""
    daemon = Daemon(state_dir)
    paths = daemon.paths
    poll = min(max(seconds / 4, 0.2), 5.0)
    os.chdir("/")
    try:
        _loop(daemon, seconds, poll)
    finally:
        mine = paths.watcher_pid_file.read_text().split()[:1] == [str(os.getpid())]
        if mine:
            paths.watcher_pid_file.unlink(missing_ok=True)


def _loop(daemon: Daemon, seconds: float, poll: float) -> None:
    paths = daemon.paths
    while True:
        time.sleep(poll)
        if daemon.pid() is None:
            return
        if builds_running(paths):
            touch(paths.last_use)
            continue
        used = last_use(paths) or 0.0
        if time.time() - used < seconds:
            continue
        with open(paths.build_lock, "ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a build just started
            used = last_use(paths) or 0.0
            if time.time() - used >= seconds:
                daemon.stop()
                return


if __name__ == "__main__":  # pragma: no cover - run as the detached watcher
    watch(Path(sys.argv[1]), float(sys.argv[2]))
