"""Running a bakec process as a user's shell would, but fenced: an address-space cap and a timeout.

A runaway allocation or recursion then fails the test that caused it instead of the machine.
Used by tests/bake/test_hardening.py and the fuzz suite in tests/fuzz/.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

MEMORY_CAP = 1 << 30
# The Go Dockerfile parser's runtime reserves about 1.1 GiB of address space (untouched) when it loads.
DOCKERFILE_MEMORY_CAP = 3 << 30
TIMEOUT = 60


def run_limited(
    argv: list[str],
    cwd: Path,
    *,
    stdin: bytes | None = None,
    memory: int = MEMORY_CAP,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess:
    """Run ``python argv...`` in ``cwd`` with a minimal environment (HOME and state dir in ``cwd``)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "BAKEC_STATE_DIR": str(cwd / ".state"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (memory, memory)),
    )


def bakec(
    cwd: Path, *args: str, stdin: bytes | None = None, memory: int = MEMORY_CAP
) -> subprocess.CompletedProcess:
    """``bakec ARGS`` (``python -m bakec.cli.main``) under the limits."""
    return run_limited(["-m", "bakec.cli.main", *args], cwd, stdin=stdin, memory=memory)
