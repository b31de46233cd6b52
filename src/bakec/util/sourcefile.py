"""Reading the files a user names (bake files, Dockerfiles) with a size cap, and decoding them.

A bake file or Dockerfile is text a person writes; anything past :data:`MAX_SOURCE_BYTES`
is a mistake (``-f /dev/zero``, a binary named by accident) that would otherwise be read
until memory runs out. Devices and directories are refused before reading; pipes
(``-f -``, ``-f <(cmd)``) are read up to the cap.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from bakec.errors import DiagnosticError, Pos, Range, SpecError

MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""Largest bake file or Dockerfile bakec reads (README "Limits")."""


def read_source(path: str, shown: str) -> bytes:
    """The bytes of the regular file or pipe at ``path`` (``shown`` names it in errors).

    Raises ``OSError`` as :func:`open` does (the caller words those as buildx does), and
    :class:`SpecError` for a device, a directory or a file over the cap.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "is a directory", path)
        if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
            raise SpecError(f"read {shown}: is a device, not a regular file")
        if stat.S_ISREG(info.st_mode) and info.st_size > MAX_SOURCE_BYTES:
            raise _too_large(shown)
        return read_stream(handle, shown)


def read_stream(handle: BinaryIO, shown: str) -> bytes:
    """Everything ``handle`` yields, up to the cap (a pipe's size is unknown until read)."""
    data = handle.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise _too_large(shown)
    return data


def _too_large(shown: str) -> SpecError:
    return SpecError(f"read {shown}: file too large: bakec reads at most {MAX_SOURCE_BYTES // (1 << 20)} MiB")


def decode_utf8(data: bytes, filename: str) -> str:
    """``data`` as text; invalid UTF-8 is a positioned error, as HCL reports it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        error = DiagnosticError(
            "Invalid character encoding",
            "All input files must be UTF-8 encoded.",
            Range(filename, Pos(line, column), Pos(line, column + 1)),
        )
        error.source = data
        raise error from None
