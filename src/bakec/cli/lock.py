"""``bakec lock``: write, check or update ``bakec.lock``; and the lock a ``bakec build`` uses."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bakec.bake.definition import local_platform
from bakec.bake.remote import split_remote_args
from bakec.cli.common import expand_all, load_definition
from bakec.dockerfile.refs import RefError, parse_ref
from bakec.errors import UsageError
from bakec.lock.collect import Need, collect
from bakec.lock.drift import offline_drift, remote_drift
from bakec.lock.model import Lockfile, LockfileError, default_path
from bakec.lock.pin import Sources, pin
from bakec.lock.resolve import LockedFetcher, pinned_git_url
from bakec.registry import RegistryClient
from bakec.source.git import GitFetcher
from bakec.state import resolve_state_dir

__all__ = ["build_lock", "pin_remote_args", "run_lock"]


def lock_path(args: argparse.Namespace) -> Path:

    if args.lock:
        return Path(os.getcwd(), args.lock)
    url, _, _ = split_remote_args(args.targets)
    return default_path(list(args.files), os.getcwd(), remote=bool(url))


def pin_remote_args(args: argparse.Namespace) -> str | None:
    """Point a remote definition URL at its pinned commit (when locked); the URL as written."""

    url, _, _ = split_remote_args(args.targets)
    path = lock_path(args)
    if url and path.is_file() and getattr(args, "update", None) is None:
        commit = Lockfile.read(path).remote.get(url)
        if commit:
            args.targets = [pinned_git_url(url, commit), *args.targets[1:]]
    return url


def _expanded(definition, targets: list[str]) -> list[str]:

    return expand_all(definition, targets) if "all" in targets else targets


def _needs(definition, args, lock, remote_url: str | None):
    """What the build of ``args.targets`` needs (git trees read at their pinned commits)."""

    targets = _expanded(definition, list(args.targets))
    resolved = definition.resolve(targets, list(args.overrides))
    fetcher = LockedFetcher(resolve_state_dir(getattr(args, "state_dir", None), definition.env) / "git", lock)
    return collect(
        resolved.targets,
        cwd=definition.cwd,
        build_platform=local_platform(),
        git_dir=fetcher.context_dir,
        remote=remote_url,
    )


def _sources():
    from bakec.source.http import checksum

    fetcher = GitFetcher.default()
    return Sources(RegistryClient(), fetcher.commit, checksum)


def run_lock(args, sources: dict[str, bytes]) -> int:

    if args.remote and not args.check:
        raise UsageError("--remote goes with --check")
    if args.check and args.update is not None:
        raise UsageError("--check and --update are mutually exclusive")
    path = lock_path(args)
    previous = Lockfile.read(path) if path.is_file() else None
    if args.check and previous is None:
        raise UsageError(f"no lockfile at {path}: run bakec lock first")
    remote_url = pin_remote_args(args)
    definition = load_definition(args, sources)
    refresh = _refresher(args.update, previous)
    kept = _without(previous or Lockfile(), refresh)
    needs = _needs(definition, args, kept, remote_url)
    if args.check:
        assert previous is not None
        drift = offline_drift(needs, previous)
        if args.remote:
            drift.moved = remote_drift(previous, _sources())
        if drift:
            sys.stdout.write(drift.render(str(path.name)))
            return 1
        return 0
    lock = pin(needs, _sources(), kept, refresh)
    if previous is None or lock.dumps() != previous.dumps():
        lock.write(path)
    return 0


def _refresher(update: list[str] | None, previous):
    """Which needs ``--update [REF...]`` refreshes (none without it; all with no REF)."""
    if update is None:
        return lambda need: False
    if not update:
        return lambda need: True

    wanted = set(update)
    for name in update:
        try:
            wanted.add(str(parse_ref(name)))  # `alpine:3` names docker.io/library/alpine:3
        except RefError:  # not an image reference: a URL, matched as written
            pass
    return lambda need: need.ref in wanted


def _without(lock, refresh):
    """``lock`` minus the git pins about to be refreshed (their trees are read at the new commit)."""

    return Lockfile(
        lock.images,
        {u: c for u, c in lock.git.items() if not refresh(Need("git", u))},
        lock.http,
        {u: c for u, c in lock.remote.items() if not refresh(Need("remote", u))},
    )


def build_lock(args, definition, remote_url: str | None):
    """The lockfile ``bakec build`` uses (None when there is none); ``--frozen`` checks it covers the build."""

    path = lock_path(args)
    if not path.is_file():
        if args.frozen:
            raise LockfileError(f"--frozen: no lockfile at {path} (run bakec lock)")
        if args.lock:
            Lockfile.read(path)  # names the missing file
        return None
    lock = Lockfile.read(path)
    if args.frozen:
        missing = offline_drift(_needs(definition, args, lock, remote_url), lock).added
        if missing:
            listed = "; ".join(f"{need.shown()} (needed by {where})" for need, where in missing.items())
            raise LockfileError(f"--frozen: {path.name} does not pin {listed}")
    return lock
