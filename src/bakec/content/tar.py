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

import posixpath
from collections.abc import Callable, Iterator
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


_OCTAL_LIMIT = {w: 8 ** (w - 1) for w in (8, 12)}


def _fits_octal(width: int, x: int) -> bool:
    # A field of n bytes holds n-1 octal digits and a NUL.
    return 0 <= x < _OCTAL_LIMIT[width]


def _octal(x: int, width: int) -> bytes:
    if not 0 <= x < _OCTAL_LIMIT[width]:
        x = 0  # Go's last resort; the value is then carried by a PAX record
    return b"%0*o\x00" % (width - 1, x)


def _field(s: bytes, width: int) -> bytes:
    return s[:width] if len(s) >= width else s.ljust(width, b"\x00")


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


def _raw(
    name: bytes,
    linkname: bytes,
    h: Header,
    prefix: bytes = b"",
    typeflag: bytes | None = None,
    size: int | None = None,
    devices: bool = True,
) -> bytes:
    block = b"".join(
        (
            _field(name, 100),
            _octal(h.mode, 8),
            _octal(h.uid, 8),
            _octal(h.gid, 8),
            _octal(h.size if size is None else size, 12),
            _octal(h.mtime, 12),
            b"        ",
            typeflag or h.typeflag,
            _field(linkname, 100),
            b"ustar\x0000",
            _field(h.uname.encode(), 32),
            _field(h.gname.encode(), 32),
            _octal(h.devmajor, 8) if devices else _NUL8,
            _octal(h.devminor, 8) if devices else _NUL8,
            _field(prefix, 155),
            _PAD12,
        )
    )
    # The checksum field is summed as spaces, then written as 6 octal digits, NUL, space.
    return block[:148] + b"%06o\x00 " % sum(block) + block[156:]


_PAD12 = bytes(12)
_NUL8 = bytes(8)


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
    data = b"".join(_pax_record(k, pax[k]) for k in sorted(pax))
    # Go's writeRawFile: name path.Join(dir, "PaxHeaders.0", file) where dir keeps the last
    # slash (so a dir "a/b/" gives "a/b/PaxHeaders.0"), ASCII only, cut to 100, no trailing
    # slash; only name, mode, uid, gid, size and mtime are filled in.
    dirpart, _, filepart = h.name.rpartition("/")
    xname = _to_ascii(posixpath.join(dirpart + "/" if dirpart else "", "PaxHeaders.0", filepart))
    xname = xname[:100].rstrip(b"/")
    ext = _raw(xname, b"", _EMPTY_PAX, typeflag=TYPE_PAX, size=len(data), devices=False)
    ext += data + bytes(-len(data) % BLOCK)
    # The main header carries the whole name (no prefix split), ASCII only, cut to 100.
    return ext + _raw(_go_field(_to_ascii(h.name), 100), _go_field(_to_ascii(h.linkname), 100), h)


_EMPTY_PAX = Header(name="", typeflag=TYPE_PAX)


def _to_ascii(s: str) -> bytes:
    """Go's toASCII: non-ASCII characters (and NULs) are dropped."""
    raw = s.encode("utf-8", "surrogateescape")
    if raw.isascii() and b"\x00" not in raw:
        return raw
    return bytes(c for c in s.encode("ascii", "ignore") if c)


def _go_field(s: bytes, width: int) -> bytes:
    """Go's formatString on a too-long value: cut, and never end the cut with a slash."""
    if len(s) <= width:
        return s
    cut = bytearray(s[:width])
    if cut[-1:] == b"/":
        n = len(s[: width - 1].rstrip(b"/"))
        cut[n] = 0
    return bytes(cut)


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


# --- reading ---------------------------------------------------------------------------------


@dataclass
class Entry:
    """A tar entry as read back: the header fields plus the PAX records that applied to it."""

    name: str
    typeflag: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    uname: str
    gname: str
    devmajor: int
    devminor: int
    pax: dict[str, str]

    def is_dir(self) -> bool:
        return self.typeflag == TYPE_DIR or (self.typeflag in (TYPE_REG, b"\x00") and self.name.endswith("/"))


