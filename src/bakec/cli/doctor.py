"""``bakec doctor``: print what this machine has and lacks for building, with a fix for each problem."""

from __future__ import annotations

import sys

from bakec.state import resolve_state_dir
from bakec.worker.doctor import diagnose

_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


def run_doctor(args, sources: dict[str, bytes]) -> int:
    """Print every finding; exit 1 when something building needs is missing."""

    findings = diagnose(resolve_state_dir(args.state_dir))
    out = sys.stdout
    for finding in findings:
        out.write(f"[{_MARKS[finding.level]}] {finding.topic}: {finding.summary}\n")
        if finding.fix:
            out.write(f"       fix: {finding.fix}\n")
    failed = sum(f.level == "fail" for f in findings)
    warned = sum(f.level == "warn" for f in findings)
    if failed:
        out.write(f"{failed} problem(s) stop bakec from building, {warned} warning(s)\n")
        return 1
    out.write(f"ready to build, {warned} warning(s)\n")
    return 0
