"""``type=local``: the image's filesystem written into ``dest``.

Layers are applied in order with OCI whiteout rules (``.wh.<name>`` deletes what lower
layers had, ``.wh..wh..opq`` empties a dir of lower layers' entries). Extraction never
leaves ``dest``: every parent path is resolved inside it the way containerd's
``fs.RootPath`` does (``..`` stops at the root, absolute symlinks restart at the root),
and the last component is never followed. Owners become the exporting user's, as with
BuildKit (``keep_owners=True`` keeps the layers' owners; ``bakec`` runs as root, so
both work). Several platforms go to ``dest/<os>_<arch>[_<variant>]``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path

from bakec.errors import BuildError
from bakec.export.image import Image, Platform
from bakec.worker.layer_compress import kind_of, open_decompressed
from bakec.worker.layer_store import ContentStore
from bakec.worker.layers import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerBlob

_MAX_LINKS = 255


def resolve_in_root(root: str, path: str) -> str:
    """The host path of ``path`` inside ``root``, following symlinks without leaving it."""
    parts = [p for p in path.split("/") if p and p != "."]
    parts.reverse()
    current: list[str] = []
    links = 0
    while parts:
        p = parts.pop()
        if p == "..":
            if current:
                current.pop()
            continue
        host = os.path.join(root, *current, p)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            current.append(p)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise BuildError(f"too many levels of symbolic links at {path}")
            target = os.readlink(host)
            if target.startswith("/"):
                current = []
            parts.extend(reversed([x for x in target.split("/") if x and x != "."]))
            continue
        current.append(p)
    return os.path.join(root, *current)


def _clean(name: str) -> str | None:
    parts: list[str] = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                return None  # escapes the root: such entries are refused
            parts.pop()
            continue
        parts.append(p)
    return "/".join(parts)


def _remove(host: str) -> None:
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(host)
    else:
        os.unlink(host)


def _ensure_dir(root: str, rel: str) -> str:
    """The host path of dir ``rel`` inside ``root``, creating missing dirs (0755) on the way.

    The resolved path has no symlinks left in its existing part, so creating along it
    cannot leave ``root``; a non-dir where a dir is needed is replaced, as tar does.
    """
    host = resolve_in_root(root, rel)
    current = root
    for part in os.path.relpath(host, root).split(os.sep):
        if part in (".", ""):
            continue
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(current)
            os.mkdir(current, 0o755)
    return host


def apply_layer(
    root: str | Path,
    store: ContentStore,
    blob: LayerBlob,
    *,
    owner: tuple[int, int] | None = None,
) -> None:
    """Apply one layer onto ``root``; ``owner`` replaces every entry's uid/gid when given."""
    root = os.fspath(root)
    added: set[str] = set()
    dir_times: list[tuple[str, int]] = []
    with (
        open(store.path(blob.digest), "rb") as f,
        tarfile.open(
            fileobj=open_decompressed(f, kind_of(blob.media_type)),
            mode="r|",  # type: ignore[call-overload]
        ) as tar,
    ):
        for m in tar:
            rel = _clean(m.name)
            if rel is None or rel == "":
                continue
            parent, _, base = rel.rpartition("/")
            if base == OPAQUE_MARKER:
                host_dir = resolve_in_root(root, parent)
                if os.path.isdir(host_dir) and not os.path.islink(host_dir):
                    for child in os.listdir(host_dir):
                        if f"{parent}/{child}".lstrip("/") not in added:
                            _remove(os.path.join(host_dir, child))
                continue
            if base.startswith(WHITEOUT_PREFIX):
                _remove(os.path.join(resolve_in_root(root, parent), base[len(WHITEOUT_PREFIX) :]))
                continue
            host = os.path.join(_ensure_dir(root, parent), base)
            added.add(rel)
            try:
                st = os.lstat(host)
            except FileNotFoundError:
                st = None
            if st is not None and not (m.isdir() and stat.S_ISDIR(st.st_mode)):
                _remove(host)
            if m.isreg():
                fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as out:
                    src = tar.extractfile(m)
                    assert src is not None
                    shutil.copyfileobj(src, out, 1 << 20)
            elif m.isdir():
                if st is None or not stat.S_ISDIR(st.st_mode):
                    os.mkdir(host, 0o700)
            elif m.issym():
                os.symlink(m.linkname, host)
            elif m.islnk():
                target = _clean(m.linkname)
                if target is None:
                    raise BuildError(f"hardlink {m.name} points outside the root")
                tparent, _, tbase = target.rpartition("/")
                os.link(os.path.join(resolve_in_root(root, tparent), tbase), host, follow_symlinks=False)
                continue  # a hardlink shares the target's metadata
            elif m.isfifo():
                os.mkfifo(host, 0o600)
            elif m.ischr() or m.isblk():
                kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                os.mknod(host, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            else:
                continue
            uid, gid = owner if owner is not None else (m.uid, m.gid)
            os.lchown(host, uid, gid)
            if not m.issym():
                os.chmod(host, m.mode & 0o7777)
            for key, value in m.pax_headers.items():
                if key.startswith("SCHILY.xattr.") and not m.issym():
                    try:
                        os.setxattr(
                            host, key[13:], value.encode("utf-8", "surrogateescape"), follow_symlinks=False
                        )
                    except OSError:
                        pass
            if m.isdir():
                dir_times.append((host, int(m.mtime)))
            else:
                os.utime(host, (m.mtime, m.mtime), follow_symlinks=False)
    for host, mtime in reversed(dir_times):
        if os.path.isdir(host):
            os.utime(host, (mtime, mtime), follow_symlinks=False)


def platform_dir(p: Platform) -> str:
    return "_".join(x for x in (p.os, p.architecture, p.variant) if x)


def unpack(
    store: ContentStore, image: Image, dest: str | Path, *, keep_owners: bool = False, delete: bool = False
) -> None:
    """Write ``image``'s filesystem into ``dest`` (``delete`` empties it first: ``mode=delete``)."""
    dest = Path(dest)
    if delete and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    owner = None if keep_owners else (os.geteuid(), os.getegid())
    for blob in image.layers:
        apply_layer(dest, store, blob, owner=owner)


def export(
    store: ContentStore,
    images: Sequence[Image],
    dest: str | Path,
    *,
    platform_split: bool | None = None,
    keep_owners: bool = False,
    mode: str = "copy",
) -> None:
    if mode not in ("copy", "delete"):
        raise BuildError(f"invalid local exporter mode {mode!r}")
    split = len(images) > 1 if platform_split is None else platform_split
    for image in images:
        target = Path(dest) / platform_dir(image.platform) if split else Path(dest)
        unpack(store, image, target, keep_owners=keep_owners, delete=mode == "delete")
