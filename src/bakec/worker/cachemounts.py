"""Persistent directories behind ``RUN --mount=type=cache``.

A cache is named by its id plus what seeds it (the ``from`` op and ``source`` path, and
the ``mode``/``uid``/``gid`` of a fresh directory), as BuildKit keys its cache refs by id
and base ref. Each cache lives in ``<root>/<hash>/`` as numbered copies: ``0/`` is the
one everybody shares; ``sharing=private`` takes the first copy nobody else holds,
creating ``1/``, ``2/``, ... when all are busy. Holding is an ``flock`` on ``<n>.lock``:

* ``shared``: a shared lock on ``0.lock`` (many RUNs at once);
* ``locked``: an exclusive lock on ``0.lock``, so such RUNs run one at a time;
* ``private``: a non-blocking exclusive lock on the first free ``<n>.lock``.

flock conflicts between open files of one process too, so concurrent RUNs of one build
and of different bakec processes on the same state dir are serialised alike. A fresh
copy is made in a temporary directory and renamed into place, so a crash never leaves
a half-initialised cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import BuildError


@dataclass(frozen=True)
class CacheKey:
    """What names one cache: its id and what a fresh copy starts from."""

    id: str
    seed: str = ""  # the ``from`` op digest, "" for an empty directory
    source: str = ""  # path inside the seed
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None

    def digest(self) -> str:
        parts = [self.id, self.seed, self.source, str(self.mode), str(self.uid), str(self.gid)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class CacheMounts:
    """The cache-mount directories under ``root`` (``<state dir>/cache-mounts``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def hold(self, key: CacheKey, sharing: str, seed: Callable[[], str] | None = None) -> Iterator[str]:
        """A cache directory for one RUN, held for the duration of the block.

        ``seed`` gives the host path that fills a fresh copy when the mount has ``from``
        (called only when a copy is created).
        """
        base = self.root / key.digest()
        base.mkdir(parents=True, exist_ok=True)
        if sharing == "private":
            index, lock = _first_free(base)
        else:
            index = 0
            lock = _open_lock(base / "0.lock")
            fcntl.flock(lock, fcntl.LOCK_EX if sharing == "locked" else fcntl.LOCK_SH)
        try:
            directory = base / str(index)
            if not directory.is_dir():
                creating = _open_lock(base / "create.lock")
                try:
                    fcntl.flock(creating, fcntl.LOCK_EX)
                    if not directory.is_dir():
                        _create(directory, key, seed() if seed is not None else None)
                finally:
                    os.close(creating)
            yield str(directory)
        finally:
            os.close(lock)  # releases the flock


def _open_lock(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _first_free(base: Path) -> tuple[int, int]:
    index = 0
    while True:
        fd = _open_lock(base / f"{index}.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return index, fd
        except BlockingIOError:
            os.close(fd)
            index += 1


def _create(directory: Path, key: CacheKey, seed_path: str | None) -> None:
    """Make a fresh copy: empty (mode/uid/gid applied) or a copy of the seed."""
    tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=directory.parent))
    try:
        if seed_path is not None:
            if not os.path.isdir(seed_path):
                raise BuildError(
                    f"cache mount {key.id!r}: its source {key.source or '/'!r} is not a directory"
                )
            # cp keeps owners, modes, xattrs and hard links at C speed
            done = subprocess.run(["cp", "-a", "--", f"{seed_path}/.", str(tmp)], capture_output=True)
            if done.returncode != 0:
                raise BuildError(
                    f"cache mount {key.id!r}: seeding failed", done.stderr.decode(errors="replace").strip()
                )
        else:
            os.chmod(tmp, key.mode if key.mode is not None else 0o755)
            os.chown(tmp, key.uid or 0, key.gid or 0)
        if seed_path is not None and (key.mode is not None or key.uid is not None or key.gid is not None):
            os.chmod(tmp, key.mode if key.mode is not None else os.stat(tmp).st_mode & 0o7777)
            os.chown(tmp, key.uid or 0, key.gid or 0)
        os.rename(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["CacheKey", "CacheMounts"]
