"""A tar writer whose bytes match Go's ``archive/tar``, the writer BuildKit's differ uses.

Python's ``tarfile`` differs from Go in small ways that change a layer's diffID: it pads
the archive to 10 KiB records, puts long names in PAX records instead of the USTAR
prefix, and leaves device fields of non-devices blank. Writing the 512-byte headers
ourselves keeps layers byte-comparable with BuildKit's and costs nothing: the time goes
into file data, which is copied in large chunks.

Rules followed (Go's ``Writer.WriteHeader`` with ``Format=PAX`` and truncated times):
a plain USTAR header whenever the entry fits (name split into prefix/name at a slash),
otherwise a ``PaxHeaders.0/<name>`` extended header with only the records needed,
sorted by key, followed by a USTAR-magic main header. The archive ends with two zero
blocks and no record padding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BLOCK = 512
TYPE_REG = b"0"
TYPE_LINK = b"1"
TYPE_SYMLINK = b"2"
TYPE_CHAR = b"3"
TYPE_BLOCK = b"4"
TYPE_DIR = b"5"
TYPE_FIFO = b"6"
TYPE_PAX = b"x"

_ZERO_BLOCK = bytes(BLOCK)


@dataclass
class Header:
    """One tar entry, the fields of Go's ``tar.Header`` that layers use."""

    name: str
    typeflag: bytes
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    pax: dict[str, str] = field(default_factory=dict)


def _fits_octal(width: int, x: int) -> bool:
    # A field of n bytes holds n-1 octal digits and a NUL.
    return 0 <= x < 8 ** (width - 1)


def _octal(x: int, width: int) -> bytes:
    if not _fits_octal(width, x):
        x = 0  # Go's last resort; the value is then carried by a PAX record
    return b"%0*o\x00" % (width - 1, x)


def _field(s: bytes, width: int) -> bytes:
    if len(s) >= width:
        return s[:width]
    return s + bytes(width - len(s))


def _split_ustar(name: bytes) -> tuple[bytes, bytes] | None:
    """Go's splitUSTARPath: a prefix (<=155) and a name (<=100) split at a slash."""
    length = len(name)
    if length <= 100 or not name.isascii():
        return None
    if length > 156:
        length = 156
    elif name[length - 1 : length] == b"/":
        length -= 1
    i = name.rfind(b"/", 0, length)
    nlen = len(name) - i - 1
    if i <= 0 or nlen > 100 or nlen == 0 or i > 155:
        return None
    return name[:i], name[i + 1 :]


def _checksum_block(block: bytearray) -> bytes:
    block[148:156] = b"        "
    chksum = sum(block)
    block[148:155] = b"%06o\x00" % chksum
    block[155:156] = b" "
    return bytes(block)


def _raw(
    name: bytes,
    linkname: bytes,
    h: Header,
    prefix: bytes = b"",
    typeflag: bytes | None = None,
    size: int | None = None,
) -> bytes:
    b = bytearray(BLOCK)
    b[0:100] = _field(name, 100)
    b[100:108] = _octal(h.mode, 8)
    b[108:116] = _octal(h.uid, 8)
    b[116:124] = _octal(h.gid, 8)
    b[124:136] = _octal(h.size if size is None else size, 12)
    b[136:148] = _octal(h.mtime, 12)
    b[156:157] = typeflag or h.typeflag
    b[157:257] = _field(linkname, 100)
    b[257:263] = b"ustar\x00"
    b[263:265] = b"00"
    b[265:297] = _field(h.uname.encode(), 32)
    b[297:329] = _field(h.gname.encode(), 32)
    b[329:337] = _octal(h.devmajor, 8)
    b[337:345] = _octal(h.devminor, 8)
    b[345:500] = _field(prefix, 155)
    return _checksum_block(b)


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode("utf-8", "surrogateescape")
    n = len(body)
    size = n + len(str(n))
    if len(str(size)) != len(str(n)):
        size = n + len(str(size))
    return str(size).encode() + body


def encode_header(h: Header) -> bytes:
    """The header block(s) for ``h``: USTAR when it fits, else PAX extended + main header."""
    name = h.name.encode("utf-8", "surrogateescape")
    link = h.linkname.encode("utf-8", "surrogateescape")
    pax = dict(h.pax)
    prefix = b""
    if len(name) > 100:
        split = _split_ustar(name)
        if split is None:
            pax["path"] = h.name
        else:
            prefix, name = split
    if len(link) > 100:
        pax["linkpath"] = h.linkname
    if not name.isascii():
        pax["path"] = h.name
    if not link.isascii():
        pax["linkpath"] = h.linkname
    for key, value, width in (
        ("uid", h.uid, 8),
        ("gid", h.gid, 8),
        ("size", h.size, 12),
        ("mtime", h.mtime, 12),
    ):
        if not _fits_octal(width, value):
            pax[key] = str(value)
    if not pax:
        return _raw(name, link, h, prefix)
    if "path" in pax:
        name, prefix = h.name.encode("utf-8", "surrogateescape"), b""
    # Go writes the PAX main header with the full (possibly cut) name, ASCII only.
    main_name = bytes(c if c < 0x80 else 0 for c in (prefix + b"/" + name if prefix else name))
    data = b"".join(_pax_record(k, pax[k]) for k in sorted(pax))
    dirname, _, base = h.name.rstrip("/").rpartition("/")
    xname = (
        (f"{dirname}/PaxHeaders.0/{base}" if dirname else f"PaxHeaders.0/{base}")
        .encode("ascii", "replace")[:100]
        .rstrip(b"/")
    )
    xh = Header(name="", typeflag=TYPE_PAX)
    ext = _raw(xname, b"", xh, typeflag=TYPE_PAX, size=len(data))
    ext += data + bytes(-len(data) % BLOCK)
    if len(main_name) > 100 and main_name[99:100] == b"/":
        main_name = main_name[:100].rstrip(b"/")
    return ext + _raw(main_name, bytes(c if c < 0x80 else 0 for c in link), h)


class TarWriter:
    """Writes entries to ``write`` (a callable taking bytes); file data is padded to blocks."""

    def __init__(self, write: Callable[[bytes | memoryview], object]) -> None:
        self._write = write

    def header(self, h: Header) -> None:
        self._write(encode_header(h))

    def pad(self, size: int) -> None:
        if size % BLOCK:
            self._write(_ZERO_BLOCK[: BLOCK - size % BLOCK])

    def data(self, chunk: bytes | memoryview) -> None:
        self._write(chunk)

    def close(self) -> None:
        self._write(_ZERO_BLOCK * 2)
