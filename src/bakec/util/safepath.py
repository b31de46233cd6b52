"""Paths inside a root directory, resolved the way BuildKit's ``fs.RootPath`` does.

A build step sees a snapshot mounted at some host directory. Every path it names
(``COPY a /x/y``, a symlink inside the source, ``/etc/passwd`` for ``--chown``) is
resolved as if that directory were ``/``:

* symlinks are followed, an absolute target starting again at the root;
* ``..`` stops at the root, so nothing resolves outside it;
* a component that does not exist ends the symlink walk: the rest is kept as
  written (cleaned), which is what creating a new path needs;
* more than 255 links is an error (a loop).

The result is always ``root`` or a path below it, and every existing component of
it is a real directory (or, last, the entry itself), never a symlink. Callers
open the result with ``O_NOFOLLOW`` where a racing symlink would matter; snapshots
are private to one build step, so resolution and use do not race here.
"""

from __future__ import annotations

import errno
import os
import stat

from bakec.errors import BuildError

__all__ = ["MAX_LINKS", "clean", "mkdir_all", "relative", "resolve", "split"]

MAX_LINKS = 255


def clean(path: str) -> str:
    """The lexical ``/``-rooted form of ``path``: ``..`` clamped at ``/``, no ``.``, no double slash."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def split(path: str) -> tuple[str, str]:
    """Go's ``filepath.Split``: everything up to and including the last ``/``, and the rest."""
    i = path.rfind("/")
    return path[: i + 1], path[i + 1 :]


def resolve(root: str, path: str, *, follow: bool = True) -> str:
    """The host path of ``path`` inside ``root``, symlinks followed and bounded by ``root``.

    With ``follow=False`` the last component is not followed when it is a symlink
    (its parent still is), as for ``lstat``-style access to the entry itself.
    """
    root = root.rstrip("/") or "/"
    pending = [p for p in reversed(path.split("/")) if p not in ("", ".")]
    done: list[str] = []
    links = 0
    exists = True  # once a component is missing, the rest cannot exist either
    while pending:
        part = pending.pop()
        if part == "..":
            if done:
                done.pop()
            # "/missing/.." is back in existing territory
            exists = True
            continue
        if not exists or (not follow and not pending):
            done.append(part)
            continue
        host = _join(root, done, part)
        try:
            st = os.lstat(host)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                exists = False
                done.append(part)
                continue
            raise
        if not stat.S_ISLNK(st.st_mode):
            done.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise BuildError(f"too many links resolving {path!r} in the root filesystem")
        target = os.readlink(host)
        if target.startswith("/"):
            done = []
        pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
    return _join(root, done, None)


def _join(root: str, parts: list[str], last: str | None) -> str:
    tail = "/".join(parts + [last] if last is not None else parts)
    if not tail:
        return root
    return root + tail if root == "/" else root + "/" + tail


def relative(root: str, host: str) -> str:
    """``host`` (a path at or below ``root``) as an absolute in-root path."""
    root = root.rstrip("/")
    if host == root or not root:
        return "/" if host == root else host
    if not host.startswith(root + "/"):
        raise ValueError(f"{host!r} is not below {root!r}")
    return host[len(root) :]


def mkdir_all(
    root: str,
    host: str,
    mode: int = 0o755,
    owner: tuple[int, int] | None = None,
    times_ns: int | None = None,
) -> list[str]:
    """Create ``host`` (already resolved inside ``root``) and its missing parents, as fsutil's MkdirAll.

    New directories get the permission bits of ``mode`` exactly (buildkitd runs
    with umask 0; setuid, setgid and sticky are dropped, as Go's ``os.Mkdir`` drops
    them from an octal value), ``owner`` when given (otherwise they stay the
    creator's, root), and ``times_ns`` as atime and mtime when given. Existing
    directories are left alone. Returns the directories created, top first.
    """
    root = root.rstrip("/") or "/"
    if host != root and not host.startswith(root.rstrip("/") + "/"):
        raise ValueError(f"{host!r} is not below {root!r}")
    try:
        st = os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        pass
    else:
        if stat.S_ISDIR(st.st_mode):
            return []
        raise BuildError(f"mkdir {relative(root, host)}: not a directory")
    created: list[str] = []
    rel = host[len(root) :].strip("/") if root != "/" else host.strip("/")
    cur = root
    perm = mode & 0o777
    for part in rel.split("/"):
        cur = cur + part if cur.endswith("/") else cur + "/" + part
        try:
            os.mkdir(cur, perm)
        except FileExistsError:
            st = os.lstat(cur)
            if stat.S_ISDIR(st.st_mode):
                continue
            raise BuildError(f"mkdir {relative(root, cur)}: not a directory") from None
        except NotADirectoryError:
            raise BuildError(f"mkdir {relative(root, cur)}: not a directory") from None
        os.chmod(cur, perm)  # independent of this process's umask
        if owner is not None:
            os.lchown(cur, owner[0], owner[1])
        created.append(cur)
    if times_ns is not None:
        for path in created:
            os.utime(path, ns=(times_ns, times_ns), follow_symlinks=False)
    return created
