"""File operations (COPY, ADD, WORKDIR, heredocs) applied to a mounted root, as BuildKit does them.

:func:`apply` runs the actions of one :class:`~bakec.ops.FileOp` in order on
``root``, the host directory where the step's snapshot is mounted (an empty
directory for ``FROM scratch`` and for ``COPY --link``, whose result is merged
later). ``Copy`` actions read from ``sources[action.source]``: a mounted snapshot
of another stage or image, a download, or the local context directory itself.

Semantics follow BuildKit's file backend and fsutil's copier, checked against the
conformance corpus:

* every path is resolved inside its root (:mod:`bakec.util.safepath`): ``..``
  and symlinks never lead outside it; a destination through a symlink writes
  into the symlink's target, a source symlink named directly is followed;
* wildcards are matched per path element (Go's ``filepath.Match``) and a
  wildcard matching nothing copies nothing; a missing plain source fails with
  ``"/path": not found``;
* a directory source copies its contents; a destination ending in ``/`` (or an
  existing directory) receives the source under its base name; missing parents
  are created 0755 and owned by the ``--chown`` user, else root;
* modes (setuid, setgid, sticky included), symlinks (targets verbatim), hard
  links within one copy, xattrs and atime/mtime come from the source; owners too,
  except from a local context (always 0:0, as the client sends it) or with
  ``--chown``;
* ``--chown`` names are looked up in the destination's ``/etc/passwd`` and
  ``/etc/group`` (an unknown name is 0, as in BuildKit); ``--chmod`` is octal or
  symbolic (:mod:`bakec.fs.mode`);
* ``--exclude`` and ``--parents`` use moby/patternmatcher relative to each source;
  a local context's ``.dockerignore`` hides what the client would not send;
* ``ADD`` extracts local archives (:mod:`bakec.fs.archive`).

Copying is one ``lstat`` (from ``scandir``), one ``open`` pair and a
``copy_file_range`` per file; owner and mode calls are skipped when the new file
already has them, and directory times are set after their contents.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from bakec.errors import BuildError
from bakec.fs.archive import extract, is_archive
from bakec.fs.mode import DAEMON_UMASK, ModeFunc, octal_mode, parse_chmod
from bakec.ops import Copy, Mkdir, Mkfile, Rm
from bakec.util import safepath
from bakec.util.patternmatch import PatternMatcher, go_match, has_wildcards, split_wildcards

__all__ = [
    "Source",
    "Stats",
    "apply",
    "copy",
    "mkdir",
    "mkfile",
    "resolve_owner",
    "rm",
    "verify_checksum",
]

_COPY_CHUNK = 1 << 30
_O_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW
_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


@dataclass(frozen=True)
class Source:
    """A directory a ``Copy`` reads from.

    ``local`` marks a build context read straight from the client's disk: its
    owners become 0:0 and ``ignore`` (the ``.dockerignore`` patterns) hides what
    the client would not have sent. ``name`` is how errors refer to it.
    """

    root: str
    local: bool = False
    ignore: tuple[str, ...] = ()
    name: str = ""


@dataclass
class Stats:
    """What a run of file actions wrote."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    other: int = 0
    bytes: int = 0
    extracted: int = 0

    @property
    def entries(self) -> int:
        return self.files + self.dirs + self.symlinks + self.hardlinks + self.other


