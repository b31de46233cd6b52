"""mount(2) and umount2(2) for snapshot mounts (overlay, bind, tmpfs), as containerd's ``mount`` package."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from bakec.errors import BuildError

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
# The kernel's OVL_MAX_STACK: an overlay mount with more lower directories is refused (EINVAL).
# Measured on 6.x: 500 lowerdirs mount, 501 do not (tests/worker/test_mount_depth.py).
OVERLAY_MAX_LOWER = 500


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
        _refuse_too_deep(m, text)
        raise OSError(err, f"mount {m.type} at {target}: {os.strerror(err)}")


def _lower_dirs(data: str) -> list[str]:
    return [d for opt in data.split(",") if opt.startswith("lowerdir=") for d in opt[9:].split(":")]


def _refuse_too_deep(m: Mount, data: str) -> None:
    """After a failed overlay mount: BuildError naming the limit if there were too many layers."""
    layers = len(_lower_dirs(data))
    if m.type == "overlay" and layers > OVERLAY_MAX_LOWER:
        raise BuildError(
            f"too many layers: {layers}, overlayfs on this kernel allows at most {OVERLAY_MAX_LOWER}"
        )


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
    if len(short) >= _PAGE:
        raise BuildError(
            f"too many layers: {len(_lower_dirs(short))}, their overlayfs mount options exceed one page"
        )
    proc = subprocess.run(
        ["mount", "-t", m.type, "-o", short, m.source, str(target)],
        cwd=common,
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        _refuse_too_deep(m, short)
        # mount(8)'s own message, without the command line (a page of internal paths)
        raise OSError(errno.EINVAL, f"mount {m.type} at {target}: {proc.stderr.strip().splitlines()[0]}")


def unmount(target: Path) -> None:
    """Unmount ``target``, detaching it when something still holds it."""
    if _libc.umount2(os.fsencode(target), 0) != 0:
        # Something still holds it (a leaked process): detach instead of failing the build.
        _libc.umount2(os.fsencode(target), _MNT_DETACH)
