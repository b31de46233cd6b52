"""What differs between two layers: the files, and for each what changed (content, mode, mtime, owner).

Both layers are read from their content stores as tar streams; entries are compared by
path. ``rewrite_timestamp`` (SOURCE_DATE_EPOCH with ``rewrite-timestamp=true``) clamps
mtimes newer than it in both, as the exporter does, so only what the exported layers would
show counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.content.tar import TarReader
from bakec.util.compression import kind_of, open_decompressed


@dataclass(frozen=True)
class Entry:
    """One tar entry as far as reproducibility goes."""

    kind: str
    mode: int
    uid: int
    gid: int
    mtime: int
    content: str  # sha256 of a file's bytes, a link's target

    def differences(self, other: Entry) -> list[str]:
        """What differs from ``other`` (the rebuild's entry), in words."""
        out = []
        if self.kind != other.kind:
            out.append(f"type {self.kind} → {other.kind}")
        elif self.content != other.content:
            what = "link target" if self.kind in ("symlink", "hardlink") else "content"
            out.append(f"{what} {self.content[:19]} → {other.content[:19]}")
        if self.mode != other.mode:
            out.append(f"mode {self.mode:04o} → {other.mode:04o}")
        if (self.uid, self.gid) != (other.uid, other.gid):
            out.append(f"owner {self.uid}:{self.gid} → {other.uid}:{other.gid}")
        if self.mtime != other.mtime:
            out.append(f"mtime {self.mtime} → {other.mtime}")
        return out


@dataclass(frozen=True)
class FileDifference:
    path: str
    what: tuple[str, ...]


_KINDS = {
    b"0": "file",
    b"\x00": "file",
    b"1": "hardlink",
    b"2": "symlink",
    b"5": "dir",
    b"3": "char",
    b"6": "fifo",
}


def entries(store: ContentStore, blob: LayerBlob, rewrite_timestamp: int | None = None) -> dict[str, Entry]:
    """The layer's entries by path (``/``-rooted)."""
    out: dict[str, Entry] = {}
    with open(store.path(blob.digest), "rb") as f:
        reader = TarReader(open_decompressed(f, kind_of(blob.media_type)).read)
        for e in reader:
            kind = "dir" if e.is_dir() else _KINDS.get(e.typeflag, "other")
            if kind == "file":
                digest = hashlib.sha256()
                for chunk in reader.read_data(e):
                    digest.update(chunk)
                content = "sha256:" + digest.hexdigest()
            else:
                content = e.linkname
            mtime = e.mtime
            if rewrite_timestamp is not None and mtime > rewrite_timestamp:
                mtime = rewrite_timestamp
            path = "/" + e.name.strip("/").removeprefix("./")
            out[path] = Entry(kind, e.mode & 0o7777, e.uid, e.gid, mtime, content)
    return out


def differences(
    old_store: ContentStore,
    old: LayerBlob,
    new_store: ContentStore,
    new: LayerBlob,
    rewrite_timestamp: int | None = None,
) -> Iterator[FileDifference]:
    """The files that differ between ``old`` and ``new``, in path order."""
    before = entries(old_store, old, rewrite_timestamp)
    after = entries(new_store, new, rewrite_timestamp)
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is None:
            yield FileDifference(path, ("only in the rebuild",))
        elif b is None:
            yield FileDifference(path, ("only in the last build",))
        elif what := a.differences(b):
            yield FileDifference(path, tuple(what))