def apply(
    root: str,
    actions: Sequence[Copy | Mkdir | Mkfile | Rm],
    sources: Sequence[Source | str] = (),
    *,
    user_root: str | None = None,
    timestamp_ns: int | None = None,
    on_scratch: bool = False,
) -> Stats:
    """Run ``actions`` in order on ``root``; ``--chown`` names resolve in ``user_root`` (default ``root``).

    ``on_scratch``: the actions run on an empty filesystem that is no input of the op (FROM
    scratch, COPY --link), where BuildKit has nothing to look names up in: a user or group
    name fails, numbers and ``root`` do not.
    """
    stats = Stats()
    srcs = [s if isinstance(s, Source) else Source(s) for s in sources]
    for action in actions:
        spec = getattr(action, "owner", "")
        if spec and on_scratch and _has_name(spec):
            raise BuildError("invalid user index: -1")  # BuildKit: the name's lookup input is -1
        owner = resolve_owner(spec, user_root or root) if spec else None
        if isinstance(action, Copy):
            if not 0 <= action.source < len(srcs):
                raise BuildError(f"copy source index {action.source} out of range ({len(srcs)} sources)")
            copy(root, action, srcs[action.source], owner=owner, stats=stats, timestamp_ns=timestamp_ns)
        elif isinstance(action, Mkdir):
            mkdir(root, action, owner=owner, timestamp_ns=timestamp_ns)
        elif isinstance(action, Mkfile):
            mkfile(root, action, owner=owner, timestamp_ns=timestamp_ns)
        elif isinstance(action, Rm):
            rm(root, action)
        else:
            raise BuildError(f"unknown file action {action!r}")
    return stats


# -- owners ---------------------------------------------------------------------------


def _parse_id(text: str) -> int | None:
    if text == "root":
        return 0
    try:
        value = int(text, 10)
    except ValueError:
        return None
    return value if -(2**31) <= value < 2**31 else None


def _has_name(spec: str) -> bool:
    """Whether a ``--chown`` value names a user or group (an empty part counts as id 0, as in llb)."""
    return any(part and _parse_id(part) is None for part in spec.split(":", 1))


def _db_lookup(root: str, path: str, name: str, gid_field: int) -> tuple[int, int] | None:
    """The (id, gid field) of ``name`` in a passwd/group file inside ``root``."""
    try:
        with open(safepath.resolve(root, path), "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    for raw in data.decode("utf-8", "surrogateescape").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if fields[0] != name or len(fields) < 3:
            continue
        try:
            ident = int(fields[2])
            gid = int(fields[gid_field]) if gid_field < len(fields) and fields[gid_field] else ident
        except ValueError:
            continue
        return ident, gid
    return None


def resolve_owner(spec: str, root: str) -> tuple[int, int] | None:
    """``--chown`` ``user[:group]`` as numbers; names from ``root``'s /etc/passwd and /etc/group.

    As BuildKit: a number (or ``root``) is used as is and a lone uid also sets the
    gid; a user name brings its primary group; an unknown name counts as 0; an empty
    user or group (``:7``, ``5:``) is 0.
    """
    if not spec:
        return None
    user, sep, group = spec.partition(":")
    uid = gid = 0
    ident = _parse_id(user)
    if ident is not None:
        uid = gid = ident
    else:
        found = _db_lookup(root, "/etc/passwd", user, 3)
        if found is not None:
            uid, gid = found
    if sep:
        gident = _parse_id(group) if group else 0  # llb sends an empty group as id 0
        if gident is not None:
            gid = gident
        else:
            gfound = _db_lookup(root, "/etc/group", group, 2)
            if gfound is not None:
                gid = gfound[0]
    return uid & 0xFFFFFFFF, gid & 0xFFFFFFFF


# -- mkdir, mkfile, rm --------------------------------------------------------------------


def mkdir(
    root: str, action: Mkdir, *, owner: tuple[int, int] | None = None, timestamp_ns: int | None = None
) -> None:
    """``Mkdir``: the path (symlinks followed inside ``root``), its parents too with ``make_parents``."""
    path = safepath.resolve(root, safepath.clean(action.path))
    mode = action.mode & 0o777
    if action.make_parents:
        safepath.mkdir_all(root, path, mode, owner, timestamp_ns)
        return
    perm = mode & ~DAEMON_UMASK
    try:
        os.mkdir(path, perm)
    except FileExistsError:
        return
    except FileNotFoundError:
        raise BuildError(f"mkdir {safepath.relative(root, path)}: no such file or directory") from None
    os.chmod(path, perm)
    if owner is not None:
        os.lchown(path, *owner)
    if timestamp_ns is not None:
        os.utime(path, ns=(timestamp_ns, timestamp_ns), follow_symlinks=False)


def mkfile(
    root: str, action: Mkfile, *, owner: tuple[int, int] | None = None, timestamp_ns: int | None = None
) -> None:
    """``Mkfile``: write ``data`` with ``mode`` changed by ``chmod``, replacing a file that is there.

    Its one user is a heredoc ``COPY``, which BuildKit writes to scratch and then
    copies over the destination with the ``--chmod`` value, so the result is a new
    file with that mode, and missing parent directories are created as that copy
    creates them (an octal ``--chmod``'s mode, else 0755; owned by the ``--chown`` user).
    """
    change = parse_chmod(action.chmod)
    mode = action.mode if change is None else change(action.mode, False)
    octal = octal_mode(action.chmod)
    path = safepath.resolve(root, safepath.clean(action.path))
    safepath.mkdir_all(root, os.path.dirname(path), 0o755 if octal is None else octal, owner, timestamp_ns)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(st.st_mode):
            raise BuildError(f"cannot replace to directory {safepath.relative(root, path)} with file")
        os.unlink(path)
    data = action.data.encode("utf-8", "surrogateescape")
    try:
        fd = os.open(path, _O_CREATE, 0o600)
    except FileNotFoundError:
        raise BuildError(f"open {safepath.relative(root, path)}: no such file or directory") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode & 0o7777)
        if timestamp_ns is not None:
            os.utime(fd, ns=(timestamp_ns, timestamp_ns))
    finally:
        os.close(fd)


