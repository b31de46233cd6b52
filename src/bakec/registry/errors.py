"""Errors of the registry client: every one names the registry, the repository and what failed."""

from __future__ import annotations

from bakec.errors import BakecError

__all__ = [
    "AuthenticationError",
    "DigestMismatch",
    "InvalidReference",
    "NoMatchingPlatform",
    "NotFound",
    "RegistryError",
]


class RegistryError(BakecError):
    """A registry operation failed.

    ``registry`` is the host (``docker.io``, ``127.0.0.1:5000``), ``repository``
    the path inside it, ``code`` the distribution error code when the registry
    sent one (``MANIFEST_UNKNOWN``), ``status`` the HTTP status when there was one.
    """

    def __init__(
        self,
        summary: str,
        detail: str = "",
        *,
        registry: str = "",
        repository: str = "",
        code: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(summary, detail)
        self.registry = registry
        self.repository = repository
        self.code = code
        self.status = status


class InvalidReference(RegistryError):
    """An image reference or digest does not follow docker's grammar."""

    def __init__(self, summary: str, *, reference: str) -> None:
        super().__init__(summary, f"reference {reference!r}" if reference else "")
        self.reference = reference


class AuthenticationError(RegistryError):
    """The registry or its token server refused us (401/403, ``denied``, ``unauthorized``)."""


class NotFound(RegistryError):
    """The repository, manifest or blob does not exist (``*_UNKNOWN``, 404)."""


class DigestMismatch(RegistryError):
    """Content did not hash to the digest it was asked for or announced with."""


class NoMatchingPlatform(RegistryError):
    """An index has no manifest for the wanted platform."""
