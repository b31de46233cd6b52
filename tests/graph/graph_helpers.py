"""Helpers for the graph tests (imported by name: tests are not a package)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)  # a context directory, even with no files
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def age(root: Path, seconds: float = 100) -> None:
    """Move every mtime into the past, so the stat cache may trust the files."""
    past = time.time() - seconds
    for dirpath, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(dirpath, name), (past, past))
