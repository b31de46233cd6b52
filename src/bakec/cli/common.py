"""Helpers every ``bakec`` subcommand shares: loading the bake definition the flags name."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from bakec.bake import files as bakefiles
from bakec.bake.definition import Definition, load
from bakec.bake.remote import load_remote, split_remote_args
from bakec.errors import BakecError, UsageError


def parse_vars(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, eq, rest = value.partition("=")
        if not eq:
            raise UsageError(f'invalid variable "{value}", expected key=value')
        out[name] = rest
    return out


def load_definition(args: argparse.Namespace, sources: dict[str, bytes]) -> Definition:
    """Load the bake files named by ``args`` and remember their text for error excerpts."""
    cli_vars = parse_vars(args.vars)
    env = dict(os.environ)
    url, cmd_context, args.targets = split_remote_args(args.targets)
    try:
        if url:
            definition = load_remote(
                url,
                args.files,
                env=env,
                cwd=os.getcwd(),
                vars=cli_vars,
                state_dir=getattr(args, "state_dir", None),
                cmd_context=cmd_context,
            )
        else:
            definition = load(args.files, env=env, cwd=os.getcwd(), vars=cli_vars)
    except BakecError as err:
        _remember_sources(args.files, env, sources)
        raise err
    sources.update(definition.sources)
    return definition


def _remember_sources(files: Sequence[str], env: dict[str, str], sources: dict[str, bytes]) -> None:
    try:
        for source in bakefiles.read_files(list(files), os.getcwd(), env):
            sources[source.name] = source.data
    except BakecError:
        pass


def expand_all(definition, targets: list[str]) -> list[str]:
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
