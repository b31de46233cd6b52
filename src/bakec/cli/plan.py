"""``bakec plan``: print the combined graph of the requested targets."""

from __future__ import annotations

import sys

from bakec.cli.common import load_definition


def run_plan(args, sources: dict[str, bytes]) -> int:
    from bakec.graph.plan import plan, render

    definition = load_definition(args, sources)
    resolver = None
    if args.resolve == "registry":
        from bakec.graph.resolve import RegistryResolver
        from bakec.registry import RegistryClient

        resolver = RegistryResolver(RegistryClient())
    try:
        graph = plan(definition, list(args.targets), list(args.overrides), resolver=resolver)
    finally:
        if resolver is not None:
            resolver.client.close()
    sys.stdout.write(render(graph, args.format))
    return 0