def rm(root: str, action: Rm) -> None:
    """``Rm``: remove a path (the entry itself, not a symlink's target), or every wildcard match."""
    paths = [action.path]
    if action.allow_wildcard:
        paths = _resolve_wildcards(root, safepath.clean(action.path), follow=False, ignore=None)
    for p in paths:
        _rm_path(root, p, action.allow_not_found)


def _rm_path(root: str, path: str, allow_not_found: bool) -> None:
    cleaned = safepath.clean(path)
    head, base = safepath.split(cleaned)
    if not base:
        raise BuildError("rmPath: invalid empty path")
    target = os.path.join(safepath.resolve(root, head), base)
    if not allow_not_found:
        try:
            os.stat(safepath.resolve(root, cleaned))
        except (FileNotFoundError, NotADirectoryError):
            raise BuildError(f"stat {cleaned}: no such file or directory") from None
    try:
        st = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(st.st_mode):
        _rmtree(target)
    else:
        os.unlink(target)


def _rmtree(path: str) -> None:
    with os.scandir(path) as it:
        entries = list(it)
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            _rmtree(e.path)
        else:
            os.unlink(e.path)
    os.rmdir(path)


# -- checksums ----------------------------------------------------------------------------


def verify_checksum(path: str, checksum: str) -> str:
    """Check a downloaded file against ``ADD --checksum`` (``sha256:<hex>`` etc.); returns its digest."""
    algo, sep, want = checksum.partition(":")
    if not sep or algo not in ("sha256", "sha384", "sha512") or not want:
        raise BuildError(f"invalid checksum digest format: {checksum!r}")
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    got = f"{algo}:{h.hexdigest()}"
    if got != checksum.lower():
        raise BuildError(f"digest mismatch {got}: {checksum}")
    return got


# -- copy --------------------------------------------------------------------------------


def _not_found(source: Source, path: str) -> BuildError:
    ref = source.name or source.root
    return BuildError(f'failed to calculate checksum of ref {ref}: "{path}": not found')


