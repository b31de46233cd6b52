"""Platforms and the index matcher, as containerd's ``platforms`` package does them.

One ``Platform`` type for the whole build: the registry client selects manifests with it,
the Dockerfile frontend sets ``TARGETPLATFORM`` from it, the exporters write it into indexes.
``Platform.parse("linux/arm64")`` (``platforms.Parse``), ``normalize`` (``platforms.Normalize``),
``str()`` and ``format_all`` (``Format``/``FormatAll``), and :func:`only`, the ordered matcher
containerd's pull uses: ``linux/arm64`` also takes ``arm64/v8`` entries (and, after them,
``arm/v8`` … ``arm/v5``), ``amd64`` also takes ``386``.
"""

from __future__ import annotations

import platform as _host
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bakec.errors import BakecError

__all__ = ["Matcher", "Platform", "PlatformError", "default_platform", "only"]


class PlatformError(BakecError):
    """A platform specifier containerd's ``platforms.Parse`` refuses."""


_KNOWN_OS = frozenset(
    [
        "aix",
        "android",
        "darwin",
        "dragonfly",
        "freebsd",
        "hurd",
        "illumos",
        "ios",
        "js",
        "linux",
        "nacl",
        "netbsd",
        "openbsd",
        "plan9",
        "solaris",
        "windows",
        "zos",
    ]
)
_KNOWN_ARCH = frozenset(
    [
        "386",
        "amd64",
        "amd64p32",
        "arm",
        "armbe",
        "arm64",
        "arm64be",
        "ppc64",
        "ppc64le",
        "loong64",
        "mips",
        "mipsle",
        "mips64",
        "mips64le",
        "mips64p32",
        "mips64p32le",
        "ppc",
        "riscv",
        "riscv64",
        "s390",
        "s390x",
        "sparc",
        "sparc64",
        "wasm",
    ]
)
_SPECIFIER_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_OS_AND_VERSION_RE = re.compile(r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$")

# arm64 variant -> (majors, minors): which v8.x / v9.x variants it can run, newest first.
_ARM64_VERSIONS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "v8": ((8,), (0,)),
    "v8.0": ((8,), (0,)),
    **{f"v8.{m}": ((8,), (m,)) for m in range(1, 10)},
    "v9": ((9, 8), (0, 5)),
    "v9.0": ((9, 8), (0, 5)),
    **{f"v9.{m}": ((9, 8), (m, min(m + 5, 9))) for m in range(1, 8)},
}


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: ``os/architecture[/variant]`` (plus the OS version for Windows)."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""

    def __str__(self) -> str:
        """``platforms.Format``: ``os/arch[/variant]`` (empty parts left out, as ``path.Join`` does)."""
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def format_all(self) -> str:
        """``platforms.FormatAll``: as ``str()``, with the OS version in parentheses after the OS."""
        os_part = self.os + (f"({self.os_version})" if self.os_version else "")
        return "/".join(p for p in (os_part, self.architecture, self.variant) if p)

    def json(self) -> dict[str, str]:
        """The OCI ``platform`` object (keys in the image-spec's order)."""
        out = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.variant:
            out["variant"] = self.variant
        return out

    @classmethod
    def from_formatted(cls, text: str) -> Platform:
        """The inverse of ``str()`` for a platform bakec formatted itself: split, not parsed or normalized.

        A missing architecture reads as ``amd64``.
        """
        parts = text.split("/")
        return cls(parts[0], parts[1] if len(parts) > 1 else "amd64", parts[2] if len(parts) > 2 else "")

    @classmethod
    def parse(cls, specifier: str) -> Platform:
        """containerd's ``platforms.Parse`` (a bare OS or arch takes the rest from the host)."""
        if "*" in specifier:
            raise PlatformError(f"invalid platform {specifier!r}", "wildcards not yet supported")
        parts = specifier.split("/", 3)
        match = _OS_AND_VERSION_RE.match(parts[0])
        if match is None:
            raise PlatformError(f"invalid platform {specifier!r}", f"{parts[0]!r} is an invalid OS component")
        os_name, os_version = _normalize_os(match.group(1)), match.group(2) or ""
        for part in parts[1:]:
            if not _SPECIFIER_RE.match(part):
                raise PlatformError(f"invalid platform {specifier!r}", f"{part!r} is an invalid component")
        if len(parts) == 1:
            if os_name in _KNOWN_OS:
                host = default_platform()
                return cls(os_name, host.architecture, host.variant, os_version)
            arch, variant = _normalize_arch(parts[0], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            if arch in _KNOWN_ARCH:
                return cls(default_platform().os, arch, variant)
            raise PlatformError(f"invalid platform {specifier!r}", "unknown operating system or architecture")
        if len(parts) == 2:
            arch, variant = _normalize_arch(parts[1], "")
            if arch == "arm" and variant == "v7":
                variant = ""
            return cls(os_name, arch, variant, os_version)
        if len(parts) == 3:
            arch, variant = _normalize_arch(parts[1], parts[2])
            if arch == "arm64" and variant == "":
                variant = "v8"
            return cls(os_name, arch, variant, os_version)
        raise PlatformError(f"invalid platform {specifier!r}", "cannot parse platform specifier")

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Platform:
        """From an OCI ``platform`` object or an image config (``os``, ``architecture``, ``variant``)."""
        return cls(
            str(value.get("os", "")),
            str(value.get("architecture", "")),
            str(value.get("variant", "") or ""),
            str(value.get("os.version", "") or ""),
        )

    def normalize(self) -> Platform:
        """containerd's ``platforms.Normalize``."""
        arch, variant = _normalize_arch(self.architecture, self.variant)
        return Platform(_normalize_os(self.os), arch, variant, self.os_version)


def _normalize_os(os_name: str) -> str:
    if not os_name:
        return default_platform().os
    os_name = os_name.lower()
    return "darwin" if os_name == "macos" else os_name


def _normalize_arch(arch: str, variant: str) -> tuple[str, str]:
    arch, variant = arch.lower(), variant.lower()
    if arch == "i386":
        return "386", ""
    if arch in ("x86_64", "x86-64", "amd64"):
        return "amd64", "" if variant == "v1" else variant
    if arch in ("aarch64", "arm64"):
        if variant in ("8", "v8", "v8.0"):
            variant = ""
        elif variant in ("9", "9.0", "v9.0"):
            variant = "v9"
        return "arm64", variant
    if arch == "armhf":
        return "arm", "v7"
    if arch == "armel":
        return "arm", "v6"
    if arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = "v" + variant
    return arch, variant


def default_platform() -> Platform:
    """The host's platform (containerd's ``platforms.DefaultSpec`` on Linux)."""
    arch, variant = _normalize_arch(_host.machine() or "amd64", "")
    if arch == "arm" and variant == "v7":
        variant = ""
    return Platform("linux", arch, variant)


def _vector(p: Platform) -> list[Platform]:
    """containerd's ``platformVector``: the platform and the older ones it can run, best first."""
    vector = [p]
    if p.architecture == "amd64":
        level = _variant_number(p.variant)
        if level is not None and level > 1:
            vector += [Platform(p.os, "amd64", f"v{v}", p.os_version) for v in range(level - 1, 0, -1)]
        vector.append(Platform(p.os, "386", "", p.os_version))
    elif p.architecture == "arm":
        level = _variant_number(p.variant)
        if level is not None and level > 5:
            vector += [Platform(p.os, "arm", f"v{v}", p.os_version) for v in range(level - 1, 4, -1)]
    elif p.architecture == "arm64":
        variant = p.variant or "v8"
        vector = []
        versions = _ARM64_VERSIONS.get(variant)
        if versions is not None:
            for major, top in zip(*versions, strict=False):
                for minor in range(top, -1, -1):
                    name = f"v{major}" if minor == 0 else f"v{major}.{minor}"
                    vector.append(Platform(p.os, "arm64", name, p.os_version))
        if variant.startswith(("v8", "v9")):
            variant = "v8"
        vector += _vector(Platform(p.os, "arm", variant, p.os_version))
    return vector


def _variant_number(variant: str) -> int | None:
    try:
        return int(variant.removeprefix("v"))
    except ValueError:
        return None


class Matcher:
    """An ordered platform matcher: :meth:`match` filters, :meth:`rank` orders (lower is better)."""

    def __init__(self, platforms: Iterable[Platform], name: str = "") -> None:
        self._wanted = [p.normalize() for p in platforms]
        self._name = name or (str(self._wanted[0]) if self._wanted else "none")

    def rank(self, candidate: Platform) -> int | None:
        """Position of the first wanted platform the candidate matches, or None."""
        c = candidate.normalize()
        for i, w in enumerate(self._wanted):
            if (w.os, w.architecture, w.variant) == (c.os, c.architecture, c.variant):
                return i
        return None

    def match(self, candidate: Platform) -> bool:
        return self.rank(candidate) is not None

    def __str__(self) -> str:
        return self._name


def only(wanted: Platform | str) -> Matcher:
    """containerd's ``platforms.Only``: the platform and the ones it can run, in preference order."""
    p = Platform.parse(wanted) if isinstance(wanted, str) else wanted
    return Matcher(_vector(p.normalize()), name=str(p.normalize()))
