"""``bakec version``: bakec's version and those of the Python, containerd and runc it uses."""

from __future__ import annotations

import platform
import sys

from bakec._version import __version__
from bakec.worker.doctor import tool_version


def run_version(args, sources: dict[str, bytes]) -> int:
    """Print one line per component; containerd and runc are asked with ``--version`` (no daemon starts)."""

    lines = [
        ("bakec", __version__),
        ("python", f"{platform.python_version()} ({sys.executable})"),
    ]
    for tool in ("containerd", "runc"):
        found = tool_version(tool)
        lines.append((tool, f"{found[0]} ({found[1]})" if found else "not found on PATH"))
    for name, value in lines:
        sys.stdout.write(f"{name + ':':<12}{value}\n")
    return 0
