"""bakec's local content store: ``<root>/blobs/sha256/<hex>``, the OCI layout's own shape.

Why not containerd's content store: a new layer's digest is only known after the last
byte, while ``Content.Write`` wants it up front (or a second pass), and every byte would
cross gRPC once more; for the 256 MiB ``bigimage`` layer that is a second full copy.
Writing straight to a file while hashing costs nothing extra, and the OCI/docker
exporters copy blobs from the same layout. Blobs that containerd needs (``type=image``,
unpacking) are ingested from here with ``Client.write_content``.

Writes are atomic: data goes to a temp file in ``ingest/``, is fsynced, then renamed to
its digest, so a killed build never leaves a partial blob under a final name.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_CHUNK = 1 << 20
_WRITEBACK_EVERY = 16 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback_fn() -> object:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


# Starting writeback while the blob is still being written makes the final fsync cheap
# (measured: 0.45-0.6 s → ~0.1 s for a 270 MB layer here).
_start_writeback = _start_writeback_fn()


def _hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        raise ValueError(f"invalid digest {digest!r}")
    return hexpart


class Writer:
    """A blob being written: ``write`` chunks, then ``commit`` (hash checked) or ``abort``."""

    def __init__(self, store: ContentStore) -> None:
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.root / "ingest", prefix="w-")
        self._fd = fd
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._synced = 0

    def write(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)
        if _start_writeback is not None and self.size - self._synced >= _WRITEBACK_EVERY:
            _start_writeback(self._fd, self._synced, self.size - self._synced, _SYNC_FILE_RANGE_WRITE)  # type: ignore[operator]
            self._synced = self.size

    @property
    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def commit(self, fsync: bool = True) -> str:
        digest = self.digest
        try:
            if fsync:
                os.fsync(self._fd)
            os.fchmod(self._fd, 0o444)
        finally:
            os.close(self._fd)
        final = self._store.path(digest)
        if final.exists():
            self._tmp.unlink()
        else:
            # No fsync of the directory: a crash that loses the rename loses the blob, which the
            # store then reports missing (and every user of a blob checks ``has`` and makes it
            # again); the data's fsync is what keeps a name from ever holding other bytes. Under
            # load the directory fsync doubled the cost of each small blob (configs, manifests).
            os.rename(self._tmp, final)
        return digest

    def abort(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Writer:  # noqa: PYI034
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()


class ContentStore:
    """Blobs by sha256 digest under ``root``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "ingest").mkdir(exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / _hex(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def writer(self) -> Writer:
        return Writer(self)

    def put(self, data: bytes, *, fsync: bool = True) -> str:
        """Store ``data`` and return its digest (a no-op when it is already stored).

        ``fsync=False`` for blobs made again by every export that needs them (attestations):
        nothing refers to them across a crash.
        """
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            with self.writer() as w:
                w.write(data)
                w.commit(fsync=fsync)
        return digest

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def chunks(self, digest: str) -> Iterator[bytes]:
        with open(self.path(digest), "rb") as f:
            while chunk := f.read(_CHUNK):
                yield chunk

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)
