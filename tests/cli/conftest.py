"""A ``bakec`` command on PATH that runs this checkout (shell completion scripts call it by name)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture
def bakec_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH starts with a ``bakec`` running ``python -m bakec.cli.main``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "bakec"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m bakec.cli.main "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
