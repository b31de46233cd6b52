"""A tiny image layer made from Debian's busybox-static binary, for tests on real containerd."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "sh",
    "echo",
    "true",
    "false",
    "id",
    "pwd",
    "env",
    "cat",
    "ls",
    "hostname",
    "sleep",
    "touch",
    "mkdir",
)
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nbuilder:x:1000:1000::/home/builder:/bin/sh\n"
GROUP = b"root:x:0:\nbuilder:x:1000:\nextra:x:2000:builder\n"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def busybox_layer() -> bytes:
    """A gzip tar with /bin/busybox, applet symlinks, and /etc/passwd and /etc/group."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin", "etc", "tmp"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if name == "tmp" else 0o755
            tar.addfile(info)
        data = BUSYBOX.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for name, content in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
