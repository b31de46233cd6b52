"""What ``bakec doctor`` checks: can this machine build (kernel, cgroups, binfmt, containerd, runc, disk)?

Every check reads the machine as it is and starts nothing (no daemon): files under
``/proc`` and ``/sys``, the binaries on ``PATH`` and their ``--version``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MIN_CONTAINERD = (1, 6)
_LOW_DISK = 2 << 30  # a warning below this much free space
_NO_DISK = 256 << 20  # a failure below this

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    """One check's outcome; ``fix`` says what to do when it is not ``ok``."""

    level: Level
    topic: str
    summary: str
    fix: str = ""


def tool_version(name: str, path: str | None = None) -> tuple[str, str] | None:
    """``(version, path)`` of ``name`` on ``path`` (or ``$PATH``) from its ``--version``; None if absent."""
    binary = shutil.which(name, path=path)
    if binary is None:
        return None
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown", binary
    return _version_in(name, out), binary


def _version_in(name: str, output: str) -> str:
    """``containerd github.com/containerd/containerd 1.6.20~ds1 ...`` → ``1.6.20~ds1``."""
    first = output.strip().splitlines()[0] if output.strip() else ""
    if name == "runc":  # "runc version 1.1.5+ds1"
        return first.split()[-1] if first else "unknown"
    for word in first.split():
        if re.match(r"v?\d+\.\d+", word):
            return word
    return "unknown"


def major_minor(version: str) -> tuple[int, int] | None:
    """``v1.6.20~ds1`` → ``(1, 6)``."""
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def diagnose(state_dir: Path, env: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding about this machine, in the order ``bakec doctor`` prints them."""
    env = os.environ if env is None else env
    path = env.get("PATH", os.defpath)
    return [
        *_privilege(),
        *_overlayfs(),
        *_cgroups(),
        *_tools(path),
        *_binfmt(),
        *_state_dir(state_dir),
    ]


def _privilege() -> Iterator[Finding]:
    if os.geteuid() == 0:
        yield Finding("ok", "root", "running as root")
    else:
        yield Finding(
            "fail",
            "root",
            "not running as root: building needs root (overlay snapshots, runc, cgroups)",
            "run bakec build as root (sudo); --print, --list, check and plan work without root",
        )


def _overlayfs() -> Iterator[Finding]:
    try:
        filesystems = Path("/proc/filesystems").read_text()
    except OSError:
        filesystems = ""
    if re.search(r"\boverlay$", filesystems, re.MULTILINE):
        yield Finding("ok", "overlayfs", "the kernel supports overlayfs")
        return
    module = Path("/lib/modules", os.uname().release, "kernel/fs/overlayfs")
    if module.exists():
        yield Finding("ok", "overlayfs", "overlayfs is a loadable module (containerd loads it)")
        return
    yield Finding(
        "fail",
        "overlayfs",
        "the kernel has no overlayfs: containerd's overlay snapshotter cannot work",
        "load it with `modprobe overlay` or use a kernel built with CONFIG_OVERLAY_FS",
    )


def _cgroups() -> Iterator[Finding]:
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        yield Finding("ok", "cgroups", "cgroup v2 (unified hierarchy)")
    elif (root / "memory").is_dir() or (root / "cpu").is_dir():
        yield Finding("ok", "cgroups", "cgroup v1 (runc supports it)")
    else:
        yield Finding(
            "fail",
            "cgroups",
            "no cgroup hierarchy mounted at /sys/fs/cgroup: runc cannot create containers",
            "mount cgroup2 with `mount -t cgroup2 none /sys/fs/cgroup`",
        )


def _tools(path: str) -> Iterator[Finding]:
    containerd = tool_version("containerd", path)
    if containerd is None:
        yield Finding(
            "fail",
            "containerd",
            "containerd not found on PATH",
            "install it with: apt-get install containerd",
        )
    else:
        version, binary = containerd
        too_old = (major_minor(version) or (0, 0)) < MIN_CONTAINERD
        if too_old:
            yield Finding(
                "fail",
                "containerd",
                f"containerd {version} ({binary}) is too old: bakec needs 1.6 or newer",
                "install containerd 1.6 or newer (Debian 12: apt-get install containerd)",
            )
        else:
            yield Finding("ok", "containerd", f"containerd {version} ({binary})")
    if shutil.which("containerd-shim-runc-v2", path=path) is None:
        yield Finding(
            "fail",
            "containerd",
            "containerd-shim-runc-v2 not found on PATH",
            "install it with: apt-get install containerd",
        )
    runc = tool_version("runc", path)
    if runc is None:
        yield Finding("fail", "runc", "runc not found on PATH", "install it with: apt-get install runc")
    else:
        yield Finding("ok", "runc", f"runc {runc[0]} ({runc[1]})")


_EMULATED = (("arm64", "qemu-aarch64"), ("arm", "qemu-arm"))


def _binfmt() -> Iterator[Finding]:
    handlers = Path("/proc/sys/fs/binfmt_misc")
    for platform, handler in _EMULATED:
        try:
            enabled = (handlers / handler).read_text().splitlines()[0] == "enabled"
        except (OSError, IndexError):
            enabled = False
        if enabled:
            yield Finding("ok", "binfmt", f"linux/{platform} runs under emulation ({handler})")
        else:
            yield Finding(
                "warn",
                "binfmt",
                f"no binfmt_misc handler for linux/{platform}: RUN steps of that platform cannot run",
                f"apt-get install qemu-user-static binfmt-support; update-binfmts --enable {handler}",
            )


def _state_dir(state_dir: Path) -> Iterator[Finding]:
    existing = state_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "the state dir" if existing == state_dir else f"{existing} (where the state dir would go)"
        yield Finding(
            "fail",
            "state dir",
            f"{what} is not writable",
            f"pick another with --state-dir or BAKEC_STATE_DIR, or fix the permissions of {existing}",
        )
    elif existing == state_dir:
        yield Finding("ok", "state dir", f"{state_dir} is writable")
    else:
        yield Finding("ok", "state dir", f"{state_dir} does not exist yet; the first build creates it")
    free = shutil.disk_usage(existing).free
    gib = free / (1 << 30)
    if free < _NO_DISK:
        yield Finding(
            "fail", "disk", f"{gib:.1f} GiB free under {existing}", "free space, or run `bakec prune`"
        )
    elif free < _LOW_DISK:
        yield Finding(
            "warn", "disk", f"only {gib:.1f} GiB free under {existing}", "free space, or run `bakec prune`"
        )
    else:
        yield Finding("ok", "disk", f"{gib:.1f} GiB free under {existing}")
