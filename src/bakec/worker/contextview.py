"""A local build context as the client would send it, without copying it.

BuildKit only ever sees the files a ``.dockerignore`` lets through. For a ``RUN --mount``
of the context bakec mounts the directory itself under an overlay whose upper directory
holds a whiteout (character device 0/0) for each ignored entry, so the process sees the
same tree BuildKit would have received at the cost of one walk, and writes (``rw``) land
in that upper directory, which is thrown away.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from bakec.util.patternmatch import PatternMatcher


def hidden_entries(root: str, below: str, patterns: Sequence[str]) -> list[str]:
    """Entries under ``root/below`` that ``patterns`` keep from the client, relative to ``root/below``.

    As fsutil's walker: a matched entry is left out with everything below it, unless it is a
    directory that a ``!`` pattern may re-include something from, in which case only its
    content is filtered (and it is left out when nothing of it remains).
    """
    matcher = PatternMatcher(patterns)
    hidden: list[str] = []
    prefix = below.strip("/")

    def walk(rel_dir: str) -> bool:
        """Collect hidden entries of ``rel_dir``; whether anything in it stays visible."""
        visible = False
        try:
            entries = list(os.scandir(os.path.join(root, rel_dir)))
        except OSError:
            return False
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if matcher.matches(rel):
                mark = len(hidden)
                if is_dir and matcher.may_reinclude_below(rel) and walk(rel):
                    visible = True
                else:
                    del hidden[mark:]  # the whole directory goes: one whiteout
                    hidden.append(rel)
                continue
            visible = True
            if is_dir:
                walk(rel)
        return visible

    if not matcher:
        return []
    walk(prefix)
    cut = len(prefix) + 1 if prefix else 0
    return sorted({h[cut:] for h in hidden if h.startswith(prefix + "/") or not prefix} - {""})


def is_hidden(rel: str, patterns: Sequence[str], is_dir: bool) -> bool:
    """Whether the context path ``rel`` (or one of its parents) is kept from the client."""
    matcher = PatternMatcher(patterns)
    parts = [p for p in rel.split("/") if p]
    for i in range(1, len(parts) + 1):
        sub = "/".join(parts[:i])
        if matcher.matches(sub) and not ((i < len(parts) or is_dir) and matcher.may_reinclude_below(sub)):
            return True
    return False


def prepare_upper(lower: str, upper: str, hidden: Sequence[str] = ()) -> None:
    """Make ``upper`` an overlay upper directory that shows ``lower`` as it is, minus ``hidden``.

    The overlay shows a merged directory with its upper copy's mode, owner and times, so the
    upper root and every directory made for a whiteout take the lower directory's.
    """
    made = [""]
    for rel in hidden:
        parent = os.path.dirname(rel)
        missing = []
        while parent and not os.path.isdir(os.path.join(upper, parent)):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for path in reversed(missing):
            os.mkdir(os.path.join(upper, path))
            made.append(path)
        os.mknod(os.path.join(upper, rel), stat.S_IFCHR | 0o600, os.makedev(0, 0))
    for path in made:  # last, so making their children does not change their times
        st = os.lstat(os.path.join(lower, path))
        target = os.path.join(upper, path)
        os.chown(target, st.st_uid, st.st_gid)
        os.chmod(target, stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))


__all__ = ["hidden_entries", "is_hidden", "prepare_upper"]
