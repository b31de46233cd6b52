"""Pinning: what each needed reference is now (registry digests, git commits, content checksums)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bakec.lock.collect import Need
from bakec.lock.model import ImagePin, Lockfile

__all__ = ["Sources", "pin"]


@dataclass
class Sources:
    """Where current values come from; each call may use the network."""

    registry: Any  # bakec.registry.RegistryClient: resolve(ref, platform) → .manifest_digest, .index_digest
    git_commit: Callable[[str], str]  # URL → the commit its ref points at now
    http_checksum: Callable[[str], str]  # URL → sha256 of its content now

    def image(self, ref: str, platform: str) -> tuple[str, str]:
        """(index digest or "", manifest digest for ``platform``) of ``ref`` now."""
        image = self.registry.resolve(ref, platform)
        return image.index_digest, image.manifest_digest

    def current(self, need: Need) -> str:
        """The value a lockfile would record for ``need`` now (images: the manifest digest)."""
        if need.kind == "image":
            return self.image(need.ref, need.platform)[1]
        if need.kind == "http":
            return self.http_checksum(need.ref)
        return self.git_commit(need.ref)  # git and remote


def pin(
    needs: Mapping[Need, str],
    sources: Sources,
    previous: Lockfile | None = None,
    refresh: Callable[[Need], bool] = lambda need: True,
) -> Lockfile:
    """A lockfile holding exactly ``needs``: kept from ``previous`` unless ``refresh(need)``."""
    previous = previous or Lockfile()
    out = Lockfile()
    for need in needs:
        if need.kind == "image":
            old = previous.images.get(need.ref)
            entry = out.images.setdefault(need.ref, ImagePin())
            if old is not None and need.platform in old.platforms and not refresh(need):
                entry.index = entry.index or old.index
                entry.platforms[need.platform] = old.platforms[need.platform]
            else:
                entry.index, entry.platforms[need.platform] = sources.image(need.ref, need.platform)
            continue
        table_old = getattr(previous, need.kind)
        table = getattr(out, need.kind)
        table[need.ref] = (
            table_old[need.ref] if need.ref in table_old and not refresh(need) else sources.current(need)
        )
    return out
