"""Fixtures for end-to-end builds: a private, short state dir whose embedded containerd is stopped at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "builds need root (containerd, overlayfs, runc)"
    for binary, package in (("containerd", "containerd"), ("runc", "runc")):
        if shutil.which(binary) is None:
            return f"{binary} not installed (apt-get install {package})"
    return None


@pytest.fixture(scope="session")
def state_dir(busybox_image) -> Iterator[Path]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    state = Path(tempfile.mkdtemp(prefix="bk", dir="/tmp"))
    try:
        yield state
    finally:
        from bakec.worker.daemon import Daemon

        Daemon(state).stop()
        shutil.rmtree(state, ignore_errors=True)


def bakec(cwd: Path, state: Path, *args: str, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the bakec CLI as a user would, in ``cwd``, on the test's state dir."""
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args, "--state-dir", str(state)] if args and args[0] == "build"
        else [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
