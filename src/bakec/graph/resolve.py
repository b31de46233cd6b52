"""Base-image resolution: a separate, swappable step before planning.

An :class:`ImageResolver` answers "what is ``ref`` for ``platform``" with the
manifest digest and image config (the frontend's
:class:`~bakec.dockerfile.ResolvedImage`), or ``None`` to plan from the
reference as written. :class:`OfflineResolver` never answers;
:class:`RegistryResolver` adapts :class:`bakec.registry.RegistryClient` (its
``resolve(ref, platform)`` → ``.manifest_digest``/``.config``) or any client
with ``resolve_image(ref, platform) -> (digest, config)`` (fakes in tests),
and memoises per reference and platform, so 24 targets on one base cost one
lookup. The graph layer imports no registry code: the CLI passes a client in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from bakec.dockerfile.model import ResolvedImage

if TYPE_CHECKING:  # the frontend is imported when a build compiles, after its contexts' walks start
    from bakec.dockerfile.model import ResolvedImage

__all__ = [
    "ImageResolver",
    "OfflineResolver",
    "RegistryClient",
    "RegistryResolver",
    "StaticResolver",
]


class ImageResolver(Protocol):
    def resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        """The pinned digest and config of ``ref`` on ``platform`` (``os/arch[/variant]``)."""
        ...


class RegistryClient(Protocol):
    """The minimal client shape: follow an index to ``platform``'s manifest.

    Returns ``(manifest digest, image config JSON object)``, or raises.
    ``bakec.registry.RegistryClient`` is adapted by :class:`RegistryResolver` too.
    """

    def resolve_image(self, ref: str, platform: str) -> tuple[str, dict[str, Any]]: ...


class OfflineResolver:
    """Plans with references as written: no digests, empty base configs."""

    def resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        return None


class StaticResolver:
    """Answers from a fixed table ``{ref: ResolvedImage}`` or ``{(ref, platform): ResolvedImage}``."""

    def __init__(self, images: Mapping[Any, ResolvedImage]) -> None:
        self.images = dict(images)

    def resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        return self.images.get((ref, platform)) or self.images.get(ref)


class RegistryResolver:
    """Pins digest and config per platform through a registry client, memoised."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._memo: dict[tuple[str, str], ResolvedImage] = {}

    def resolve(self, ref: str, platform: str) -> ResolvedImage | None:
        key = (ref, platform)
        found = self._memo.get(key)
        if found is None:
            if hasattr(self.client, "resolve_image"):
                digest, config = self.client.resolve_image(ref, platform)
            else:  # bakec.registry.RegistryClient
                image = self.client.resolve(ref, platform)
                digest, config = image.manifest_digest, image.config

            found = self._memo[key] = ResolvedImage.from_config(ref, digest, config)
        return found
