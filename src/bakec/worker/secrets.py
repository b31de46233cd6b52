"""Build secrets: where each ``secret`` id's value comes from, read only when a RUN mounts it.

The store holds sources (a file path or an environment variable name), never values: a
value is read from its source at the moment a ``RUN --mount=type=secret`` needs it, goes
into a tmpfs or the process environment, and is dropped. Ids are the only thing the
graph, the cache and the logs ever see.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bakec.errors import BuildError

MAX_SECRET_SIZE = 500 * 1024
"""BuildKit's limit for one secret."""


@dataclass(frozen=True)
class SecretSource:
    """A file (``path``) or an environment variable (``env``) holding one secret."""

    path: str = ""
    env: str = ""


@dataclass
class SecretStore:
    """Secret sources by id, from bake's ``secret`` entries (``id=x,src=file`` or ``id=x,env=VAR``)."""

    sources: dict[str, SecretSource] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, str]], environ: Mapping[str, str], cwd: str) -> SecretStore:
        """BuildKit's secret store setup: an entry without ``src`` or ``env`` reads the
        environment variable named like its id when it is set, else the file named like it.

        When several targets give the same id, the first entry wins (one build session).
        """
        store = cls(environ=dict(environ))
        for entry in entries:
            sid = entry.get("id", "")
            if not sid or sid in store.sources:
                continue
            src, env = entry.get("src", ""), entry.get("env", "")
            if not src and not env:
                if sid in environ:
                    env = sid
                else:
                    src = sid
            store.sources[sid] = SecretSource(os.path.join(cwd, src), "") if src else SecretSource("", env)
        return store

    def __contains__(self, sid: str) -> bool:
        return sid in self.sources

    def read(self, sid: str) -> bytes | None:
        """The secret's value, or None when no source was given for ``sid``."""
        source = self.sources.get(sid)
        if source is None:
            return None
        if source.env:
            value = self.environ.get(source.env)
            return None if value is None else value.encode()
        try:
            with open(source.path, "rb") as handle:
                data = handle.read(MAX_SECRET_SIZE + 1)
        except OSError as err:
            raise BuildError(f"secret {sid}: cannot read its source: {err.strerror}") from None
        if len(data) > MAX_SECRET_SIZE:
            raise BuildError(f"secret {sid} too big. max size 500KB")
        return data


__all__ = ["MAX_SECRET_SIZE", "SecretSource", "SecretStore"]
