"""Remote bake definitions: ``bakec build <git-url> [<context-url>] [TARGET...]``, as buildx does.

The first positional argument, when it is a URL, names a git repository (``#ref:subdir``
allowed) whose bake files are read instead of the local ones: the default file names
are looked up in the checked-out tree (its subdir), ``-f NAME`` names a file there and
``-f cwd://NAME`` a local one. A second URL becomes ``BAKE_CMD_CONTEXT`` (default
``cwd://``). Contexts then follow buildx's ``updateContext``: ``.`` is the remote URL
itself, another relative path a subdir of it (bakec writes it as ``url#ref:subdir``,
buildx as a copy of that path), and ``cwd://``, ``target:``, ``docker-image://`` and
URLs stay as written, so ``cwd://`` still means the local directory.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from bakec.bake.definition import Definition, load
from bakec.errors import SpecError
from bakec.source.git import GitFetcher
from bakec.state import resolve_state_dir
from bakec.util.gitref import is_git_url, is_remote_url, redact


def split_remote_args(targets: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """(definition URL, command-context URL, remaining targets) of ``bakec build``'s positionals."""
    rest = list(targets)
    url = cmd_context = None
    if rest and is_remote_url(rest[0]):
        url = rest.pop(0)
        if rest and is_remote_url(rest[0]):
            cmd_context = rest.pop(0)
    return url, cmd_context, rest


def load_remote(
    url: str,
    files: Sequence[str] = (),
    *,
    env: Mapping[str, str],
    cwd: str,
    vars: Mapping[str, str] | None = None,
    state_dir: str | None = None,
    cmd_context: str | None = None,
) -> Definition:
    """Fetch ``url`` and load the bake files it holds; the result's contexts resolve against it."""
    if not is_git_url(url):
        raise SpecError(f"remote bake definition {redact(url)}: only git URLs are supported")
    root = GitFetcher(resolve_state_dir(state_dir, env) / "git").context_dir(url)
    names = [
        os.path.join(cwd, name[len("cwd://") :]) if name.startswith("cwd://") else name for name in files
    ]
    definition = load(names, env=env, cwd=str(root), vars=vars, cmd_context=cmd_context or "cwd://")
    return dataclasses.replace(definition, cwd=cwd, remote=url)
