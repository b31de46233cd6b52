"""The build information Go (1.18+) embeds in binaries, read as ``go version -m`` reads it.

The linker writes a ``.go.buildinfo`` blob starting with the 14-byte magic
``\\xff Go buildinf:``, then the pointer size, a flags byte and padding to 32 bytes. With the
"inline strings" flag (bit 1, every Go since 1.18) the Go version and the module info follow
as varint-length-prefixed strings; the module info is wrapped in 16-byte sentinels. Older
binaries point at the strings through virtual addresses instead; they are not read (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_INLINE_FLAG = 0x2
_SENTINEL = 16


@dataclass(frozen=True)
class Module:
    """One module line (``mod`` or ``dep``), after a ``=>`` replacement by another module."""

    path: str
    version: str
    sum: str = ""


@dataclass(frozen=True)
class BuildInfo:
    """What ``go version -m`` prints: the Go version, main package path, modules and build settings."""

    go_version: str
    path: str
    main: Module | None
    deps: tuple[Module, ...]
    settings: tuple[tuple[str, str], ...]


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def _string(data: bytes, pos: int) -> tuple[str, int]:
    length, pos = _uvarint(data, pos)
    if pos + length > len(data):
        raise ValueError("string runs past the data")
    return data[pos : pos + length].decode("utf-8", "replace"), pos + length


def _strip_sentinels(modinfo: str) -> str:
    if len(modinfo) >= 2 * _SENTINEL + 1 and modinfo[-_SENTINEL - 1] == "\n":
        return modinfo[_SENTINEL:-_SENTINEL]
    return ""


def _module(fields: list[str]) -> Module:
    return Module(fields[0], fields[1] if len(fields) > 1 else "", fields[2] if len(fields) > 2 else "")


def parse_modinfo(go_version: str, modinfo: str) -> BuildInfo:
    """A :class:`BuildInfo` from the module info text (``path``/``mod``/``dep``/``=>``/``build`` lines)."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    for line in modinfo.splitlines():
        word, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if word == "path":
            path = rest
        elif word == "mod" and fields[0]:
            main = _module(fields)
        elif word == "dep" and fields[0]:
            deps.append(_module(fields))
        elif word == "=>" and fields[0] and deps and not fields[0].startswith((".", "/")):
            deps[-1] = _module(fields)  # a module replaces it; a directory does not rename it
        elif word == "build":
            key, _, value = rest.partition("=")
            settings.append((key, value))
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings))


def read_buildinfo(data: bytes) -> BuildInfo | None:
    """The build info of the executable ``data`` (an ELF, Mach-O or PE file), None if it has none."""
    start = 0
    while (at := data.find(MAGIC, start)) >= 0:
        start = at + 1
        if at % 16 or at + _HEADER > len(data):  # the blob is 16-aligned; a stray copy of the magic is not
            continue
        if not data[at + 15] & _INLINE_FLAG:
            return None
        try:
            version, pos = _string(data, at + _HEADER)
            modinfo, _ = _string(data, pos)
        except ValueError:
            continue
        if not version.startswith("go"):
            continue
        return parse_modinfo(version, _strip_sentinels(modinfo))
    return None
