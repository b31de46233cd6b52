"""Filesystem entitlements: the local paths a bake run reads and writes, against ``--allow``.

buildx's bake (``bake/entitlements.go``) asks for ``fs.read`` / ``fs.write`` (``fs`` is both,
``*`` any path) before anything is built:

- read: each target's local context, its Dockerfile, local named contexts, ``secret`` ``src``
  files, ``ssh`` key/socket paths, ``cache-from`` ``type=local,src=``;
- write: ``dest`` of ``local``, ``tar``, ``oci`` and ``docker`` outputs (not ``-``, stdout),
  ``cache-to`` ``type=local,dest=``.

Everything under the current working directory is allowed without asking, and so is a path
the command line itself names with ``--set`` (an output, cache or secret given there), as in
buildx. A requested path counts by its longest existing prefix with symlinks resolved, so a
symlink inside the working directory that points outside it needs the entitlement, and a
new ``dest`` needs write access to its nearest existing parent. An allowed path is resolved
the same way and covers what lies beneath it.

Where bakec differs on purpose: buildx keeps only the last target's missing paths (Go map
order, so which ones is random) and lets ``fs.read=/a`` cover ``/ab``; bakec asks for every
target's and matches whole path components.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakec.bake.options import parse_entry
from bakec.bake.overrides import parse_overrides
from bakec.errors import BuildError, SpecError
from bakec.util.gitref import is_remote_url
from bakec.util.golang import parse_bool

_WRITE_OUTPUTS = ("local", "tar", "oci", "docker")
_NOT_LOCAL = ("target:", "docker-image://")


@dataclass
class FsRequest:
    """The paths a run reads and writes, as given (relative to ``cwd``)."""

    read: set[str] = field(default_factory=set)
    write: set[str] = field(default_factory=set)


def requested(targets: Mapping[str, Any], cwd: str) -> FsRequest:
    """Every local path the resolved ``targets`` read or write, as buildx's ``check`` collects them."""
    out = FsRequest()
    for t in targets.values():
        context = t.context or "."
        local_context = not is_remote_url(context) and "://" not in context
        if local_context:
            out.read.add(context)
        dockerfile = t.dockerfile or "Dockerfile"
        if t.dockerfile_inline is None:
            if dockerfile.startswith("cwd://"):
                out.read.add(dockerfile[len("cwd://") :] or ".")
            elif os.path.isabs(dockerfile) or local_context:
                out.read.add(os.path.join(context, dockerfile))
        for value in (t.contexts or {}).values():
            path = _local_named_context(value)
            if path is not None:
                out.read.add(path)
        for secret in t.secret or []:
            if secret.get("src"):
                out.read.add(secret["src"])
        for ssh in t.ssh or []:
            out.read.update(p for p in ssh.get("paths") or [] if p)
        for entry in t.cache_from or []:
            if entry.get("type") == "local" and entry.get("src"):
                out.read.add(entry["src"])
        for entry in t.cache_to or []:
            if entry.get("type") == "local" and entry.get("dest"):
                out.write.add(entry["dest"])
        for entry in t.output or []:
            dest = entry.get("dest")
            if entry.get("type") in _WRITE_OUTPUTS and dest and dest != "-":
                out.write.add(dest)
    out.read = {os.path.normpath(os.path.join(cwd, p)) for p in out.read}
    out.write = {os.path.normpath(os.path.join(cwd, p)) for p in out.write}
    return out


def _local_named_context(value: str) -> str | None:
    """The local directory a ``contexts`` value names, if it names one."""
    if value.startswith(_NOT_LOCAL) or is_remote_url(value):
        return None
    if value.startswith("cwd://"):
        return value[len("cwd://") :] or "."
    if value.startswith("oci-layout://"):
        return value[len("oci-layout://") :].partition("@")[0].partition(":")[0] or "."
    return None if "://" in value else value


