"""``bakec plan``: print the combined graph of the requested targets (or, with ``--diff``, what changed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bakec.cli.common import load_definition, parse_vars
from bakec.errors import BakecError, UsageError


def run_plan(args, sources: dict[str, bytes]) -> int:
    from bakec.graph.plan import plan, render, to_dict

    if args.diff and args.format not in ("text", "json"):
        raise UsageError("--diff prints text or json")
    definition = load_definition(args, sources)
    records = _records_dir(args.state_dir) if args.format == "html" else None
    # a report compares with builds, which pin base images in the registry: plan as they did
    resolve = args.resolve or ("registry" if records is not None else "offline")
    resolver = None
    if resolve == "registry":
        from bakec.graph.resolve import RegistryResolver
        from bakec.registry import RegistryClient

        resolver = RegistryResolver(RegistryClient())
    try:
        # file lists of local sources go into JSON plans: what a later --diff names changed files with
        files = args.format == "json" or bool(args.diff)
        try:
            graph = plan(definition, list(args.targets), list(args.overrides), resolver=resolver, files=files)
        except BakecError as e:
            if args.resolve or resolver is None:
                raise
            # pins were only wanted to match recorded builds: a plan as written still shows the graph
            sys.stderr.write(f"bakec plan: {e}; showing base images as written, unmatched with builds\n")
            graph = plan(definition, list(args.targets), list(args.overrides), files=files)
        if args.diff:
            from bakec.explain import plandiff

            old = plandiff.old_plan(
                args.diff,
                files=args.files,
                names=args.targets,
                overrides=args.overrides,
                env=dict(os.environ),
                vars=parse_vars(args.vars),
                cwd=os.getcwd(),
                resolver=resolver,
            )
            report = plandiff.diff_plans(to_dict(graph), old, definition.cwd)
            render_diff = plandiff.render_json if args.format == "json" else plandiff.render_text
            sys.stdout.write(render_diff(report))
            return 0
    finally:
        if resolver is not None:
            resolver.client.close()
    if args.format == "html":
        from bakec.graph.report import render_html
        from bakec.solver.records import latest_steps

        steps = latest_steps(records.parent, graph.nodes) if records is not None else {}
        sys.stdout.write(render_html(graph, steps, cwd=definition.cwd))
        return 0
    sys.stdout.write(render(graph, args.format))
    return 0


def _records_dir(state_dir: str | None) -> Path | None:
    """The build records a report shows (``--state-dir``, else the default one when it has records)."""
    from bakec.solver.records import builds_dir
    from bakec.state import resolve_state_dir

    folder = builds_dir(resolve_state_dir(state_dir))
    if folder.is_dir():
        return folder
    if state_dir:  # the page is still a plan; say why it has no timings
        sys.stderr.write(f"bakec plan: no build records in {folder}: showing the plan only\n")
    return None
