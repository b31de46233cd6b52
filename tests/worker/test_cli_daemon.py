"""``bakec daemon status|stop`` against a real embedded containerd."""

from __future__ import annotations

import shutil
import subprocess
import sys

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