class _Ignore:
    """A local context's ``.dockerignore``, answering as if excluded files were never sent."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.matcher = PatternMatcher(patterns)

    def hidden(self, rel: str, is_dir: bool) -> bool:
        """Whether ``rel`` (relative to the context root) is absent from what the client sends."""
        if not rel or not self.matcher.matches(rel):
            return False
        return not (is_dir and self.matcher.may_reinclude_below(rel))


def _ignore_for(source: Source) -> _Ignore | None:
    return _Ignore(source.ignore) if source.local and source.ignore else None


def _visible(source_root: str, host: str, ignore: _Ignore | None) -> bool:
    if ignore is None:
        return True
    rel = safepath.relative(source_root, host).lstrip("/")
    if not rel:
        return True
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        is_dir = i < len(parts) or os.path.isdir(host)
        if ignore.hidden(sub, is_dir):
            return False
    return True


def _resolve_wildcards(root: str, src: str, *, follow: bool, ignore: _Ignore | None) -> list[str]:
    """fsutil's ResolveWildcards: in-root paths matching ``src``, in walk order (plain ``src`` as is)."""
    base, rest = split_wildcards(src)
    if not rest:
        return [base]
    base_host = (
        safepath.resolve(root, base, follow=follow) if base not in ("/", "") else root.rstrip("/") or "/"
    )
    out: list[str] = []
    depth = rest.count("/") + 1

    def walk(host: str, rel: str, level: int) -> None:
        try:
            with os.scandir(host) as it:
                entries = sorted(it, key=lambda e: e.name)
        except (NotADirectoryError, FileNotFoundError, PermissionError):
            return
        for e in entries:
            crel = f"{rel}/{e.name}" if rel else e.name
            is_dir = e.is_dir(follow_symlinks=False)
            if ignore is not None and not _visible(root, e.path, ignore):
                continue
            if go_match(rest, crel):
                out.append(safepath.relative(root, e.path))
                continue
            if is_dir and level < depth:
                walk(e.path, crel, level + 1)

    walk(base_host, "", 1)
    return out


@dataclass
class _Pending:
    src: str
    dst: str
    st: os.stat_result
    created: bool = False  # handled: exists now (made by us or already there)
    made: bool = False  # made lazily by create_parents, its metadata still to set


