"""Build secrets: where each ``secret`` id's value comes from, read only when a RUN mounts it.

The store holds sources (a file path or an environment variable name) per target, never
values: a value is read from its source at the moment a ``RUN --mount=type=secret`` needs
it, goes into a tmpfs or the process environment, and is dropped. Ids are the only thing
the graph, the cache and the logs ever see. Each target's RUNs read that target's entries,
as each bake target is its own BuildKit session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from bakec.errors import BuildError

T = TypeVar("T")

MAX_SECRET_SIZE = 500 * 1024
"""BuildKit's limit for one secret."""


def scoped(sources: Mapping[tuple[str, str], T], sid: str, scope: str) -> T | None:
    """The entry target ``scope`` gives for ``sid``; a mount without a scope takes the first target's.

    Secrets and ssh forwards are looked up alike (:class:`bakec.worker.ssh.SshForwards`).
    """
    source = sources.get((scope, sid))
    if source is None and not scope:
        source = next((src for (_, i), src in sources.items() if i == sid), None)
    return source


@dataclass(frozen=True)
class SecretSource:
    """A file (``path``) or an environment variable (``env``) holding one secret."""

    path: str = ""
    env: str = ""


@dataclass
class SecretStore:
    """Secret sources by target ("scope") and id, from bake's ``secret`` entries."""

    sources: dict[tuple[str, str], SecretSource] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_targets(
        cls, targets: Mapping[str, Iterable[Mapping[str, str]]], environ: Mapping[str, str], cwd: str
    ) -> SecretStore:
        """Each target's entries (``id=x,src=file`` or ``id=x,env=VAR``), as BuildKit's secret store reads them:
        an entry without ``src`` or ``env`` uses the environment variable named like its id when
        it is set, else the file named like it. Within a target the first entry of an id wins.
        """
        store = cls(environ=dict(environ))
        for scope, entries in targets.items():
            for entry in entries:
                sid = entry.get("id", "")
                if not sid or (scope, sid) in store.sources:
                    continue
                src, env = entry.get("src", ""), entry.get("env", "")
                if not src and not env:
                    if sid in environ:
                        env = sid
                    else:
                        src = sid
                store.sources[scope, sid] = (
                    SecretSource(os.path.join(cwd, src), "") if src else SecretSource("", env)
                )
        return store

    @classmethod
    def from_entries(
        cls, entries: Iterable[Mapping[str, str]], environ: Mapping[str, str], cwd: str
    ) -> SecretStore:
        """One set of entries for every mount (scope "")."""
        return cls.from_targets({"": entries}, environ, cwd)

    def read(self, sid: str, scope: str = "") -> bytes | None:
        """The value of ``sid`` as target ``scope`` gives it, or None when it gives none.

        A mount without a scope takes the first target's entry for the id.
        """
        source = scoped(self.sources, sid, scope)
        if source is None:
            return None
        if source.env:
            value = self.environ.get(source.env)
            return (
                None if value is None else value.encode("utf-8", "surrogateescape")
            )  # the bytes os.environ decoded
        try:
            with open(source.path, "rb") as handle:
                data = handle.read(MAX_SECRET_SIZE + 1)
        except OSError as err:
            raise BuildError(f"secret {sid}: cannot read its source: {err.strerror}") from None
        if len(data) > MAX_SECRET_SIZE:
            raise BuildError(f"secret {sid} too big. max size 500KB")
        return data


__all__ = ["MAX_SECRET_SIZE", "SecretSource", "SecretStore", "scoped"]
