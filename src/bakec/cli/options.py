"""Flags several commands share, as plain argparse (no bakec machinery: the parser is built for every command)."""

from __future__ import annotations

import argparse


def add_fleet_flags(p: argparse.ArgumentParser) -> None:
    """``--shards N`` and what goes with it."""
    p.add_argument("--shards", type=int, default=None, metavar="N", help="split the graph for N CI runners")
    p.add_argument("--cache-repo", metavar="REPO", help="registry repository the shards' cache refs live in")
    p.add_argument("--costs", metavar="FILE", help="measured op durations to balance shards by")
    p.add_argument(
        "--record-costs",
        metavar="FILE",
        help="write the durations of the graph's steps, as the last builds of --state-dir ran them, "
        "as a --costs FILE",
    )
    p.add_argument(
        "--plan-file",
        default="plan.json",
        metavar="NAME",
        help="name of the plan file next to the bake files, as the shard commands read it",
    )


def add_lock_flags(build: argparse.ArgumentParser, lock: argparse.ArgumentParser) -> None:
    """``bakec build --lock/--frozen`` and ``bakec lock``'s own flags."""
    build.add_argument("--lock", metavar="FILE", help="lockfile (default: bakec.lock next to the first file)")
    build.add_argument(
        "--frozen", action="store_true", help="fail when a reference the build needs is not in the lockfile"
    )
    lock.add_argument("--lock", metavar="FILE", help="lockfile (default: bakec.lock next to the first file)")
    lock.add_argument("--check", action="store_true", help="exit 1 and list what drifted from the lockfile")
    lock.add_argument(
        "--remote", action="store_true", help="with --check: also ask registries whether pins moved"
    )
    lock.add_argument(
        "--update", nargs="*", metavar="REF", default=None, help="refresh every entry, or the REFs named"
    )
    lock.add_argument(
        "--state-dir",
        help="bakec's state directory (default: $BAKEC_STATE_DIR, "
        "$XDG_STATE_HOME/bakec, /var/lib/bakec for root)",
    )
