"""``bakec build``: resolve the definition, then print, list or build it."""

from __future__ import annotations

import sys

from bakec.cli.common import load_definition
from bakec.errors import UsageError


def _flag_overrides(args) -> list[str]:
    from bakec.bake.overrides import shorthand_overrides

    call = "check" if args.check else args.call
    return shorthand_overrides(
        push=args.push,
        load=args.load,
        call=call,
        no_cache=args.no_cache,
        pull=args.pull,
        sbom=args.sbom,
        provenance=args.provenance,
        policy=args.policy,
    )


def run_build(args, sources: dict[str, bytes]) -> int:
    if args.print_ and args.list_:
        raise UsageError("--print and --list are mutually exclusive")
    definition = load_definition(args, sources)
    if args.list_:
        from bakec.bake.listing import render_list

        sys.stdout.write(render_list(definition, args.list_))
        return 0
    targets = list(args.targets)
    if targets == ["all"] or "all" in targets:
        targets = _expand_all(definition, targets)
    flag_overrides = _flag_overrides(args)
    from bakec.bake.overrides import validate_allow

    validate_allow(args.allow)
    if args.print_:
        sys.stdout.write(definition.print_json(targets, args.overrides, flag_overrides=flag_overrides))
        return 0
    from bakec.builder import BuildOptions, build

    options = BuildOptions(
        state_dir=args.state_dir,
        builder=args.builder,
        progress=args.progress,
        max_parallelism=args.max_parallelism,
        keep_going=args.keep_going,
        no_cache=bool(args.no_cache),
        allow=args.allow,
        metadata_file=args.metadata_file,
        check_fs=True,
    )
    build(definition, targets, args.overrides, flag_overrides=flag_overrides, options=options)
    return 0


def _expand_all(definition, targets: list[str]) -> list[str]:
    """``all`` means every listed target, unless the files define ``all`` themselves."""
    if "all" in definition.targets or "all" in definition.groups:
        return targets
    everything = [name for name in sorted(definition.targets) if not name.startswith("_")]
    out: list[str] = []
    for name in targets:
        for expanded in everything if name == "all" else [name]:
            if expanded not in out:
                out.append(expanded)
    return out