def _num(field: bytes) -> int:
    if field and field[0] & 0x80:  # base-256 (GNU)
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    field = field.split(b"\x00", 1)[0].strip()
    return int(field, 8) if field else 0


def _str(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _parse_pax(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        length = int(data[pos:sp])
        record = data[sp + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


class TarReader:
    """Reads a tar stream (USTAR, PAX, GNU long names) from ``read(n)``, in order.

    Iterate for entries; after each, ``read_data(entry)`` yields its content in chunks or
    ``skip_data`` passes over it (done automatically when the next entry is requested).
    """

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buf = b""
        self._pos = 0  # read offset in _buf: slicing from the front would copy the rest each time
        self._pending = 0  # data bytes (padded) of the current entry not consumed yet

    def _fill(self) -> bool:
        chunk = self._read(1 << 20)
        if not chunk:
            return False
        rest = self._buf[self._pos :]
        self._buf = rest + chunk if rest else chunk
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        while len(self._buf) - self._pos < n:
            if not self._fill():
                raise ValueError("unexpected end of tar stream")
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        return out

    def _skip(self, n: int) -> None:
        while n > 0:
            avail = len(self._buf) - self._pos
            if avail >= n:
                self._pos += n
                return
            n -= avail
            self._buf, self._pos = b"", 0
            if not self._fill():
                raise ValueError("unexpected end of tar stream")

    def read_data(self, entry: Entry) -> Iterator[bytes]:
        left = entry.size
        while left > 0:
            if self._pos >= len(self._buf) and not self._fill():
                raise ValueError("unexpected end of tar stream")
            n = min(left, len(self._buf) - self._pos)
            chunk = self._buf[self._pos : self._pos + n]
            self._pos += n
            left -= n
            self._pending -= n
            yield chunk

    def __iter__(self) -> Iterator[Entry]:
        pax_global: dict[str, str] = {}
        pax: dict[str, str] = {}
        longname = longlink = None
        while True:
            if self._pending:
                self._skip(self._pending)
                self._pending = 0
            block = self._take(BLOCK)
            if block == _ZERO_BLOCK:
                return
            typeflag = block[156:157]
            size = _num(block[124:136])
            padded = size + (-size % BLOCK)
            if typeflag in (b"x", b"g", b"L", b"K"):
                data = self._take(padded)[:size]
                if typeflag == b"x":
                    pax = _parse_pax(data)
                elif typeflag == b"g":
                    pax_global.update(_parse_pax(data))
                elif typeflag == b"L":
                    longname = data.rstrip(b"\x00").decode("utf-8", "surrogateescape")
                else:
                    longlink = data.rstrip(b"\x00").decode("utf-8", "surrogateescape")
                continue
            name = _str(block[0:100])
            if block[257:263] == b"ustar\x00" and block[345:346] != b"\x00":
                name = _str(block[345:500]) + "/" + name
            records = {**pax_global, **pax}
            e = Entry(
                name=records.get("path", longname or name),
                typeflag=typeflag,
                mode=_num(block[100:108]),
                uid=int(records["uid"]) if "uid" in records else _num(block[108:116]),
                gid=int(records["gid"]) if "gid" in records else _num(block[116:124]),
                size=int(records["size"]) if "size" in records else size,
                mtime=int(float(records["mtime"])) if "mtime" in records else _num(block[136:148]),
                linkname=records.get("linkpath", longlink or _str(block[157:257])),
                uname=records.get("uname", _str(block[265:297])),
                gname=records.get("gname", _str(block[297:329])),
                devmajor=_num(block[329:337]),
                devminor=_num(block[337:345]),
                pax=records,
            )
            pax, longname, longlink = {}, None, None
            if e.typeflag in (TYPE_REG, b"\x00", b"7"):
                self._pending = e.size + (-e.size % BLOCK)
            else:
                self._pending = padded  # hardlinks etc. normally have none
                e.size = e.size if e.typeflag == TYPE_REG else 0
            yield e
