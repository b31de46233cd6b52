"""Layers from an overlay upper dir, as BuildKit's overlay differ writes them.

``write_layer(store, upper, lowers)`` walks only the upper dir (O(change), not O(base)),
decides what changed against the lower layers' merged view, and streams a tar into
the content store, computing the diffID (uncompressed sha256) and the blob digest
(compressed sha256) in the same pass. Semantics follow BuildKit's overlay differ and
containerd's change writer:

* a char device 0/0 is a deletion → ``.wh.<name>`` (skipped if the lower has no such path);
* a file or dir that exists below with the same mode, owner, rdev, capabilities (and,
  for non-dirs, size and mtime) is a copy-up, not a change, and is left out;
* an opaque dir (``trusted.overlay.opaque=y``) over an existing lower dir is compared
  entry by entry with the lower, giving per-file whiteouts, as BuildKit does
  [oracle 031]; ``opaque_markers=True`` writes ``.wh..wh..opq`` instead;
* parents of every entry are written before it (``includeParents``), files sharing an
  inode become hardlink entries, ``security.capability`` goes into a PAX record,
  sockets are dropped, mtimes are truncated to seconds;
* an unchanged copy-up that shares its inode with another name (``ln /lower-file /new``
  copies ``/lower-file`` up and links it) stays out of the tar, as in BuildKit, so the tar
  alone loses that the two names are one file; ``LayerBlob.links`` keeps it
  (``(name, linked-to)`` pairs) and :func:`bakec.content.apply.apply_layer` re-links them,
  which gives the one inode BuildKit's snapshot (and so its ``type=local`` export) has;
* entries are in walk order: depth first, names sorted bytewise.

Paths in ``skip`` (absolute in the rootfs, e.g. directories copied up only for mount
stubs) are left out with everything below them. ``rewrite_timestamp`` clamps mtimes
newer than it (SOURCE_DATE_EPOCH with ``rewrite-timestamp=true``); whiteouts get that
time too, or 0, so layers are reproducible.

The work is split across two threads: this one reads files and hashes the tar, the
other compresses, hashes and writes the blob (see ``Compression.open_writer``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bakec.content.store import ContentStore, Writer
from bakec.content.tar import (
    TYPE_BLOCK,
    TYPE_CHAR,
    TYPE_DIR,
    TYPE_FIFO,
    TYPE_LINK,
    TYPE_REG,
    TYPE_SYMLINK,
    Header,
    TarReader,
    TarWriter,
)
from bakec.errors import BuildError
from bakec.util.compression import (
    DEFAULT,
    Compression,
    decompress_stream,
    kind_of,
    open_decompressed,
    threaded_output,
)

ADD, MODIFY, DELETE, UNMODIFIED = "add", "modify", "delete", "unmodified"
SHARED = "shared"  # an unchanged copy-up another name of the upper dir links to: not in the tar
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
_REDIRECT_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")
_CHUNK = 1 << 20


class UnsupportedUpperDir(BuildError):
    """The upper dir uses redirect_dir or metacopy; the caller falls back to ``Client.diff``."""


@dataclass(frozen=True)
class LayerBlob:
    """A layer in the content store."""

    digest: str
    diff_id: str
    size: int
    media_type: str
    uncompressed_size: int = 0
    # (name, linked-to) pairs, paths relative to the root: names that were one inode in the
    # snapshot the layer was diffed from although the tar holds them as separate files (or
    # not at all). Not part of the blob's identity.
    links: tuple[tuple[str, str], ...] = field(default=(), compare=False)


# --- the lower layers' merged view ---------------------------------------------------------


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def _opaque(path: str) -> bool:
    return any(_xattr(path, k) == b"y" for k in _OPAQUE_XATTRS)


class LowerView:
    """Lookups in the union of read-only layer dirs (top first), honouring whiteouts."""

    def __init__(self, lowers: Sequence[Path | str]) -> None:
        self.layers = [os.fspath(p) for p in lowers]

    def _layers_for(self, parts: Sequence[str]) -> Iterator[tuple[str, os.stat_result]]:
        """(host path, stat) of ``parts`` in each layer that shows it, top first."""
        for layer in self.layers:
            current = layer
            hidden_below = False
            st: os.stat_result | None = None
            for i, part in enumerate(parts):
                current = os.path.join(current, part)
                try:
                    st = os.lstat(current)
                except OSError:
                    st = None
                    break
                if _is_whiteout(st):
                    return
                if i < len(parts) - 1:
                    if not stat.S_ISDIR(st.st_mode):
                        return
                    if _opaque(current):
                        hidden_below = True
            if st is not None:
                yield current, st
                if not stat.S_ISDIR(st.st_mode) or _opaque(current):
                    return
            if hidden_below:
                return

    def lstat(self, path: str) -> tuple[str, os.stat_result] | None:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return None
        return next(self._layers_for(parts), None)

    def listdir(self, path: str) -> set[str]:
        names: set[str] = set()
        gone: set[str] = set()
        for host, st in self._layers_for([p for p in path.split("/") if p]):
            if not stat.S_ISDIR(st.st_mode):
                break
            for entry in os.scandir(host):
                if entry.name in gone or entry.name in names:
                    continue
                if _is_whiteout(entry.stat(follow_symlinks=False)):
                    gone.add(entry.name)
                else:
                    names.add(entry.name)
        return names


# --- change detection ----------------------------------------------------------------------


def _caps(path: str) -> bytes | None:
    return _xattr(path, "security.capability")


def _same(base: tuple[str, os.stat_result], upper_path: str, st: os.stat_result) -> bool:
    """continuity's sameFile: equal metadata, and for non-dirs size, mtime and maybe content."""
    bpath, b = base
    if (b.st_dev, b.st_ino) == (st.st_dev, st.st_ino):
        return True
    if (b.st_mode, b.st_uid, b.st_gid, b.st_rdev) != (st.st_mode, st.st_uid, st.st_gid, st.st_rdev):
        return False
    if _caps(bpath) != _caps(upper_path):
        return False
    if stat.S_ISDIR(st.st_mode):
        return True
    if b.st_size != st.st_size:
        return False
    b_s, b_ns = divmod(b.st_mtime_ns, 10**9)
    u_s, u_ns = divmod(st.st_mtime_ns, 10**9)
    if b_s != u_s:
        return False
    if b_ns == 0 and u_ns == 0:
        if stat.S_ISLNK(st.st_mode):
            return os.readlink(bpath) == os.readlink(upper_path)
        if st.st_size == 0:
            return True
        return _same_content(bpath, upper_path)
    return b_ns == u_ns


