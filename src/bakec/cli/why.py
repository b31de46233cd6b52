"""``bakec why TARGET``: why the steps of the target's latest build ran (from the state dir's records)."""

from __future__ import annotations

import sys

from bakec.explain.why import render_json, render_text, why
from bakec.state import resolve_state_dir


def run_why(args, sources: dict[str, bytes]) -> int:
    """Print the explanation of ``args.target``'s latest recorded build; exit 0."""
    report = why(resolve_state_dir(args.state_dir), args.target)
    sys.stdout.write(render_json(report) if args.format == "json" else render_text(report))
    return 0
