"""``ADD`` of a local archive: detection by content and extraction inside a root.

As BuildKit's file backend does it:

* a source is an archive when it is a regular file whose (possibly gzip, bzip2,
  xz or zstd compressed, recognised by magic bytes) content starts with a valid
  tar header; the name does not matter;
* entries are written below the destination directory, which is treated as the
  root of the archive: ``..`` and absolute names cannot leave it, symlinks met
  on the way are resolved inside it, a relative one that climbs out is an error;
  hard link targets (absolute or not) name entries inside it too;
* entries keep their mode, owner (``--chown`` replaces it) and times; missing
  parent directories are created 0755 root; an existing entry is replaced unless
  both are directories; directory times are set last, in reverse order.

Decompression (by magic bytes) is :func:`bakec.util.compression.open_sniffed`.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile

from bakec.errors import BuildError
from bakec.util import safepath
from bakec.util.compression import DECOMPRESS_ERRORS, open_sniffed
from bakec.util.golang import go_quote

__all__ = ["extract", "is_archive"]


def is_archive(path: str) -> bool:
    """Whether ``path`` is a regular file holding a (compressed) tar archive."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return False
        with open(path, "rb") as f:
            stream = open_sniffed(f)
            try:
                with tarfile.open(fileobj=stream, mode="r|") as tf:
                    return tf.next() is not None
            finally:
                if stream is not f:
                    stream.close()
    except (OSError, EOFError, tarfile.TarError, *DECOMPRESS_ERRORS):
        return False


def _archive_name(name: str) -> str:
    """An entry name relative to the extraction root ("" for the root itself); BuildError if it escapes."""
    parts: list[str] = []
    for part in name.lstrip("/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise BuildError(f"archive path {name!r} is outside extraction root")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _resolve(root: str, name: str, follow_leaf: bool) -> str:
    """``name`` resolved inside the extraction ``root`` (relative result, "" for the root)."""
    for _ in range(256):
        parts = name.split("/") if name else []
        resolved: list[str] = []
        followed = False
        for i, part in enumerate(parts):
            if i == len(parts) - 1 and not follow_leaf:
                resolved.append(part)
                continue
            candidate = "/".join(resolved + [part])
            try:
                st = os.lstat(os.path.join(root, candidate))
            except (FileNotFoundError, NotADirectoryError):
                return "/".join(resolved + parts[i:])
            if not stat.S_ISLNK(st.st_mode):
                resolved.append(part)
                continue
            target = os.readlink(os.path.join(root, candidate))
            if target.startswith("/"):
                name = _archive_name(target)
            else:
                joined = safepath.clean("/" + "/".join(resolved) + "/" + target)
                # a relative link may not climb above the extraction root
                depth = 0
                for p in ("/".join(resolved) + "/" + target).split("/"):
                    if p in ("", "."):
                        continue
                    depth += -1 if p == ".." else 1
                    if depth < 0:
                        raise BuildError(f"archive symlink {candidate!r} points outside extraction root")
                name = joined.lstrip("/")
            rest = "/".join(parts[i + 1 :])
            if rest:
                name = f"{name}/{rest}" if name else rest
            followed = True
            break
        if not followed:
            return "/".join(resolved)
    raise BuildError(f"too many symlinks resolving archive path {name!r}")


def extract(
    archive: str,
    dest: str,
    owner: tuple[int, int] | None = None,
) -> int:
    """Extract ``archive`` below the existing directory ``dest``; returns the number of entries."""
    dir_times: list[tuple[str, int, int]] = []
    count = 0
    with open(archive, "rb") as f:
        stream = open_sniffed(f)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                for member in tf:
                    name = _archive_name(member.name)
                    if not name:
                        continue
                    rel = _resolve(dest, name, member.isdir())
                    if not rel:
                        continue
                    count += 1
                    _extract_one(tf, member, dest, rel, owner, dir_times)
        finally:
            if stream is not f:
                stream.close()
    for path, atime, mtime in reversed(dir_times):
        os.utime(path, ns=(atime, mtime), follow_symlinks=False)
    return count


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    mtime = int(member.mtime * 1_000_000_000)
    atime = mtime
    pax_atime = member.pax_headers.get("atime") if member.pax_headers else None
    if pax_atime:
        try:
            atime = max(atime, int(float(pax_atime) * 1_000_000_000))
        except ValueError:
            pass
    if mtime < 0:
        mtime = 0
    if atime < 0:
        atime = 0
    return atime, mtime


def _extract_one(
    tf: tarfile.TarFile,
    member: tarfile.TarInfo,
    dest: str,
    rel: str,
    owner: tuple[int, int] | None,
    dir_times: list[tuple[str, int, int]],
) -> None:
    uid, gid = owner if owner is not None else (member.uid, member.gid)
    head, _, _ = rel.rpartition("/")
    if head:
        cur = dest
        for part in head.split("/"):
            cur = os.path.join(cur, part)
            try:
                os.mkdir(cur, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(cur).st_mode):
                    raise BuildError(f"mkdir {safepath.relative(dest, cur)}: not a directory") from None
                continue
            os.lchown(cur, 0, 0)
            os.chmod(cur, 0o755)
    path = os.path.join(dest, rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not (stat.S_ISDIR(st.st_mode) and member.isdir()):
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    mode = member.mode & 0o7777
    atime, mtime = _times(member)
    if member.isdir():
        try:
            os.mkdir(path, mode & 0o777)
        except FileExistsError:
            pass
        os.lchown(path, uid, gid)
        os.chmod(path, mode)
        dir_times.append((path, atime, mtime))
    elif member.isreg():
        src = tf.extractfile(member)
        assert src is not None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode & 0o777)
        try:
            with os.fdopen(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.utime(fd, ns=(atime, mtime))
        finally:
            os.close(fd)
    elif member.issym():
        os.symlink(member.linkname, path)
        os.lchown(path, uid, gid)
        os.utime(path, ns=(atime, mtime), follow_symlinks=False)
    elif member.islnk():
        link = _archive_name(member.linkname)
        if not link:
            raise BuildError(f"archive hardlink {member.name!r} targets extraction root")
        link = _resolve(dest, link, False)
        try:
            os.link(os.path.join(dest, link), path, follow_symlinks=False)
        except OSError as exc:
            # Name the entry, never the host paths of the extraction root.
            reason = "link target not found in archive" if exc.errno == errno.ENOENT else exc.strerror
            raise BuildError(
                f"invalid hardlink {go_quote(member.name)} -> {go_quote(member.linkname)}: {reason}"
            ) from None
        os.lchown(path, uid, gid)
        if not stat.S_ISLNK(os.lstat(path).st_mode):
            os.chmod(path, mode)
            os.utime(path, ns=(atime, mtime))
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(path, kind | (mode & 0o777), os.makedev(member.devmajor, member.devminor))
        os.lchown(path, uid, gid)
        os.chmod(path, mode)
        os.utime(path, ns=(atime, mtime), follow_symlinks=False)
    else:
        raise BuildError(f"unsupported tar entry {member.name!r} type {member.type!r}")
