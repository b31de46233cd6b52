"""``bakec check``: report problems in bake files without building (no daemon needed)."""

from __future__ import annotations

import sys

from bakec.cli.common import load_definition
from bakec.errors import BakecError, render


def run_check(args, sources: dict[str, bytes]) -> int:
    from bakec.bake.check import check

    try:
        definition = load_definition(args, sources)
    except BakecError as err:
        sys.stdout.write(render(err, sources))
        sys.stdout.write("1 error(s), 0 warning(s)\n")
        return err.exit_code
    findings = check(definition, args.targets)
    for finding in findings:
        sys.stdout.write(f"{finding}\n")
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    sys.stdout.write(f"{errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0
