"""``bakec daemon status|stop`` against a real embedded containerd."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time

from bakec.worker.daemon import Daemon

from .conftest import requires_containerd, short_state_dir


def _bakec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args], capture_output=True, text=True, timeout=60
    )


@requires_containerd
def test_daemon_status_and_stop_report_the_real_daemon():
    state = short_state_dir()
    try:
        stopped = _bakec("daemon", "status", "--state-dir", str(state))
        assert stopped.returncode == 0 and "status:    stopped" in stopped.stdout
        Daemon(state).ensure().close()
        running = _bakec("daemon", "status", "--state-dir", str(state))
        assert "status:    running" in running.stdout
        assert "version:   1." in running.stdout or "version:   v1." in running.stdout
        assert _bakec("daemon", "stop", "--state-dir", str(state)).stdout.strip() == "stopped"
        assert "status:    stopped" in _bakec("daemon", "status", "--state-dir", str(state)).stdout
        assert _bakec("daemon", "stop", "--state-dir", str(state)).stdout.strip() == "not running"
    finally:
        Daemon(state).stop()
        shutil.rmtree(state, ignore_errors=True)


def _wait_stopped(daemon: Daemon, timeout: float) -> float | None:
    """Seconds until the daemon stopped, or None if it still runs after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if daemon.pid() is None:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@requires_containerd
def test_idle_daemon_stops_by_itself_but_not_while_a_build_holds_the_lock(monkeypatch):
    state = short_state_dir()
    daemon = Daemon(state)
    try:
        monkeypatch.setenv("BAKEC_DAEMON_IDLE", "2s")
        daemon.ensure().close()
        status = _bakec("daemon", "status", "--state-dir", str(state)).stdout
        assert re.search(r"^idle stop: in [12]s without builds \(watcher pid \d+\)$", status, re.MULTILINE)
        assert "builds:    none\n" in status

        with open(state / "solve.lock", "ab") as build:  # what a running build holds
            fcntl.flock(build, fcntl.LOCK_SH)
            busy = _bakec("daemon", "status", "--state-dir", str(state)).stdout
            assert f"builds:    {os.getpid()}\n" in busy
            assert _wait_stopped(daemon, 5) is None  # well past the idle time: a build runs
        waited = _wait_stopped(daemon, 15)
        assert waited is not None and waited >= 1  # idle again from the build's end, then stopped
        assert "status:    stopped" in _bakec("daemon", "status", "--state-dir", str(state)).stdout
        assert not (state / "containerd" / "idle-watcher.pid").exists()

        daemon.ensure().close()  # the next build starts it again, with a new watcher
        assert daemon.pid() is not None
        assert _wait_stopped(daemon, 15) is not None
    finally:
        daemon.stop()
        shutil.rmtree(state, ignore_errors=True)


@requires_containerd
def test_idle_zero_means_never(monkeypatch):
    state = short_state_dir()
    daemon = Daemon(state)
    try:
        monkeypatch.setenv("BAKEC_DAEMON_IDLE", "0")
        daemon.ensure().close()
        assert not (state / "containerd" / "idle-watcher.pid").exists()
        assert "idle stop: never" in _bakec("daemon", "status", "--state-dir", str(state)).stdout
    finally:
        daemon.stop()
        shutil.rmtree(state, ignore_errors=True)
