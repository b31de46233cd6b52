"""``bakec plan``: print the combined graph of the requested targets."""

from __future__ import annotations

import sys

from .main import load_definition


def run_plan(args, sources: dict[str, bytes]) -> int:
    from ..graph.plan import plan, render

    definition = load_definition(args, sources)
    graph = plan(definition, list(args.targets), list(args.overrides))
    sys.stdout.write(render(graph, args.format))
    return 0
