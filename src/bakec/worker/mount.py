"""mount(2) and umount2(2) for snapshot mounts (overlay, bind, tmpfs), as containerd's ``mount`` package."""

from __future__ import annotations

import ctypes
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakec.worker.client import Mount

_libc = ctypes.CDLL(None, use_errno=True)
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
_MS_BIND, _MS_REC = 0x1000, 0x4000
_MNT_DETACH = 0x2
_FLAGS = {
    "ro": _MS_RDONLY,
    "nosuid": _MS_NOSUID,
    "nodev": _MS_NODEV,
    "noexec": _MS_NOEXEC,
    "bind": _MS_BIND,
    "rbind": _MS_BIND | _MS_REC,
    "rw": 0,
}
_PAGE = os.sysconf("SC_PAGESIZE")
_LAYER_KEYS = ("lowerdir", "upperdir", "workdir")


def mount(m: Mount, target: Path) -> None:
    """Mount one containerd snapshot mount (overlay or bind) at ``target``."""
    flags = 0
    data: list[str] = []
    for opt in m.options:
        if opt in _FLAGS:
            flags |= _FLAGS[opt]
        else:
            data.append(opt)
    text = ",".join(data)
    if len(text) >= _PAGE:
        _mount_relative(m, text, target)
        return
    fstype = "" if flags & _MS_BIND else m.type
    if _libc.mount(m.source.encode(), os.fsencode(target), fstype.encode(), flags, text.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {m.type} at {target}: {os.strerror(err)}")


def _mount_relative(m: Mount, data: str, target: Path) -> None:
    # Mount data is limited to one page; deep images exceed it with absolute lowerdirs.
    # As containerd does, shorten the layer paths relative to their common parent, using a
    # child process's cwd (chdir in this threaded process would affect every thread).
    options = [opt.partition("=") for opt in data.split(",")]
    dirs = [d for key, _, value in options if key in _LAYER_KEYS for d in value.split(":")]
    common = os.path.commonpath(dirs)
    short = ",".join(
        f"{key}={':'.join(os.path.relpath(d, common) for d in value.split(':'))}"
        if key in _LAYER_KEYS
        else f"{key}{sep}{value}"
        for key, sep, value in options
    )
    subprocess.run(
        ["mount", "-t", m.type, "-o", short, m.source, str(target)],
        cwd=common,
        check=True,
        capture_output=True,
    )


def unmount(target: Path) -> None:
    """Unmount ``target``, detaching it when something still holds it."""
    if _libc.umount2(os.fsencode(target), 0) != 0:
        # Something still holds it (a leaked process): detach instead of failing the build.
        _libc.umount2(os.fsencode(target), _MNT_DETACH)