@dataclass
class _Copier:
    """One fsutil ``Copy`` call: settings plus the hard-link table and lazily created parents."""

    source: Source
    owner: tuple[int, int] | None
    chmod: ModeFunc | None
    include: PatternMatcher | None
    exclude: PatternMatcher | None
    ignore: _Ignore | None
    stats: Stats
    timestamp_ns: int | None
    umask: int
    parent_mode: int = 0o755  # of the directories the copy creates on the way to its destination
    inodes: dict[tuple[int, int], str] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    euid: int = field(default_factory=os.geteuid)
    egid: int = field(default_factory=os.getegid)

    # -- metadata ----------------------------------------------------------------------

    def owner_of(self, st: os.stat_result) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        if self.source.local:
            return 0, 0
        return st.st_uid, st.st_gid

    def mode_of(self, st: os.stat_result) -> int:
        perm = st.st_mode & 0o7777
        if self.chmod is not None:
            return self.chmod(perm, stat.S_ISDIR(st.st_mode))
        return perm

    def times(self, st: os.stat_result) -> tuple[int, int]:
        if self.timestamp_ns is not None:
            return self.timestamp_ns, self.timestamp_ns
        return st.st_atime_ns, st.st_mtime_ns

    def apply_info(self, path: str, st: os.stat_result, src: str) -> None:
        """fsutil's copyFileInfo (owner, mode, xattrs, times) for a dir, symlink or special file."""
        uid, gid = self.owner_of(st)
        os.lchown(path, uid, gid)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(path, self.mode_of(st))
        _copy_xattrs(src, path)
        os.utime(path, ns=self.times(st), follow_symlinks=False)

    # -- entries -----------------------------------------------------------------------

    def create_parents(self, overwrite: bool) -> None:
        for p in self.pending:
            if p.created:
                continue
            try:
                st = os.lstat(p.dst)
            except FileNotFoundError:
                os.mkdir(p.dst, 0o700)
                p.made = True
                self.stats.dirs += 1
            else:
                if not stat.S_ISDIR(st.st_mode):
                    raise BuildError(f"cannot copy to non-directory: {p.dst}")
                if overwrite:
                    os.chmod(p.dst, p.st.st_mode & 0o7777)
            p.created = True

    def copy_file(self, src: str, dst: str, st: os.stat_result, fresh: bool) -> None:
        """A regular file (or a hard link to one copied earlier in this copy)."""
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.inodes.get(key)
            if first is not None:
                if not fresh:
                    _make_room(dst)
                os.link(first, dst, follow_symlinks=False)
                self.stats.hardlinks += 1
                return
            self.inodes[key] = dst
        uid, gid = self.owner_of(st)
        mode = self.mode_of(st)
        chown = uid != self.euid or gid != self.egid or not fresh
        chmod = mode != (mode & 0o777 & ~self.umask) or not fresh
        _write_file((src, dst, st.st_size, uid, gid, mode, chown, chmod, self.times(st)))
        self.stats.files += 1
        self.stats.bytes += st.st_size

    def copy_special(self, src: str, dst: str, st: os.stat_result, fresh: bool) -> None:
        mode = st.st_mode
        if not fresh:
            _make_room(dst)
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
            self.stats.symlinks += 1
        else:
            os.mknod(dst, stat.S_IFMT(mode) | 0o600, st.st_rdev)
            self.stats.other += 1
        uid, gid = self.owner_of(st)
        if uid != self.euid or gid != self.egid or not fresh:
            os.lchown(dst, uid, gid)
        if not stat.S_ISLNK(mode):
            os.chmod(dst, self.mode_of(st))
        _copy_xattrs(src, dst)
        os.utime(dst, ns=self.times(st), follow_symlinks=False)

    def copy_dir(
        self,
        src: str,
        dst: str,
        st: os.stat_result,
        rel: str,
        ctx_rel: str,
        overwrite: bool,
        include: bool,
        inc_info: tuple[bool, ...] | None,
        exc_info: tuple[bool, ...] | None,
    ) -> bool:
        """fsutil's copyDirectory; returns whether ``dst`` was created. Times are the caller's."""
        created = fresh = False
        pend = _Pending(src, dst, st)
        if include:
            try:
                dst_st = os.lstat(dst)
            except FileNotFoundError:
                os.mkdir(dst, 0o700)
                created = True
                self.stats.dirs += 1
                # a set-group-ID parent hands its group down: then owners must be set explicitly
                made = os.lstat(dst)
                fresh = made.st_gid == self.egid and not made.st_mode & stat.S_ISGID
            else:
                if not stat.S_ISDIR(dst_st.st_mode):
                    raise BuildError(f"cannot copy to non-directory: {dst}")
                if overwrite:
                    os.chmod(dst, st.st_mode & 0o7777)
            pend.created = True
        self.pending.append(pend)
        try:
            self.copy_children(src, dst, rel, ctx_rel, fresh=fresh, inc_info=inc_info, exc_info=exc_info)
        finally:
            self.pending.pop()
        return created or pend.made

    def copy_children(
        self,
        src: str,
        dst: str,
        rel: str,
        ctx_rel: str,
        *,
        fresh: bool,
        inc_info: tuple[bool, ...] | None,
        exc_info: tuple[bool, ...] | None,
    ) -> None:
        with os.scandir(src) as it:
            entries = sorted(it, key=_name)
        filtered = self.include is not None or self.exclude is not None or self.ignore is not None
        for e in entries:
            name = e.name
            csrc = e.path
            cdst = dst + "/" + name
            st = e.stat(follow_symlinks=False)
            mode = st.st_mode
            if not filtered:
                if stat.S_ISREG(mode):
                    self.copy_file(csrc, cdst, st, fresh)
                elif stat.S_ISDIR(mode):
                    self.copy_dir(csrc, cdst, st, "", "", True, True, None, None)
                    self.finish_dir(csrc, cdst, st, True)
                else:
                    self.copy_special(csrc, cdst, st, fresh)
                continue
            crel = f"{rel}/{name}" if rel else name
            cctx = f"{ctx_rel}/{name}" if ctx_rel else name
            self.copy_entry(csrc, cdst, st, crel, cctx, True, fresh, inc_info, exc_info)

    def copy_entry(
        self,
        src: str,
        dst: str,
        st: os.stat_result,
        rel: str,
        ctx_rel: str,
        overwrite: bool,
        fresh: bool,
        parent_inc: tuple[bool, ...] | None,
        parent_exc: tuple[bool, ...] | None,
    ) -> None:
        """fsutil's copy() for an entry below the source root, with include/exclude/ignore."""
        mode = st.st_mode
        is_dir = stat.S_ISDIR(mode)
        if self.ignore is not None and ctx_rel and self.ignore.hidden(ctx_rel, is_dir):
            return
        include = True
        inc_info = exc_info = None
        if self.include is not None:
            include, inc_info = self.include.matches_with_parent(rel, parent_inc)
        if self.exclude is not None:
            excluded, exc_info = self.exclude.matches_with_parent(rel, parent_exc)
            if excluded:
                include = False
                if is_dir and not self.exclude.exclusions and self.include is None:
                    return  # nothing below can come back
        if self.ignore is not None and is_dir and self.ignore.matcher.matches(ctx_rel):
            include = False  # sent only for what a "!" pattern re-includes below it
        if include:
            self.create_parents(overwrite)
        if not is_dir:
            if not include:
                return
            if stat.S_ISREG(mode):
                self.copy_file(src, dst, st, fresh)
            else:
                self.copy_special(src, dst, st, fresh)
            return
        created = self.copy_dir(src, dst, st, rel, ctx_rel, overwrite, include, inc_info, exc_info)
        self.finish_dir(src, dst, st, created or (include and overwrite))

    def finish_dir(self, src: str, dst: str, st: os.stat_result, apply: bool) -> None:
        """Metadata of a copied directory, after its contents (which change its mtime)."""
        if apply:
            self.apply_info(dst, st, src)