def granted_by_overrides(
    overrides: Sequence[str], env: Mapping[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """What ``--set`` values grant themselves, as buildx's ``AddOverrides`` does.

    Returns (read paths, write paths, entitlement names): ``output`` and ``cache-to`` local
    ``dest``, ``cache-from`` local ``src``, ``secrets`` ``src``, ``ssh`` paths, and
    ``entitlements`` values ``network.host`` / ``security.insecure``.
    """

    read: list[str] = []
    write: list[str] = []
    names: list[str] = []
    for o in parse_overrides(overrides, env):
        field_name, value = o.field, o.value or ""
        if field_name == "entitlements":
            if value in ("network.host", "security.insecure"):
                names.append(value)
            continue
        kind = {
            "output": "output",
            "cache-to": "cache-to",
            "cache-from": "cache-from",
            "secrets": "secret",
            "ssh": "ssh",
        }.get(field_name)
        if kind is None or not value:
            continue
        try:
            entry = parse_entry(kind, value)
        except SpecError:
            continue  # the definition reports it when it applies the override
        local = kind in ("output", "secret") or entry.get("type") == "local"
        if kind in ("output", "cache-to") and local and entry.get("dest"):
            write.append(entry["dest"])
        elif kind in ("cache-from", "secret") and local and entry.get("src"):
            read.append(entry["src"])
        elif kind == "ssh":
            read.extend(p for p in entry.get("paths") or [] if p)
    return read, write, names


def missing(allowed: Iterable[str], paths: Iterable[str], cwd: str) -> list[str]:
    """The requested ``paths`` no ``allowed`` path covers: buildx's ``findMissingPaths``.

    Both sides are made absolute against ``cwd`` and resolved to their longest existing
    prefix with symlinks followed (an allowed path keeps its non-existing rest). ``*``
    allows everything. The result is sorted, with paths under another result left out.
    """
    roots: list[str] = []
    for path in allowed:
        if path == "*":
            return []
        existing, rest = existing_prefix(os.path.join(cwd, path))
        roots.append(os.path.join(existing, rest) if rest else existing)
    wanted = sorted({existing_prefix(os.path.join(cwd, p))[0] for p in paths}, key=len)
    kept: list[str] = []
    for path in wanted:
        if not any(_within(path, parent) for parent in kept):
            kept.append(path)
    return sorted(p for p in kept if not any(_within(p, root) for root in roots))


def _within(path: str, parent: str) -> bool:
    return path == parent or parent == "/" or path.startswith(parent.rstrip("/") + "/")


def existing_prefix(path: str) -> tuple[str, str]:
    """``path`` (made absolute and cleaned) with symlinks resolved, up to its first missing part.

    Returns (the resolved existing part, the rest that does not exist), like buildx's
    ``evaluateToExistingPath``. A file in the middle of the path is an error.
    """
    pending = [c for c in os.path.abspath(path).split("/") if c]
    dest = "/"
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            dest = os.path.dirname(dest)
            continue
        candidate = os.path.join(dest, part)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return dest, "/".join([part, *pending])
        except OSError as exc:
            raise BuildError(
                f"failed to evaluate path {path!r}: {(exc.strerror or str(exc)).lower()}"
            ) from None
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > 255:
                raise BuildError(f"failed to evaluate path {path!r}: too many symlinks")
            target = os.readlink(candidate)
            if target.startswith("/"):
                dest = "/"
            pending = [c for c in target.split("/") if c] + pending
            continue
        if not stat.S_ISDIR(info.st_mode) and pending:
            raise BuildError(f"failed to evaluate path {path!r}: not a directory")
        dest = candidate
    return dest, ""


def shown(paths: Iterable[str], cwd: str) -> list[str]:
    """Paths as buildx prints them: relative to the working directory when at most one ``..`` away."""
    base = existing_prefix(cwd)[0]
    out = []
    for path in paths:
        rel = os.path.relpath(path, base)
        out.append(path if rel.startswith("../..") else rel)
    return out


@dataclass
class FsVerdict:
    """What a run lacks: paths as shown, entitlements ``--set`` granted, and how to enforce."""

    read: list[str]
    write: list[str]
    granted: list[str]
    enforced: bool
    hint: bool


def check(
    targets: Mapping[str, Any],
    allow_read: Sequence[str],
    allow_write: Sequence[str],
    *,
    overrides: Sequence[str] = (),
    env: Mapping[str, str],
    cwd: str,
    remote: bool = False,
    paths: bool = True,
) -> FsVerdict:
    """The paths of ``targets`` that ``--allow`` (plus the working directory and ``--set``) leaves out.

    With ``paths`` False only what ``--set`` grants is worked out (no path is looked at).
    ``enforced`` is False when ``BUILDX_BAKE_ENTITLEMENTS_FS`` is false, or for a remote
    definition with ``BAKE_ALLOW_REMOTE_FS_ACCESS`` true; ``hint`` when buildx would print how
    to turn the checks off (the variable is unset).
    """
    enforced = True
    if remote and "BAKE_ALLOW_REMOTE_FS_ACCESS" in env:
        enforced = not _env_bool(env, "BAKE_ALLOW_REMOTE_FS_ACCESS")
    explicit = "BUILDX_BAKE_ENTITLEMENTS_FS" in env
    if explicit:
        enforced = _env_bool(env, "BUILDX_BAKE_ENTITLEMENTS_FS")
    read, write, granted = granted_by_overrides(overrides, env)
    wanted = requested(targets, cwd) if paths else FsRequest()
    return FsVerdict(
        read=shown(missing([*allow_read, cwd, *read], wanted.read, cwd), cwd) if wanted.read else [],
        write=shown(missing([*allow_write, cwd, *write], wanted.write, cwd), cwd) if wanted.write else [],
        granted=granted,
        enforced=enforced,
        hint=not explicit,
    )


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    value = env[name]
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise BuildError(f'failed to parse {name} value "{value}": {exc}') from None
