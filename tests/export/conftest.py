"""Fixtures for the exporter tests: a small busybox image made of hand-made layers.

Layers are made with bakec's own layer writer from plain dirs (a whiteout is a char
device 0/0, as overlayfs makes it), like ``scripts/make-base-images`` does for the base:

1. ``bin/busybox`` (Debian's busybox-static) and applet symlinks;
2. files with modes, a symlink, a hardlink pair, a nested dir, and whiteouts of
   ``bin/cat`` and ``bin/sleep``;
3. a whiteout of the whole ``opt/gone`` dir and a replaced file.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakec.content.layers import LayerBlob, write_layer
from bakec.content.store import ContentStore
from bakec.export.image import Image
from bakec.util.compression import Compression
from bakec.util.platform import Platform

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "echo", "cat", "mkdir", "touch", "sleep")
T = 1_650_000_000


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "exporter tests need root (whiteout devices, ownership)"
    if not BUSYBOX.exists():
        return "/bin/busybox missing (apt-get install busybox-static)"
    if shutil.which("skopeo") is None:
        return "skopeo not installed"
    return None


MISSING = _missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _file(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    os.utime(path, (T, T))


def _freeze(root: Path) -> None:
    """Every mtime (dirs and symlinks too) set to T, so layers are byte-reproducible."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (T, T), follow_symlinks=False)
    os.utime(root, (T, T))


def build_layers(root: Path, store: ContentStore, compression: Compression | None = None) -> list[LayerBlob]:
    comp = compression or Compression()
    base = root / "l1"
    (base / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, base / "bin/busybox")
    os.chmod(base / "bin/busybox", 0o755)
    for a in APPLETS:
        (base / "bin" / a).symlink_to("busybox")
    l2 = root / "l2"
    _file(l2 / "etc/motd", "hello\n")
    _file(l2 / "etc/secret", "s\n", 0o600)
    _file(l2 / "opt/gone/a", "a\n")
    _file(l2 / "opt/tool", "#!/bin/sh\necho tool\n", 0o4755)
    _file(l2 / "opt/data/x.txt", "x" * 5000)
    os.link(l2 / "opt/data/x.txt", l2 / "opt/data/y.txt")
    (l2 / "opt/link").symlink_to("/etc/motd")
    os.chown(l2 / "etc/secret", 1000, 1000)
    os.mkfifo(l2 / "opt/fifo")
    _whiteout(l2 / "bin/cat")
    _whiteout(l2 / "bin/sleep")
    l3 = root / "l3"
    _whiteout(l3 / "opt/gone")
    _file(l3 / "etc/motd", "changed\n")
    for d in (base, l2, l3):
        _freeze(d)
    return [
        write_layer(store, base, compression=comp),
        write_layer(store, l2, [base], compression=comp),
        write_layer(store, l3, [l2, base], compression=comp),
    ]


CONFIG = {
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
    "created": "2023-11-14T22:13:20Z",
    "history": [{"created_by": "test"}],
}


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


@pytest.fixture
def image(tmp_path: Path, store: ContentStore) -> Image:
    return Image(
        config=CONFIG, layers=build_layers(tmp_path / "src", store), platform=Platform("linux", "amd64")
    )


def skopeo(*args: str) -> str:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="session")
def daemon() -> Iterator[object]:
    """A private embedded containerd (short state dir), stopped and removed afterwards."""
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("containerd/ctr not installed")
    from bakec.worker.daemon import Daemon

    state = Path(tempfile.mkdtemp(prefix="bx", dir="/tmp"))
    d = Daemon(state)
    try:
        d.ensure().close()
        yield d
    finally:
        d.stop()
        shutil.rmtree(state, ignore_errors=True)
