"""``bakec prune [--all] [--keep-storage SIZE]``: remove build cache, as ``docker buildx prune -f``."""

from __future__ import annotations

import shutil
import sys

from bakec.cli.du import read_rows, table_header, table_row
from bakec.content.store import ContentStore
from bakec.errors import UsageError
from bakec.solver.cache_index import CacheIndex, parse_size
from bakec.solver.oplock import DIRNAME as OPLOCK_DIR
from bakec.solver.prune import parse_duration, prune, select
from bakec.solver.statelock import hold
from bakec.state import resolve_state_dir
from bakec.util.units import human_size
from bakec.worker.daemon import Daemon


def run_prune(args, sources: dict[str, bytes]) -> int:
    """Prune the state dir's cache as the flags say (waiting for running builds), print what went; exit 0."""

    try:
        keep = parse_size(args.keep_storage) if args.keep_storage else 0
    except ValueError as err:
        raise UsageError(f'invalid argument {args.keep_storage!r} for "--keep-storage" flag: {err}') from None
    unused_for = None
    for value in args.filter:
        key, _, duration = value.partition("=")
        if key != "until":
            raise UsageError(f"invalid filter {value!r}: bakec prune supports until=DURATION")
        try:
            unused_for = parse_duration(duration)
        except ValueError as err:
            raise UsageError(f"invalid filter {value!r}: {err}") from None
    state_dir = resolve_state_dir(args.state_dir)
    if args.dry_run:
        return _dry_run(state_dir, everything=args.all, keep_storage=keep, unused_for=unused_for)
    with hold(
        state_dir,
        exclusive=True,
        waiting=lambda: sys.stderr.write("waiting for running builds to finish...\n"),
    ):
        client = Daemon(state_dir).ensure()
        cache = CacheIndex(state_dir / "cache.db")
        try:
            reclaimed = prune(
                client,
                cache,
                ContentStore(state_dir / "content"),
                everything=args.all,
                keep_storage=keep,
                unused_for=unused_for,
                cache_mounts=state_dir / "cache-mounts",
            )
        finally:
            cache.close()
            client.close()
        # No build runs now (the state dir is held exclusively): the per-op lock files can go.
        shutil.rmtree(state_dir / OPLOCK_DIR, ignore_errors=True)
    out = sys.stdout
    if reclaimed.entries:
        out.write(table_header())
        for entry in reclaimed.entries:
            out.write(table_row(entry.key, True, entry.size, entry.last_used))
    out.write(f"Total:\t{human_size(reclaimed.bytes)}\n")
    return 0


def _dry_run(state_dir, *, everything: bool, keep_storage: int, unused_for: float | None) -> int:
    """List the entries a prune would remove, from the cache index alone: no daemon, nothing removed."""

    entries = select(
        read_rows(state_dir), everything=everything, keep_storage=keep_storage, unused_for=unused_for
    )
    out = sys.stdout
    if entries:
        out.write(table_header())
        for entry in entries:
            out.write(table_row(entry.key, True, entry.size, entry.last_used))
    out.write(f"Total:\t{human_size(sum(e.size for e in entries))} (dry run: nothing was removed)\n")
    return 0
