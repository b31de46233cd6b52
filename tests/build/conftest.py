"""Helpers for end-to-end builds (the ``state_dir`` fixture lives in tests/conftest.py, shared by all build tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def bakec(cwd: Path, state: Path, *args: str, env: dict[str, str] | None = None,
          timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the bakec CLI as a user would, in ``cwd``, on the test's state dir.

    Pushed images get no default provenance here (``BUILDX_NO_DEFAULT_ATTESTATIONS=1``, as
    buildx allows), so tests about pushing see bare manifests; test_attestations.py passes
    ``env={"BUILDX_NO_DEFAULT_ATTESTATIONS": ""}`` to test the default itself.
    """
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
                "PYTHONPATH": str(REPO / "src"),  # this checkout's code, whatever pip installed
                "BUILDX_NO_DEFAULT_ATTESTATIONS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args, "--state-dir", str(state)] if args and args[0] == "build"
        else [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