_FileJob = tuple[str, str, int, int, int, int, bool, bool, tuple[int, int]]


def _write_file(job: _FileJob) -> None:
    src, dst, size, uid, gid, mode, chown, chmod, times = job
    sfd = os.open(src, _O_READ)
    try:
        try:
            dfd = os.open(dst, _O_CREATE, mode & 0o777)
        except FileExistsError:
            _make_room(dst)
            dfd = os.open(dst, _O_CREATE, mode & 0o777)
        try:
            if size:
                _copy_data(sfd, dfd, size)
            if chown:
                os.fchown(dfd, uid, gid)
            if chmod:
                os.fchmod(dfd, mode)
            _copy_xattrs(src, dfd)
            os.utime(dfd, ns=times)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _name(e: os.DirEntry[str]) -> str:
    return e.name


def _copy_xattrs(src: str, dst: str | int) -> None:
    """Extended attributes of ``src`` onto ``dst`` (a path, not followed, or an fd); errors ignored as BuildKit does."""
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            value = os.getxattr(src, name, follow_symlinks=False)
            if isinstance(dst, int):
                os.setxattr(dst, name, value)
            else:
                os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError:
            pass


def _make_room(dst: str) -> None:
    """fsutil's ensureEmptyFileTarget: remove what is at ``dst`` unless it is a directory."""
    try:
        st = os.lstat(dst)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise BuildError(f"cannot replace to directory {dst} with file")
    os.unlink(dst)


def _copy_data(sfd: int, dfd: int, size: int) -> None:
    done = 0
    try:
        while done < size:
            n = os.copy_file_range(sfd, dfd, min(size - done, _COPY_CHUNK))
            if n == 0:
                break
            done += n
        else:
            return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
            raise
    # the file grew, or copy_file_range cannot do it: plain read/write from where we are
    while True:
        chunk = os.read(sfd, 1 << 20)
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(dfd, view) :]


def _process_umask() -> int:
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o777  # unknown: always chmod


