"""``bakec check``: report problems in bake files and the Dockerfiles and contexts of the selected
targets, without building (no daemon, no network). ``--strict`` fails on warnings too;
``--format json`` prints the findings as one JSON document (schema in the README)."""

from __future__ import annotations

import json
import sys

from bakec.bake.check import Finding, check_resolved
from bakec.cli.common import load_definition
from bakec.errors import BakecError, render
from bakec.graph.check import check_targets


def run_check(args, sources: dict[str, bytes]) -> int:

    try:
        definition = load_definition(args, sources)
    except BakecError as err:
        finding = Finding("error", err.summary + (f"; {err.detail}" if err.detail else ""), err.range, "bake")
        return _report([finding], args, excerpt=render(err, sources))
    findings, targets = check_resolved(definition, args.targets)
    if targets:
        findings += check_targets(targets, cwd=definition.cwd)
    return _report(findings, args)


def _report(findings: list, args, excerpt: str = "") -> int:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    failed = bool(errors) or (args.strict and bool(warnings))
    if args.format == "json":
        document = {
            "findings": [f.as_json() for f in findings],
            "errors": errors,
            "warnings": warnings,
            "ok": not failed,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        if excerpt:
            sys.stdout.write(excerpt)
        else:
            sys.stdout.writelines(f"{finding}\n" for finding in findings)
        sys.stdout.write(f"{errors} error(s), {warnings} warning(s)\n")
    return 1 if failed else 0
