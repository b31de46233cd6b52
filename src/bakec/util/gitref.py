"""Git references in build contexts and ``ADD``: which strings are git URLs, as buildx/BuildKit tell."""

from __future__ import annotations

import re

_GIT_SSH_RE = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:(?!//)")


def is_remote_url(value: str) -> bool:
    """buildx ``IsRemoteURL``: an http(s) URL or something git understands."""
    if value.startswith(("http://", "https://")):
        return True
    return _is_git_ref(value)


def is_git_ssh(value: str) -> bool:
    """True when ``value`` is a git URL reached over ssh."""
    return value.startswith("ssh://") or bool(_GIT_SSH_RE.match(value))


def _is_git_ref(value: str) -> bool:
    if value.startswith(("git://", "ssh://", "git@", "github.com/")):
        return True
    if _GIT_SSH_RE.match(value):
        return True
    if value.startswith(("http://", "https://")):
        return True
    base = value.split("#", 1)[0]
    return base.endswith(".git") and "://" in base