def copy(
    root: str,
    action: Copy,
    source: Source | str,
    *,
    owner: tuple[int, int] | None = None,
    stats: Stats | None = None,
    timestamp_ns: int | None = None,
) -> Stats:
    """One ``Copy`` action from ``source`` onto ``root`` (BuildKit's docopy)."""
    if not isinstance(source, Source):
        source = Source(source)
    stats = stats if stats is not None else Stats()
    chmod = parse_chmod(action.mode)
    ignore = _ignore_for(source)
    sroot = source.root.rstrip("/") or "/"

    src = action.src
    include: PatternMatcher | None = None
    required: str | None = None
    if action.parents:
        base, pivot, pattern = src.partition("/./")
        if not pivot:
            base, pattern = "/", src
        pattern = safepath.clean(pattern).lstrip("/")
        include = PatternMatcher([pattern])
        if not has_wildcards(base) and not has_wildcards(pattern):
            required = safepath.clean(base + "/" + pattern)
        src = base
    src = safepath.clean(src)
    exclude = PatternMatcher(action.exclude) if action.exclude else None

    if required is not None:
        host = safepath.resolve(sroot, required, follow=action.follow_symlinks)
        if not os.path.lexists(host) or not _visible(sroot, host, ignore):
            raise _not_found(source, required)

    if action.allow_wildcard and has_wildcards(src):
        matches = _resolve_wildcards(sroot, src, follow=action.follow_symlinks, ignore=ignore)
        if not matches:
            if action.allow_empty_wildcard:
                return stats
            raise _not_found(source, src)
    else:
        matches = [src]

    umask = _process_umask()
    octal = octal_mode(action.mode)
    parent_mode = 0o755 if octal is None else octal
    for match in matches:
        if action.follow_symlinks:
            src_host = safepath.resolve(sroot, match)
        else:
            head, base = safepath.split(match)
            src_host = os.path.join(safepath.resolve(sroot, head), base) if base else sroot
        try:
            src_st = os.lstat(src_host)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(source, match) from None
        if not _visible(sroot, src_host, ignore):
            raise _not_found(source, match)
        if action.unpack and stat.S_ISREG(src_st.st_mode) and is_archive(src_host):
            dest_host = safepath.resolve(root, safepath.clean(action.dest))
            safepath.mkdir_all(root, dest_host, 0o755, owner, timestamp_ns)
            stats.extracted += extract(src_host, dest_host, owner)
            continue
        copier = _Copier(
            source, owner, chmod, include, exclude, ignore, stats, timestamp_ns, umask, parent_mode
        )
        _copy_one(root, action, match, src_host, src_st, copier, sroot)
    return stats


def _copy_one(
    root: str,
    action: Copy,
    match: str,
    src_host: str,
    src_st: os.stat_result,
    c: _Copier,
    sroot: str,
) -> None:
    """fsutil's Copy for one resolved source: destination rules, then the recursive copy."""
    dest = action.dest
    head, tail = safepath.split(dest)
    ensure = head if tail not in ("", ".") else dest
    if ensure and action.create_dest_path:
        safepath.mkdir_all(
            root, safepath.resolve(root, safepath.clean(ensure)), c.parent_mode, c.owner, c.timestamp_ns
        )
    elif ensure and not os.path.isdir(safepath.resolve(root, safepath.clean(ensure))):
        raise BuildError(f"failed to stat {dest}: no such file or directory")
    dst = safepath.resolve(root, safepath.clean(dest))

    src_is_dir = stat.S_ISDIR(src_st.st_mode)
    try:
        dst_is_dir: bool | None = stat.S_ISDIR(os.lstat(dst).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        dst_is_dir = None
    if (not action.contents_only and src_is_dir and dst_is_dir is not None) or (
        not src_is_dir and dst_is_dir
    ):
        base = safepath.split(match.rstrip("/"))[1] or os.path.basename(src_host)
        dst = dst + "/" + base if dst != "/" else "/" + base
    target = os.path.dirname(dst) if dst != (root.rstrip("/") or "/") else dst
    if action.contents_only and src_is_dir and dst_is_dir is None:
        target = dst
    safepath.mkdir_all(root, target, c.parent_mode, c.owner, c.timestamp_ns)

    ctx_rel = safepath.relative(sroot, src_host).lstrip("/") if c.ignore is not None else ""
    if src_is_dir:
        created = c.copy_dir(src_host, dst, src_st, "", ctx_rel, False, True, None, None)
        if created:
            c.apply_info(dst, src_st, src_host)
        return
    if stat.S_ISREG(src_st.st_mode):
        c.copy_file(src_host, dst, src_st, False)
    else:
        c.copy_special(src_host, dst, src_st, False)