def _same_content(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(_CHUNK), fb.read(_CHUNK)
            if ca != cb:
                return False
            if not ca:
                return True


def _sorted_entries(host: str) -> list[os.DirEntry[str]]:
    with os.scandir(host) as it:
        return sorted(it, key=lambda e: os.fsencode(e.name))


Change = tuple[str, str, os.stat_result | None]  # kind, absolute path in the rootfs, stat
ChangeFn = Callable[[str, str, "os.stat_result | None"], None]


def changes(
    upper: Path | str,
    lower: LowerView,
    fn: ChangeFn,
    *,
    skip: Iterable[str] = (),
    opaque_markers: bool = False,
) -> None:
    """Call ``fn(kind, path, stat)`` for each change in ``upper`` over ``lower``, in tar order."""
    upper = os.fspath(upper)
    skipped = {"/" + p.strip("/") for p in skip}

    def walk(rel: str) -> None:
        for entry in _sorted_entries(os.path.join(upper, rel.lstrip("/")) if rel else upper):
            path = f"{rel}/{entry.name}"
            if path in skipped:
                continue
            host = entry.path
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and any(_xattr(host, k) is not None for k in _REDIRECT_XATTRS):
                raise UnsupportedUpperDir(f"overlay redirect_dir/metacopy at {path}")
            if _is_whiteout(st):
                if lower.lstat(path) is not None:
                    fn(DELETE, path, st)
                continue
            base = lower.lstat(path)
            if base is None:
                fn(ADD, path, st)
            elif not _same(base, host, st):
                fn(MODIFY, path, st)
            elif st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                fn(SHARED, path, st)
            if stat.S_ISDIR(st.st_mode):
                if base is not None and stat.S_ISDIR(base[1].st_mode) and _opaque(host):
                    if opaque_markers:
                        fn(OPAQUE_MARKER, path, st)
                        walk_added(path)
                    else:
                        double_walk(path)
                else:
                    walk(path)

    def walk_added(rel: str) -> None:
        for entry in _sorted_entries(os.path.join(upper, rel.lstrip("/"))):
            path = f"{rel}/{entry.name}"
            if path in skipped:
                continue
            st = entry.stat(follow_symlinks=False)
            if _is_whiteout(st):
                continue
            fn(ADD, path, st)
            if stat.S_ISDIR(st.st_mode):
                walk_added(path)

    def double_walk(rel: str) -> None:
        # BuildKit runs continuity's two-tree walk (lower vs. upper without whiteouts) here.
        host_dir = os.path.join(upper, rel.lstrip("/"))
        ups = {
            e.name: e for e in _sorted_entries(host_dir) if not _is_whiteout(e.stat(follow_symlinks=False))
        }
        names = sorted(set(ups) | lower.listdir(rel), key=os.fsencode)
        for name in names:
            path = f"{rel}/{name}"
            if path in skipped:
                continue
            entry = ups.get(name)
            if entry is None:
                fn(DELETE, path, None)
                continue
            st = entry.stat(follow_symlinks=False)
            base = lower.lstat(path)
            if base is None:
                fn(ADD, path, st)
                if stat.S_ISDIR(st.st_mode):
                    walk_added(path)
                continue
            if not _same(base, entry.path, st):
                fn(MODIFY, path, st)
            elif not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                fn(UNMODIFIED, path, st)
            if stat.S_ISDIR(st.st_mode):
                if stat.S_ISDIR(base[1].st_mode):
                    double_walk(path)
                else:
                    walk_added(path)

    walk("")


# --- the tar stream --------------------------------------------------------------------------


class _ChangeWriter:
    """containerd's archive.ChangeWriter: changes → tar entries."""

    def __init__(self, tw: TarWriter, upper: str, whiteout_time: int, epoch: int | None) -> None:
        self.tw = tw
        self.upper = upper
        self.whiteout_time = whiteout_time
        self.epoch = epoch
        self.added_dirs: set[str] = set()
        self.inode_src: dict[tuple[int, int], str] = {}
        self.inode_refs: dict[tuple[int, int], list[str]] = {}
        self.shared: dict[tuple[int, int], list[str]] = {}

    def links(self) -> tuple[tuple[str, str], ...]:
        """``LayerBlob.links``: names left out of the tar that share an inode with another name."""
        groups = {inode: list(names) for inode, names in self.shared.items()}
        for inode, names in self.inode_refs.items():  # unmodified names whose inode never got a source
            groups.setdefault(inode, []).extend(names)
        out = []
        for inode, names in groups.items():
            src = self.inode_src.get(inode)
            if src is None:
                src, names = names[0], names[1:]
            out.extend((name, src) for name in names)
        return tuple(sorted(out))

    def _mtime(self, st: os.stat_result) -> int:
        t = st.st_mtime_ns // 10**9
        if self.epoch is not None and t > self.epoch:
            return self.epoch
        return t

    def _include_parents(self, name: str, is_dir: bool) -> None:
        name = name.rstrip("/")
        parent = os.path.dirname(name)
        if parent and parent not in self.added_dirs:
            self.added_dirs.add(parent)
            self.handle(MODIFY, "/" + parent, os.stat(os.path.join(self.upper, parent)))
        if is_dir:
            self.added_dirs.add(name)

    def handle(self, kind: str, path: str, st: os.stat_result | None) -> None:
        rel = path.lstrip("/")
        if kind == DELETE or kind == OPAQUE_MARKER:
            if kind == DELETE:
                d, _, base = rel.rpartition("/")
                name = (d + "/" if d else "") + WHITEOUT_PREFIX + base
            else:
                name = rel + "/" + OPAQUE_MARKER
            self._include_parents(name, False)
            self.tw.header(Header(name=name, typeflag=TYPE_REG, mtime=self.whiteout_time))
            return
        assert st is not None
        if kind == SHARED:
            self.shared.setdefault((st.st_dev, st.st_ino), []).append(rel)
            return
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return
        host = os.path.join(self.upper, rel)
        h = Header(
            name=rel,
            typeflag=TYPE_REG,
            mode=mode & 0o7777,
            uid=st.st_uid,
            gid=st.st_gid,
            mtime=self._mtime(st),
        )
        if stat.S_ISREG(mode):
            h.size = st.st_size
        elif stat.S_ISDIR(mode):
            h.typeflag, h.name = TYPE_DIR, rel + "/"
        elif stat.S_ISLNK(mode):
            h.typeflag, h.linkname = TYPE_SYMLINK, os.readlink(host)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            h.typeflag = TYPE_CHAR if stat.S_ISCHR(mode) else TYPE_BLOCK
            h.devmajor, h.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            h.typeflag = TYPE_FIFO
        extra: list[str] = []
        if not stat.S_ISDIR(mode) and st.st_nlink > 1:
            inode = (st.st_dev, st.st_ino)
            src = self.inode_src.get(inode)
            if src is not None:
                h.typeflag, h.linkname, h.size = TYPE_LINK, src, 0
            elif kind == UNMODIFIED:
                self.inode_refs.setdefault(inode, []).append(h.name)
                return
            else:
                self.inode_src[inode] = h.name
                extra = self.inode_refs.pop(inode, [])
        elif kind == UNMODIFIED:
            return
        if h.typeflag != TYPE_LINK and (caps := _caps(host)):
            h.pax["SCHILY.xattr.security.capability"] = caps.decode("utf-8", "surrogateescape")
        self._include_parents(h.name, h.typeflag == TYPE_DIR)
        self.tw.header(h)
        if h.typeflag == TYPE_REG and h.size:
            self._copy(host, h.size)
        for other in extra:
            link = Header(
                name=other,
                typeflag=TYPE_LINK,
                mode=h.mode,
                uid=h.uid,
                gid=h.gid,
                mtime=h.mtime,
                linkname=h.name,
            )
            self._include_parents(other, False)
            self.tw.header(link)

    def _copy(self, host: str, size: int) -> None:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            left = size
            while left > 0:
                chunk = os.read(fd, min(_CHUNK * 4, left))
                if not chunk:
                    raise BuildError(f"file shrank while writing the layer: {host}")
                self.tw.data(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        self.tw.pad(size)


class _Sink:
    """Buffers small writes, hashes the uncompressed stream, hands it to the compressor."""

    def __init__(self, compression: Compression, writer: Writer) -> None:
        self.diff = hashlib.sha256()
        self.usize = 0
        self._buf = bytearray()
        self._out = threaded_output(writer.write)
        self._stream = compression.open_writer(self._out.write)

    def _emit(self, data: bytes) -> None:
        self.diff.update(data)
        self.usize += len(data)
        self._stream.write(data)

    def write(self, data: bytes | memoryview) -> None:
        if len(data) < 65536:
            self._buf += data
            if len(self._buf) >= _CHUNK:
                self._emit(bytes(self._buf))
                self._buf.clear()
            return
        if self._buf:
            self._emit(bytes(self._buf))
            self._buf.clear()
        self._emit(bytes(data))

    def close(self) -> None:
        if self._buf:
            self._emit(bytes(self._buf))
            self._buf.clear()
        self._stream.close()
        self._out.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the original error is what matters
            self._stream.close()
        with contextlib.suppress(Exception):
            self._out.close()


def _write_stream(
    store: ContentStore,
    compression: Compression,
    oci_mediatypes: bool,
    produce: Callable[[TarWriter], None],
    *,
    close_tar: bool = True,
) -> LayerBlob:
    writer = store.writer()
    sink = _Sink(compression, writer)
    try:
        tw = TarWriter(sink.write)
        produce(tw)
        if close_tar:
            tw.close()
        sink.close()
        digest = writer.commit()
    except BaseException:
        sink.abort()
        writer.abort()
        raise
    return LayerBlob(
        digest=digest,
        diff_id="sha256:" + sink.diff.hexdigest(),
        size=writer.size,
        media_type=compression.media_type(oci_mediatypes),
        uncompressed_size=sink.usize,
    )


def write_layer(
    store: ContentStore,
    upper: Path | str,
    lowers: Sequence[Path | str] = (),
    *,
    compression: Compression = DEFAULT,
    skip: Iterable[str] = (),
    rewrite_timestamp: int | None = None,
    opaque_markers: bool = False,
    oci_mediatypes: bool = True,
) -> LayerBlob:
    """The layer of ``upper`` over ``lowers`` (layer dirs, top first), stored in ``store``.

    With no lowers every entry is an addition: this also makes a layer from a plain dir.
    """
    upper = os.fspath(upper)
    lower = LowerView(lowers)
    whiteout_time = rewrite_timestamp or 0

    links: tuple[tuple[str, str], ...] = ()

    def produce(tw: TarWriter) -> None:
        nonlocal links
        cw = _ChangeWriter(tw, upper, whiteout_time, rewrite_timestamp)
        changes(upper, lower, cw.handle, skip=skip, opaque_markers=opaque_markers)
        links = cw.links()

    blob = _write_stream(store, compression, oci_mediatypes, produce)
    return replace(blob, links=links) if links else blob


# --- re-packing stored layers (compression change, force-compression, rewrite-timestamp) -------


def convert_layer(
    store: ContentStore,
    blob: LayerBlob,
    compression: Compression,
    *,
    rewrite_timestamp: int | None = None,
    oci_mediatypes: bool = True,
) -> LayerBlob:
    """Re-compress ``blob`` and, with ``rewrite_timestamp``, re-pack it with mtimes clamped."""
    kind = kind_of(blob.media_type)
    if rewrite_timestamp is None:

        def produce_raw(tw: TarWriter) -> None:
            for chunk in decompress_stream(store.chunks(blob.digest), kind):
                tw.data(chunk)

        # The tar is copied verbatim (it already ends with its zero blocks): same diffID.
        return _write_stream(store, compression, oci_mediatypes, produce_raw, close_tar=False)

    def produce(tw: TarWriter) -> None:
        with open(store.path(blob.digest), "rb") as f:
            _repack(open_decompressed(f, kind).read, tw, rewrite_timestamp)

    return _write_stream(store, compression, oci_mediatypes, produce)


def _repack(src: Callable[[int], bytes], tw: TarWriter, epoch: int) -> None:
    reader = TarReader(src)
    for e in reader:
        typeflag = TYPE_REG if e.typeflag in (b"\x00", b"7") else e.typeflag
        name = e.name
        if typeflag == TYPE_DIR and not name.endswith("/"):
            name += "/"
        h = Header(
            name=name,
            typeflag=typeflag,
            mode=e.mode,
            uid=e.uid,
            gid=e.gid,
            size=e.size if typeflag == TYPE_REG else 0,
            # whiteouts carry the diff's time in BuildKit (containerd's change writer): the epoch here
            mtime=epoch
            if name.rstrip("/").rsplit("/", 1)[-1].startswith(WHITEOUT_PREFIX)
            else min(e.mtime, epoch),
            linkname=e.linkname,
            uname=e.uname,
            gname=e.gname,
            devmajor=e.devmajor,
            devminor=e.devminor,
            pax={k: v for k, v in e.pax.items() if k.startswith("SCHILY.xattr.")},
        )
        tw.header(h)
        if typeflag == TYPE_REG and e.size:
            for chunk in reader.read_data(e):
                tw.data(chunk)
            tw.pad(e.size)
