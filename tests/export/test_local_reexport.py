"""Exporting over a previous local export: unchanged files stay, anything else is written again.

The result must always equal a fresh export (content, modes, owners, mtimes, links, xattrs);
only files that already are exactly the image's keep their inode.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

from bakec.content import apply
from bakec.content.store import ContentStore
from bakec.export import local
from bakec.export.image import Image


def snapshot(root: Path) -> dict[str, tuple]:
    """Everything an export decides about each path (inode numbers left out)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            data = (
                p.read_bytes()
                if stat.S_ISREG(st.st_mode)
                else os.readlink(p)
                if stat.S_ISLNK(st.st_mode)
                else b""
            )
            xattrs = () if stat.S_ISLNK(st.st_mode) else tuple(sorted(os.listxattr(p)))
            mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else 0
            out[str(p.relative_to(root))] = (
                kind,
                st.st_mode & 0o7777,
                st.st_uid,
                st.st_gid,
                mtime,
                data,
                st.st_nlink,
                xattrs,
            )
    return out


def inodes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): os.lstat(p).st_ino
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def test_reexport_keeps_unchanged_files_and_equals_a_fresh_export(
    tmp_path: Path, store: ContentStore, image: Image
) -> None:
    fresh, dest = tmp_path / "fresh", tmp_path / "dest"
    local.export(store, [image], fresh)
    local.export(store, [image], dest)
    before = inodes(dest)
    local.export(store, [image], dest)
    assert snapshot(dest) == snapshot(fresh)
    after = inodes(dest)
    kept = [rel for rel, ino in after.items() if before.get(rel) == ino]
    # Files the export may leave alone: one link, small enough to compare, written by one layer only
    # (a path a later layer writes again is unlinked and written once more on every export).
    rewritten = _written_by_several_layers(store, image)
    keepable = [
        rel
        for rel in after
        if os.lstat(dest / rel).st_nlink == 1
        and os.lstat(dest / rel).st_size <= apply._SAME_MAX
        and rel not in rewritten
    ]
    assert len(keepable) >= 2 and set(keepable) <= set(
        kept
    )  # every unchanged single-link file was left alone


def _written_by_several_layers(store: ContentStore, image: Image) -> set[str]:
    seen: dict[str, int] = {}
    for blob in image.layers:
        with tarfile.open(store.path(blob.digest), mode="r:*") as tf:
            for name in {m.name.lstrip("./").rstrip("/") for m in tf.getmembers()}:
                seen[name] = seen.get(name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def test_changed_files_in_dest_are_written_again(tmp_path: Path, store: ContentStore, image: Image) -> None:
    fresh, dest = tmp_path / "fresh", tmp_path / "dest"
    local.export(store, [image], fresh)
    local.export(store, [image], dest)
    files = sorted(
        rel
        for rel, ino in inodes(dest).items()
        if os.lstat(dest / rel).st_nlink == 1 and os.lstat(dest / rel).st_size > 0
    )
    assert len(files) >= 4
    same_size, moded, xattred, linked = (dest / rel for rel in files[:4])
    st = os.lstat(same_size)
    data = bytearray(same_size.read_bytes())
    data[0] ^= 0xFF
    same_size.write_bytes(bytes(data))
    os.utime(same_size, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime, other bytes
    os.chmod(moded, (os.lstat(moded).st_mode & 0o7777) ^ 0o001)
    os.setxattr(xattred, "user.extra", b"1")
    os.link(linked, tmp_path / "outside-link")
    local.export(store, [image], dest)
    assert snapshot(dest) == snapshot(fresh)
    assert os.lstat(tmp_path / "outside-link").st_nlink == 1  # the export's file is a new one


def test_reexport_after_the_image_changed(tmp_path: Path, store: ContentStore, image: Image) -> None:
    """An export of the image over an export of its lower layers equals a fresh export."""
    lower = Image(config=image.config, layers=list(image.layers[:-1]))
    fresh, dest = tmp_path / "fresh", tmp_path / "dest"
    local.export(store, [image], fresh)
    local.export(store, [lower], dest)
    local.export(store, [image], dest)
    extra = set(snapshot(dest)) - set(snapshot(fresh))  # files only the lower layers have stay, as before
    assert {k: v for k, v in snapshot(dest).items() if k not in extra} == snapshot(fresh)
    shutil.rmtree(dest)
