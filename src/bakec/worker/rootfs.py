"""Reading a snapshot's files from the host, without mounting it.

An active overlay snapshot is ``upperdir`` over ``lowerdir=a:b:c`` (top first); a
snapshot with no parent is a plain bind of one directory. A path's file is the topmost
layer's copy, unless a whiteout (char device 0/0) or an opaque directory hides the
layers below. Used for user lookup and for mount stubs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bakec.content.layers import LayerBlob, write_layer
from bakec.content.store import ContentStore
from bakec.errors import BuildError

if TYPE_CHECKING:
    from bakec.worker.client import Mount

_OPAQUE = "trusted.overlay.opaque"


@dataclass(frozen=True)
class Layers:
    """The layer directories of a snapshot's mounts; ``upper`` is None for a read-only view."""

    upper: Path | None
    lowers: tuple[Path, ...]

    @property
    def top_down(self) -> tuple[Path, ...]:
        return ((self.upper,) if self.upper else ()) + self.lowers


def layers(mounts: Sequence[Mount]) -> Layers:
    """Split snapshot mounts into the writable upper dir and the lower dirs."""
    if len(mounts) != 1:
        raise ValueError(f"expected one snapshot mount, got {len(mounts)}")
    m = mounts[0]
    if m.type == "bind":
        if "ro" in m.options:
            return Layers(None, (Path(m.source),))
        return Layers(Path(m.source), ())
    if m.type != "overlay":
        raise ValueError(f"unsupported snapshot mount type {m.type!r}")
    upper: Path | None = None
    lowers: tuple[Path, ...] = ()
    for opt in m.options:
        key, _, value = opt.partition("=")
        if key == "upperdir":
            upper = Path(value)
        elif key == "lowerdir":
            lowers = tuple(Path(p) for p in value.split(":"))
    return Layers(upper, lowers)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, _OPAQUE) == b"y"
    except OSError:
        return False


def lookup(lay: Layers, path: str) -> Path | None:
    """The host path holding ``path`` (absolute in the rootfs), or None if absent or deleted.

    Symlinks inside the rootfs are not followed; callers look up plain files like /etc/passwd.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    for layer in lay.top_down:
        hidden_below = False
        current = layer
        for i, part in enumerate(parts):
            current = current / part
            try:
                st = os.lstat(current)
            except OSError:
                break
            if _is_whiteout(st):
                return None
            if i < len(parts) - 1 and stat.S_ISDIR(st.st_mode) and _opaque(current):
                hidden_below = True
        else:
            return current
        if hidden_below:
            return None
    return None


def exists(lay: Layers, path: str) -> bool:
    return lookup(lay, path) is not None


def read_file(lay: Layers, path: str) -> bytes | None:
    found = lookup(lay, path)
    if found is None or not found.is_file():
        return None
    return found.read_bytes()


def resolve_user(lay: Layers, user: str) -> tuple[int, int, list[int]]:
    """``uid, gid, additional gids`` for a Dockerfile USER value, as runc's user lookup does it.

    A name (or a number found in /etc/passwd) takes its primary group from passwd; with
    no explicit group, its supplementary groups are those in /etc/group listing it.
    "" and "uid:gid" are taken as numbers without any lookup, as BuildKit does. The
    additional gids always start with the primary gid, as in BuildKit since the
    supplementary-groups fix (CVE-2023-25173): ``id`` shows ``groups=0`` for root.
    """
    uid, gid, extra = _lookup_user(lay, user)
    return uid, gid, [gid] + [g for g in dict.fromkeys(extra) if g != gid]


def _lookup_user(lay: Layers, user: str) -> tuple[int, int, list[int]]:
    name, _, group = user.partition(":")
    if not user or (name.isdigit() and group.isdigit()):
        # BuildKit's fast path: no passwd lookup, so no supplementary groups either.
        return int(name or 0), int(group or 0), []
    passwd = _entries(read_file(lay, "/etc/passwd"))
    entry = next(
        (e for e in passwd if len(e) >= 4 and (e[0] == name or (name.isdigit() and e[2] == name))), None
    )
    if entry is None:
        if not name.isdigit():
            raise BuildError(f"unable to find user {name}: no matching entries in passwd file")
        uid, gid, matched = int(name), 0, ""
    else:
        uid, gid, matched = int(entry[2]), int(entry[3]), entry[0]
    groups = _entries(read_file(lay, "/etc/group"))
    extra: list[int] = []
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = next((e for e in groups if len(e) >= 3 and e[0] == group), None)
            if g is None:
                raise BuildError(f"unable to find group {group}: no matching entries in group file")
            gid = int(g[2])
    elif matched:
        extra = [int(e[2]) for e in groups if len(e) >= 4 and matched in e[3].split(",") and e[2].isdigit()]
    return uid, gid, extra


def _entries(data: bytes | None) -> list[list[str]]:
    if not data:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    return [line.split(":") for line in lines if line and not line.startswith("#")]


def missing_paths(lay: Layers, targets: Sequence[str]) -> list[str]:
    """The paths that running with mounts at ``targets`` will create as stubs, parents first.

    runc creates each missing mount target (and its missing parents) in the rootfs; BuildKit
    removes them again after the RUN when they are still empty, and so do we.
    """
    missing: list[str] = []
    for target in targets:
        parts = [p for p in target.split("/") if p]
        for i in range(1, len(parts) + 1):
            path = "/" + "/".join(parts[:i])
            if path not in missing and not exists(lay, path):
                missing.append(path)
    return missing


def remove_stubs(upper: Path, paths: Sequence[str]) -> None:
    """Remove stub files and directories from the upper dir if they are still empty."""
    for path in sorted(paths, key=lambda p: p.count("/"), reverse=True):
        host = upper / path.lstrip("/")
        try:
            st = os.lstat(host)
        except OSError:
            continue
        parent = os.stat(host.parent)
        try:
            if stat.S_ISDIR(st.st_mode):
                host.rmdir()
            elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
                host.unlink()
            else:
                continue
        except OSError:
            continue  # not empty: the RUN put something there, so it belongs to the layer
        # As BuildKit does: removing the stub must not touch the parent's timestamps.
        os.utime(host.parent, ns=(parent.st_atime_ns, parent.st_mtime_ns))


def layer_from_mounts(
    store: ContentStore, mounts: Sequence[object], *, skip: Iterable[str] = (), **kw: object
) -> LayerBlob:
    """The layer of an active overlay snapshot, from its mounts (``upperdir`` over ``lowerdir``)."""
    lay = layers(mounts)  # type: ignore[arg-type]
    if lay.upper is None:
        raise BuildError("snapshot has no upper dir")
    return write_layer(store, lay.upper, lay.lowers, skip=skip, **kw)  # type: ignore[arg-type]
