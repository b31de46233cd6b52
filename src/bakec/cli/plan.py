"""``bakec plan``: print the combined graph of the requested targets (or, with ``--diff``, what changed)."""

from __future__ import annotations

import os
import sys

from bakec.cli.common import load_definition, parse_vars
from bakec.errors import UsageError


def run_plan(args, sources: dict[str, bytes]) -> int:
    from bakec.graph.plan import plan, render, to_dict

    if args.diff and args.format not in ("text", "json"):
        raise UsageError("--diff prints text or json")
    definition = load_definition(args, sources)
    resolver = None
    if args.resolve == "registry":
        from bakec.graph.resolve import RegistryResolver
        from bakec.registry import RegistryClient

        resolver = RegistryResolver(RegistryClient())
    try:
        # file lists of local sources go into JSON plans: what a later --diff names changed files with
        files = args.format == "json" or bool(args.diff)
        graph = plan(definition, list(args.targets), list(args.overrides), resolver=resolver, files=files)
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
    sys.stdout.write(render(graph, args.format))
    return 0
