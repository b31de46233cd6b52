"""``bakec du [--verbose]``: the build cache's disk usage, as ``docker buildx du`` shows it.

Read from the cache index alone (no daemon starts, nothing is written). A record is
RECLAIMABLE when ``bakec prune`` (without ``--all``) removes it: pulled base images are
not. It is shared when its step belongs to several targets.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from bakec.solver.cache_index import CacheIndex
from bakec.solver.prune import ago
from bakec.state import resolve_state_dir
from bakec.util.units import human_size

_KEPT_WITHOUT_ALL = ("image",)


def run_du(args, sources: dict[str, bytes]) -> int:

    rows = read_rows(resolve_state_dir(args.state_dir))
    out = sys.stdout
    shared = private = reclaimable = 0
    if not args.verbose:
        out.write(table_header())
    for record, last_used in rows:
        is_shared = len(record.meta.get("targets", ())) > 1
        can_go = record.kind not in _KEPT_WITHOUT_ALL
        shared += record.size if is_shared else 0
        private += 0 if is_shared else record.size
        reclaimable += record.size if can_go else 0
        if not args.verbose:
            out.write(table_row(record.key, can_go, record.size, last_used))
            continue
        fields = [
            ("ID", record.key),
            ("Reclaimable", str(can_go).lower()),
            ("Shared", str(is_shared).lower()),
            ("Size", human_size(record.size)),
            ("Description", record.meta.get("description", "")),
            ("Targets", ", ".join(record.meta.get("targets", ()))),
            ("Last used", ago(last_used)),
            ("Type", record.kind),
        ]
        out.write("".join(f"{name + ':':<16}{value}\n" for name, value in fields) + "\n")
    if shared:
        out.write(f"{'Shared:':<16}{human_size(shared)}\n{'Private:':<16}{human_size(private)}\n")
    out.write(
        f"{'Reclaimable:':<16}{human_size(reclaimable)}\n{'Total:':<16}{human_size(shared + private)}\n"
    )
    return 0


def read_rows(state_dir: Path) -> Sequence:
    """Every cache record with its last use, least recently used first; none when there is no index."""

    path = state_dir / "cache.db"
    if not path.exists():  # a state dir that never built: list nothing, create nothing
        return []
    with CacheIndex(path) as cache:
        return cache.rows_by_age()


def table_header() -> str:
    return f"{'ID':<72}{'RECLAIMABLE':<14}{'SIZE':<12}LAST ACCESSED\n"


def table_row(key: str, reclaimable: bool, size: int, last_used: float) -> str:
    """One line of ``bakec du`` and ``bakec prune``."""

    return f"{key:<72}{str(reclaimable).lower():<14}{human_size(size):<12}{ago(last_used)}\n"
