"""``bakec build``: resolve the definition, then print, list or build it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from bakec.bake.listing import render_list
from bakec.bake.overrides import shorthand_overrides, validate_allow
from bakec.cli.common import expand_all, load_definition
from bakec.errors import UsageError


def _flag_overrides(args) -> list[str]:

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
    if _fleet_job(args):
        return _run_fleet_job(args, sources)
    if args.print_ and args.list_:
        raise UsageError("--print and --list are mutually exclusive")
    remote_url = None
    if not (args.print_ or args.list_):  # a lock never changes what --print shows
        from bakec.cli.lock import pin_remote_args

        remote_url = pin_remote_args(args)
    definition = load_definition(args, sources)
    if args.list_:
        sys.stdout.write(render_list(definition, args.list_))
        return 0
    targets = list(args.targets)
    if targets == ["all"] or "all" in targets:
        targets = expand_all(definition, targets)
    flag_overrides = _flag_overrides(args)

    validate_allow(args.allow)
    if args.print_:
        sys.stdout.write(definition.print_json(targets, args.overrides, flag_overrides=flag_overrides))
        return 0
    _refuse_other_builders(args.builder)
    resolved = definition.resolve(targets, args.overrides, flag_overrides=flag_overrides)
    calls = {name: _call_method(t.call) for name, t in resolved.targets.items()}
    if set(calls.values()) - {"build"}:
        return _run_call(definition, resolved.targets, calls)
    from bakec.builder import BuildOptions, build
    from bakec.cli.lock import build_lock

    lock = build_lock(args, definition, remote_url)

    options = BuildOptions(
        state_dir=args.state_dir,
        containerd_address=args.containerd_address,
        progress=_progress_mode(args.progress, os.environ),
        max_parallelism=args.max_parallelism,
        keep_going=args.keep_going,
        no_cache=bool(args.no_cache),
        allow=args.allow,
        metadata_file=args.metadata_file,
        check_fs=True,
        lock=lock,
    )
    build(definition, targets, args.overrides, flag_overrides=flag_overrides, options=options)
    return 0


def _progress_mode(flag: str | None, env: Mapping[str, str]) -> str:
    """``--progress``, else ``$BUILDKIT_PROGRESS`` (as buildx reads it), else ``auto``."""
    from bakec.progress.render import MODES

    mode = flag or env.get("BUILDKIT_PROGRESS") or "auto"
    if mode not in MODES:
        raise UsageError(f"invalid progress mode {mode} (BUILDKIT_PROGRESS)")
    return mode


_CALL_METHODS = {
    "build": "build",
    "check": "check",
    "lint": "check",
    "targets": "targets",
    "outline": "outline",
}


def _call_method(value: str | None) -> str:
    """A target's ``call`` (``--check`` prints as ``lint``), refused when it is not a method buildx has."""
    method = (value or "build").split(",")[0].strip()
    if method not in _CALL_METHODS:
        raise UsageError(f'unsupported call method "{method}" (expected build, check, outline or targets)')
    return _CALL_METHODS[method]


def _fleet_job(args) -> bool:
    """Whether this is one job of a fleet plan (``--plan FILE`` with ``--shard ID`` or ``--publish``)."""
    plan, shard, publish = args.fleet_plan, args.fleet_shard, args.fleet_publish
    if not (plan or shard or publish):
        return False
    if not plan:
        raise UsageError("--shard and --publish run a job of a fleet plan: add --plan FILE")
    if bool(shard) == bool(publish):
        raise UsageError("--plan FILE needs exactly one of --shard ID (run one shard) or --publish")
    if args.targets:
        raise UsageError(
            f"build --plan builds the targets the plan was made for; drop {' '.join(args.targets)}"
        )
    if args.files or args.overrides or args.vars:
        raise UsageError(
            "build --plan applies the plan's -f, --set and --var; give them to bakec plan instead"
        )
    if shard and (args.push or args.load or args.metadata_file):
        raise UsageError(
            "a shard pushes no tag and writes no output: --push, --load and --metadata-file go with --publish"
        )
    return True


def _run_fleet_job(args, sources: dict[str, bytes]) -> int:
    """``build --plan FILE --shard ID`` or ``--publish``, with the plan's bake files, targets and variables."""
    from bakec.builder import BuildOptions
    from bakec.fleet_run import load_plan, run_job

    plan = load_plan(args.fleet_plan)
    inputs = plan["inputs"]
    args.files = list(inputs["files"])
    args.vars = [f"{k}={v}" for k, v in inputs["var"].items()]
    definition = load_definition(args, sources)
    from bakec.bake.overrides import validate_allow

    validate_allow(args.allow)
    options = BuildOptions(
        state_dir=args.state_dir,
        progress=_progress_mode(args.progress, os.environ),
        max_parallelism=args.max_parallelism,
        allow=args.allow,
        metadata_file=args.metadata_file,
        check_fs=True,
    )
    run_job(
        definition,
        plan,
        shard=args.fleet_shard,
        options=options,
        plan_path=args.fleet_plan,
        flag_overrides=_flag_overrides(args),
    )
    return 0


def _refuse_other_builders(builder: str | None) -> None:
    """``--builder`` names a buildx builder; bakec has one, its embedded containerd (``default``)."""
    if builder not in (None, "", "default"):
        raise UsageError(
            f'builder "{builder}" not found: bakec builds only on its embedded containerd, '
            'the builder named "default"'
        )


def _run_call(definition, targets: dict, calls: dict[str, str]) -> int:
    """``--call check|targets|outline`` (and ``--check``): report on the Dockerfiles, build nothing."""
    methods = set(calls.values())
    if len(methods) > 1:
        raise UsageError(
            "targets of one run have different call methods ("
            + ", ".join(f"{n}: {m}" for n, m in sorted(calls.items()))
            + "); run them separately"
        )
    method = methods.pop()
    if method == "outline":
        from bakec.graph.lint import render_outline

        sys.stdout.write(render_outline(targets, cwd=definition.cwd))
        return 0
    if method == "targets":
        from bakec.graph.lint import render_targets

        sys.stdout.write(render_targets(targets, cwd=definition.cwd))
        return 0
    from bakec.graph.lint import lint_targets, render_lint

    results = lint_targets(targets, cwd=definition.cwd)
    sys.stdout.write(render_lint(results))
    return 1 if any(r.warnings for r in results) else 0
