"""bakec's state directory: where its cache index, parse cache and embedded containerd live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

# builds hold it shared, prune and the daemon's idle watcher exclusively (bakec.solver.statelock)
SOLVE_LOCK = "solve.lock"


def resolve_state_dir(cli_value: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``--state-dir`` > ``BAKEC_STATE_DIR`` > ``$XDG_STATE_HOME/bakec`` > ``/var/lib/bakec`` (root)."""
    env = os.environ if env is None else env
    if cli_value:
        return Path(cli_value).absolute()
    if env.get("BAKEC_STATE_DIR"):
        return Path(env["BAKEC_STATE_DIR"]).absolute()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).absolute() / "bakec"
    if os.geteuid() == 0:
        return Path("/var/lib/bakec")
    return Path(env.get("HOME", "~")).expanduser().absolute() / ".local" / "state" / "bakec"
