"""Builds with a lockfile: base images resolved to their pinned digests, git refs to pinned commits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bakec.graph.resolve import ImageResolver
from bakec.lock.model import Lockfile
from bakec.source.git import GitFetcher
from bakec.util.gitref import parse_git_url

if TYPE_CHECKING:  # the frontend is imported when a build compiles
    from bakec.dockerfile.model import ResolvedImage

__all__ = ["LockedFetcher", "LockedResolver", "pinned_git_url"]


class LockedResolver:
    """Answers pinned references with their locked manifest (pulled by digest), others via ``inner``."""

    def __init__(self, lock: Lockfile, inner: ImageResolver) -> None:
        self.lock = lock
        self.inner = inner

    def resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        digest = self.lock.image_digest(ref, platform)
        if digest is None:
            return self.inner.resolve(ref, platform)
        found = self.inner.resolve(f"{ref}@{digest}", platform)  # the registry is asked by digest only
        if found is None:
            return None
        return type(found)(ref, digest, found.config)


def pinned_git_url(url: str, commit: str) -> str:
    """``url`` with its ref replaced by ``commit`` (subdir kept)."""
    ref = parse_git_url(url)
    return f"{ref.remote}#{commit}" + (f":{ref.subdir}" if ref.subdir else "")


class LockedFetcher(GitFetcher):
    """A :class:`GitFetcher` that checks pinned URLs out at their locked commit."""

    def __init__(self, root: Path | str, lock: Lockfile) -> None:
        super().__init__(root)
        self.lock = lock

    def context_dir(self, url: str) -> Path:
        commit = self.lock.git.get(url)
        return super().context_dir(pinned_git_url(url, commit) if commit else url)

    def commit(self, url: str) -> str:
        commit = self.lock.git.get(url)
        if commit:
            super().context_dir(pinned_git_url(url, commit))
            return commit
        return super().commit(url)
