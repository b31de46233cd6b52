"""Builds with a lockfile: base images resolved to their pinned digests, git refs to pinned commits."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bakec.graph.resolve import ImageResolver
from bakec.lock.model import Lockfile
from bakec.source.git import GitCheckout, GitFetcher
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

    def checkout(self, url: str) -> GitCheckout:
        """``url`` checked out at its locked commit when the lock pins it, else at its ref."""
        commit = self.lock.git.get(url)
        if not commit:
            return super().checkout(url)
        return GitCheckout(commit, super().checkout(pinned_git_url(url, commit)).path)
