"""``bakec plan``: print the combined graph of the requested targets, what changed (``--diff``),
or the graph split for a CI fleet (``--shards``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from bakec.cli.common import load_definition, parse_vars
from bakec.errors import BakecError, UsageError

_PIPELINES = ("github-actions", "gitlab", "tekton")


def run_plan(args, sources: dict[str, bytes]) -> int:
    from bakec.graph.plan import plan, render, to_dict

    fleet = args.shards is not None or args.format in _PIPELINES
    args.format = args.format or ("json" if fleet else "text")
    if args.diff and (fleet or args.format not in ("text", "json")):
        raise UsageError("--diff prints text or json, and not with --shards")
    if fleet:
        _check_fleet_args(args)
    definition = load_definition(args, sources)
    records = _records_dir(args.state_dir) if args.format == "html" else None
    # a report and recorded costs match builds, which pin base images in the registry: plan as they did
    like_builds = fleet or records is not None or bool(args.record_costs)
    args.resolve = args.resolve or ("registry" if like_builds else "offline")
    resolver: Any = None
    if args.resolve == "registry":
        from bakec.graph.resolve import RegistryResolver
        from bakec.registry import RegistryClient

        client = RegistryClient()
        resolver = RegistryResolver(client)
        if fleet:
            resolver = _OfflineWhenUnreachable(_locked(args, resolver), client)
    build_platform = None
    if fleet or args.record_costs:
        from bakec.bake.definition import local_platform

        build_platform = local_platform()
    try:
        # file lists of local sources go into JSON plans: what a later --diff names changed files with
        files = (args.format == "json" and not fleet) or bool(args.diff)
        try:
            graph = plan(
                definition,
                list(args.targets),
                list(args.overrides),
                resolver=resolver,
                build_platform=build_platform,
                files=files,
            )
        except BakecError as e:
            if fleet or records is None or resolver is None:
                raise
            # pins were only wanted to match recorded builds: a plan as written still shows the graph
            sys.stderr.write(f"bakec plan: {e}; showing base images as written, unmatched with builds\n")
            graph = plan(definition, list(args.targets), list(args.overrides), files=files)
        if args.record_costs:
            _record_costs(args.record_costs, args.state_dir, graph)
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
    if not fleet:
        sys.stdout.write(render(graph, args.format))
        return 0
    note = ""
    if isinstance(resolver, _OfflineWhenUnreachable) and resolver.unreachable:
        note = (
            "registry unreachable when planning ("
            + "; ".join(resolver.unreachable)
            + "): these images are planned from their references as written (digest null)"
        )
    from bakec.lock.resolve import LockedResolver

    pinned_by_lock = isinstance(resolver, _OfflineWhenUnreachable) and isinstance(
        resolver.inner, LockedResolver
    )
    resolved_by = "lock" if pinned_by_lock else args.resolve
    sys.stdout.write(_render_fleet(args, graph, build_platform or "", note, resolved_by))
    return 0


def _locked(args, resolver):
    """A fleet plan takes base images from ``bakec.lock`` when there is one; the shards never resolve again."""
    from bakec.cli.lock import lock_path
    from bakec.lock.model import Lockfile
    from bakec.lock.resolve import LockedResolver

    path = lock_path(argparse.Namespace(lock=None, files=args.files, targets=args.targets))
    if not path.is_file():
        return resolver
    return LockedResolver(Lockfile.read(path), resolver)


class _OfflineWhenUnreachable:
    """A fleet plan pins base images through the registry, and says so when it cannot reach one."""

    def __init__(self, inner, client) -> None:
        self.inner = inner
        self.client = client
        self.unreachable: list[str] = []

    def resolve(self, ref: str, platform: str):
        from bakec.registry.errors import RegistryError

        try:
            return self.inner.resolve(ref, platform)
        except RegistryError as err:
            if err.status is not None or "cannot reach" not in err.summary:
                raise
            self.unreachable.append(f"{ref} ({platform})")
            return None


def _check_fleet_args(args) -> None:
    if args.shards is None:
        raise UsageError(f"--format {args.format} emits a CI pipeline for a fleet plan: add --shards N")
    if args.shards < 1:
        raise UsageError(f"--shards must be at least 1, got {args.shards}")
    if not args.cache_repo:
        raise UsageError(
            "--shards needs --cache-repo REPO: the registry repository the shards exchange results through"
        )
    if args.format not in ("json", *_PIPELINES):
        raise UsageError(
            f"--format {args.format} cannot show a fleet plan: use json, github-actions, gitlab or tekton"
        )
    if "/" in args.plan_file or args.plan_file.startswith("-"):
        raise UsageError(
            f"--plan-file {args.plan_file}: a file name next to the bake files, without a directory"
        )


def _render_fleet(args, graph, build_platform: str, note: str, resolved_by: str) -> str:
    from bakec.fleet.costs import estimate, load_costs
    from bakec.fleet.document import PlanInputs, fleet_plan, render_plan
    from bakec.fleet.shards import split

    measured = load_costs(args.costs) if args.costs else None
    costs = estimate(graph, build_platform, measured)
    shards = split(graph, args.shards, costs)
    inputs = PlanInputs(
        files=list(args.files),
        targets=list(args.targets),
        overrides=list(args.overrides),
        variables=parse_vars(args.vars),
        build_platform=build_platform,
        resolver=resolved_by,
        resolver_note=note,
        costs=args.costs or "static",
        plan_file=args.plan_file,
        shards=args.shards,
    )
    document = fleet_plan(graph, shards, inputs, args.cache_repo)
    if args.format == "json":
        return render_plan(document)
    if args.format == "github-actions":
        from bakec.fleet.github import workflow

        return workflow(document)
    if args.format == "gitlab":
        from bakec.fleet.gitlab import child_pipeline

        return child_pipeline(document)
    from bakec.fleet.tekton import tekton_objects

    return tekton_objects(document)


def _record_costs(path: str, state_dir: str | None, graph) -> None:
    """``--record-costs FILE``: how long each op of ``graph`` took the newest build that ran it."""
    from bakec.fleet.costs import render_costs
    from bakec.solver.records import builds_dir, latest_steps
    from bakec.state import resolve_state_dir

    state = resolve_state_dir(state_dir)
    # a cache hit takes no time, and is no measure of what the step costs a fresh runner
    steps = latest_steps(state, graph.nodes, states=("ran", "source"))
    text = render_costs(steps)
    if not steps:
        sys.stderr.write(f"bakec plan: no recorded step of this graph in {builds_dir(state)}\n")
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise UsageError(f"--record-costs {path}: {exc.strerror or exc}") from None


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
