"""The contexts of a remote bake definition's targets, resolved against its URL (buildx ``updateContext``).

``.`` is the remote URL itself, another relative path a subdir of it (bakec writes it as
``url#ref:subdir``, buildx as a copy of that path), and ``cwd://``, ``target:``,
``docker-image://`` and URLs stay as written, so ``cwd://`` still means the local directory.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from bakec.util.gitref import is_remote_url, parse_git_url
from bakec.util.gopath import clean as go_clean

_KEPT_PREFIXES = ("cwd://", "target:", "docker-image://", "oci-layout://")


def remote_contexts(
    context: str | None, contexts: Mapping[str, str] | None, url: str
) -> tuple[str, dict[str, str] | None]:
    """A target's ``context`` and ``contexts`` with local paths taken from the remote ``url``."""

    def moved(value: str) -> str:
        if value.startswith(_KEPT_PREFIXES) or is_remote_url(value):
            return value
        return url if go_clean(value) == "." else subdir_url(url, value)

    named = (
        {k: (url if v == "." else moved(v)) for k, v in contexts.items()} if contexts is not None else None
    )
    return moved(context if context is not None else "."), named


def subdir_url(url: str, path: str) -> str:
    """``https://h/r.git#main:a`` + ``b/c`` → ``https://h/r.git#main:a/b/c`` (``..`` stops at the root)."""
    ref = parse_git_url(url)
    sub = posixpath.normpath(posixpath.join("/", ref.subdir, go_clean(path).lstrip("/"))).lstrip("/")
    if not sub:
        return f"{ref.remote}#{ref.ref}" if ref.ref else ref.remote
    return f"{ref.remote}#{ref.ref}:{sub}"
