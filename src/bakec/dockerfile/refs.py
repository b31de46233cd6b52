"""Image references and platforms, normalised the way BuildKit does.

Only what the frontend needs: ``docker.io/library`` expansion, default ``latest``
tag, the familiar name used to look up named contexts, and containerd's platform
parse (:func:`parse_platform`); the ``Platform`` type and its normalisation are
:mod:`bakec.util.platform`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bakec.util.platform import Platform

__all__ = ["ImageRef", "normalize_platform", "parse_platform", "parse_ref"]

_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$"
)


class RefError(ValueError):
    pass


@dataclass(frozen=True)
class ImageRef:
    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def tag_name_only(self) -> ImageRef:
        """``reference.TagNameOnly``: add ``latest`` when neither tag nor digest is set."""
        if self.tag or self.digest:
            return self
        return ImageRef(self.domain, self.path, "latest", "")

    def with_digest(self, digest: str) -> ImageRef:
        return ImageRef(self.domain, self.path, self.tag, digest)

    def familiar(self) -> str:
        """``reference.FamiliarString``: strip ``docker.io/`` and ``library/``."""
        name = self.name
        if self.domain == "docker.io":
            name = self.path
            if name.startswith("library/") and name.count("/") == 1:
                name = name[len("library/") :]
        if self.tag:
            name += ":" + self.tag
        if self.digest:
            name += "@" + self.digest
        return name


def parse_ref(text: str) -> ImageRef:
    """``reference.ParseNormalizedNamed``."""
    if not text or text != text.strip():
        raise RefError("invalid reference format")
    rest, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise RefError("invalid reference format")
    tag = ""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise RefError("invalid reference format")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        domain, path = first, remainder
        if not _DOMAIN.match(domain):
            raise RefError("invalid reference format")
    else:
        domain, path = "docker.io", rest
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    if path.lower() != path:
        raise RefError(f"invalid reference format: repository name ({path}) must be lowercase")
    if not all(_PATH_COMPONENT.match(part) for part in path.split("/")):
        raise RefError("invalid reference format")
    return ImageRef(domain, path, tag, digest)


def normalize_platform(os_name: str, arch: str, variant: str = "", os_version: str = "") -> Platform:
    """containerd's ``platforms.Normalize`` of the given parts."""
    return Platform(os_name, arch, variant, os_version).normalize()


def parse_platform(text: str, default: Platform | None = None) -> Platform:
    """``platforms.Parse`` for ``os[(version)]/arch[/variant]`` (or a bare arch)."""
    raw = text.strip()
    os_version = ""
    match = re.match(r"^([^/(]*)\(([^)]*)\)(/.*)?$", raw)
    if match:
        raw = match.group(1) + (match.group(3) or "")
        os_version = match.group(2)
    parts = raw.split("/")
    if any(not p for p in parts) or len(parts) > 3:
        raise RefError(f'"{text}": invalid platform specifier')
    known_os = {
        "linux",
        "windows",
        "darwin",
        "freebsd",
        "netbsd",
        "openbsd",
        "solaris",
        "android",
        "illumos",
        "aix",
        "plan9",
        "dragonfly",
        "ios",
        "js",
        "wasip1",
    }
    if len(parts) == 1:
        if parts[0].lower() in known_os:
            base = default or Platform("linux", "amd64")
            return normalize_platform(parts[0], base.architecture, base.variant, os_version)
        return normalize_platform("linux", parts[0], "", os_version)
    if len(parts) == 2:
        return normalize_platform(parts[0], parts[1], "", os_version)
    return normalize_platform(parts[0], parts[1], parts[2], os_version)
