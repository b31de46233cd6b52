"""Every entry of a directory tree with its lstat, listed by one GNU ``find`` process.

A no-op rebuild of a 20,000-file context is mostly this walk. ``find`` does the
``lstat`` calls in C and prints one record per entry; bakec hashes the raw
output to tell whether anything changed (no per-file Python work then) and
parses it only when something did. :func:`start` launches the process without
waiting, so the walk can run on another core while the Dockerfile is compiled;
``find`` writes to an unlinked temporary file, not a pipe, since a pipe's 64 KiB
would stop it long before the 1.5 MB of a 20,000-file listing until bakec reads.
Where ``find`` is missing or lacks ``-printf``, :meth:`Listing.output` answers
None and the caller walks the tree itself.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from typing import IO

from bakec.errors import BakecError

__all__ = ["Listing", "Stat", "parse", "start"]

Stat = tuple[str, int, int, int, int, int, int]
"""One listed path: (relative path, st_mode, st_size, st_mtime_ns, st_ino, st_ctime_ns, st_rdev)."""

# relative path, then "<type letter><octal permission bits> size mtime ino ctime" (times as seconds.fraction)
_FORMAT = "%P\\0%y%m %s %T@ %i %C@\\0"
_TYPES = {
    "f": stat.S_IFREG,
    "d": stat.S_IFDIR,
    "l": stat.S_IFLNK,
    "p": stat.S_IFIFO,
    "s": stat.S_IFSOCK,
    "c": stat.S_IFCHR,
    "b": stat.S_IFBLK,
}


class Listing:
    """A running (or finished) ``find`` over one directory."""

    def __init__(
        self, root: str, proc: subprocess.Popen[bytes] | None = None, out: IO[bytes] | None = None
    ) -> None:
        self.root = root
        self._proc = proc
        self._out = out  # where find writes
        self._output: bytes | None = None

    def output(self) -> bytes | None:
        """The raw records (waits for ``find``); None when ``find`` failed or is not there."""
        if self._proc is not None and self._out is not None:
            ok = self._proc.wait() == 0
            self._out.seek(0)
            self._output = self._out.read() if ok else None
            self._close()
        return self._output

    def cancel(self) -> None:
        """Stop an unused listing."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._close()

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
        self._proc = self._out = None


def start(root: str) -> Listing:
    """Start listing ``root`` (entries below it, not following symlinks)."""
    exe = shutil.which("find")
    if exe is None:
        return Listing(root)
    try:
        out = tempfile.TemporaryFile(prefix="bakec-listing-")  # noqa: SIM115 - the Listing closes it
    except OSError:  # no writable temp dir: the caller walks
        return Listing(root)
    try:
        proc = subprocess.Popen(
            [exe, root, "-mindepth", "1", "-printf", _FORMAT],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        out.close()
        return Listing(root)
    return Listing(root, proc, out)


def parse(root: str, output: bytes) -> list[Stat]:
    """The records of ``output`` as (path, st_mode, st_size, st_mtime_ns, st_ino, st_ctime_ns, st_rdev)."""
    fields = output.split(b"\0")
    out: list[Stat] = []
    for i in range(0, len(fields) - 1, 2):
        rel = os.fsdecode(fields[i])
        kind_perm, size, mtime, ino, ctime = fields[i + 1].decode().split(" ")
        mode = _TYPES.get(kind_perm[0], 0) | int(kind_perm[1:], 8)  # an unknown type is not sent
        rdev = 0
        if kind_perm[0] in "cb":  # find prints no device numbers
            try:
                rdev = os.lstat(os.path.join(root, rel)).st_rdev
            except OSError as exc:  # gone since find listed it: as the Python walk reports it
                raise BakecError(f"unable to read context file {rel}: {exc.strerror}") from None
        out.append((rel, mode, int(size), _ns(mtime), int(ino), _ns(ctime), rdev))
    return out


def _ns(seconds: str) -> int:
    """``find``'s "seconds.fraction" as nanoseconds (before 1970 the seconds are negative, the fraction not)."""
    whole, _, fraction = seconds.partition(".")
    return int(whole) * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))
