"""Writing tar files to a path (atomically) or to stdout, with blob data copied by the kernel."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bakec.content.tar import TYPE_DIR, TYPE_REG, Header, TarWriter


class ArchiveOut:
    """A tar being written to one file descriptor; small writes are buffered."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = bytearray()
        self.tw = TarWriter(self._write)

    def _write(self, data: bytes | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        view = memoryview(self._buf)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        view.release()
        self._buf.clear()

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        self.tw.header(Header(name=name.rstrip("/") + "/", typeflag=TYPE_DIR, mode=mode))

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.tw.header(Header(name=name, typeflag=TYPE_REG, mode=mode, size=len(data)))
        self.tw.data(data)
        self.tw.pad(len(data))

    def add_file(self, name: str, path: Path, mode: int = 0o444) -> None:
        size = path.stat().st_size
        self.tw.header(Header(name=name, typeflag=TYPE_REG, mode=mode, size=size))
        self.flush()
        with open(path, "rb") as src:
            offset = 0
            try:
                while offset < size:
                    n = os.sendfile(self.fd, src.fileno(), offset, size - offset)
                    if n == 0:
                        break
                    offset += n
            except OSError:
                src.seek(offset)
                while chunk := src.read(1 << 20):
                    self._write(chunk)
                    offset += len(chunk)
        self.tw.pad(size)

    def close(self) -> None:
        self.tw.close()
        self.flush()


@contextmanager
def open_dest(dest: str | None) -> Iterator[ArchiveOut]:
    """A tar to ``dest``: ``-``/None is stdout; a path is written to a temp file and renamed."""
    if dest in (None, "-"):
        sys.stdout.flush()
        out = ArchiveOut(sys.stdout.fileno())
        yield out
        out.close()
        return
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        out = ArchiveOut(fd)
        yield out
        out.close()
        os.fchmod(fd, 0o644)
        os.close(fd)
        fd = -1
        os.rename(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
