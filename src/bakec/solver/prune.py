"""``bakec prune``: drop cache entries and everything only they kept alive.

An entry is a row of the cache index; it keeps a committed snapshot (named
``bakec/op/<digest>`` or ``bakec/chain/<chain id>``, pinned by containerd's
gc.root label) and the layer blobs of its chain in bakec's content store.
Pruning deletes the chosen rows first, then every bakec snapshot no remaining
row needs (children before parents), then every blob no remaining row names,
then lets containerd collect synchronously -- so a kill at any point leaves
only unreferenced leftovers for the next prune, never a row without its data.

Which rows go follows ``docker buildx prune``: the least recently used first,
until the rest fits in ``keep_storage`` bytes (0: no limit, everything goes),
sparing those used within ``--filter until=``; pulled base images and ``RUN
--mount=type=cache`` directories only with ``--all``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakec.content.store import ContentStore
from bakec.solver.cache_index import CacheIndex, CacheRecord
from bakec.util.golang import parse_duration as go_duration
from bakec.worker.client import Client, ContainerdError, NotFoundError

SNAPSHOT_PREFIXES = ("bakec/op/", "bakec/chain/")
_KEPT_WITHOUT_ALL = ("image",)  # buildx keeps internal records unless --all


@dataclass(frozen=True)
class Entry:
    """A removed cache entry, as ``bakec prune`` lists it."""

    key: str
    kind: str
    size: int
    last_used: float


@dataclass
class Reclaimed:
    """What a prune removed: the entries, how many snapshots and blobs, and the bytes freed."""

    entries: list[Entry] = field(default_factory=list)
    snapshots: int = 0
    blobs: int = 0
    bytes: int = 0


def prune(
    client: Client,
    cache: CacheIndex,
    store: ContentStore,
    *,
    everything: bool = False,
    keep_storage: int = 0,
    unused_for: float | None = None,
    cache_mounts: Path | None = None,
) -> Reclaimed:
    """Remove cache entries and their data: least recently used first, until the rest fits ``keep_storage``.

    ``unused_for`` (seconds, buildx's ``--filter until=``) spares entries used more
    recently. The caller holds the state dir's lock exclusively (:mod:`bakec.solver.statelock`).
    """
    out = Reclaimed()
    cutoff = time.time() - unused_for if unused_for is not None else None
    rows = cache.rows_by_age()
    for entry in select(rows, everything=everything, keep_storage=keep_storage, unused_for=unused_for):
        cache.delete(entry.key)
        out.entries.append(entry)
    removed = {e.key for e in out.entries}
    remaining = [
        r for r, _ in rows if r.key not in removed
    ]  # nothing else writes the index: the lock is ours
    sizes = _remove_snapshots(client, _snapshots_of(remaining), out)
    snapshot_of = {r.key: r.snapshot for r, _ in rows}
    out.entries = [
        Entry(e.key, e.kind, sizes.get(snapshot_of[e.key] or "", e.size), e.last_used) for e in out.entries
    ]
    _remove_blobs(store, _blobs_of(remaining), out)
    if everything and not keep_storage and cache_mounts is not None and cache_mounts.is_dir():
        for d in cache_mounts.iterdir():
            if cutoff is None or d.stat().st_mtime < cutoff:
                out.bytes += _tree_size(d)
                shutil.rmtree(d, ignore_errors=True)
    with contextlib.suppress(ContainerdError):  # a synchronous GC frees the removed snapshots now
        client.delete_lease(client.create_lease(expire=None), sync=True)
    return out


def select(
    rows: Sequence[tuple[CacheRecord, float]],
    *,
    everything: bool = False,
    keep_storage: int = 0,
    unused_for: float | None = None,
) -> list[Entry]:
    """The entries a prune with these options removes, from ``rows`` (least recently used first).

    Reads nothing and removes nothing: ``bakec prune --dry-run`` lists exactly this.
    """
    cutoff = time.time() - unused_for if unused_for is not None else None
    kept_size = sum(r.size for r, _ in rows)
    chosen: list[Entry] = []
    for record, last_used in rows:
        eligible = (everything or record.kind not in _KEPT_WITHOUT_ALL) and (
            cutoff is None or last_used < cutoff
        )
        if not eligible or (keep_storage and kept_size <= keep_storage):
            continue
        kept_size -= record.size
        chosen.append(Entry(record.key, record.kind, record.size, last_used))
    return chosen


def _snapshots_of(records: Iterable[CacheRecord]) -> set[str]:
    return {r.snapshot or r.meta.get("snapshot", "") for r in records} - {""}


def _blobs_of(records: Iterable[CacheRecord]) -> set[str]:
    return {layer[0] for r in records for layer in r.meta.get("layers", [])}


def _remove_snapshots(client: Client, needed: set[str], out: Reclaimed) -> dict[str, int]:
    """Remove bakec's committed snapshots that nothing needs, leaves first; their sizes by name."""
    infos = {i.name: i for i in client.list_snapshots()}
    children: dict[str, int] = {}
    for info in infos.values():
        if info.parent:
            children[info.parent] = children.get(info.parent, 0) + 1
    sizes: dict[str, int] = {}
    ready = [n for n in infos if n.startswith(SNAPSHOT_PREFIXES) and n not in needed and not children.get(n)]
    while ready:
        name = ready.pop()
        try:
            size = client.snapshot_usage(name)
            client.remove_snapshot(name)
        except NotFoundError:
            continue
        except ContainerdError:
            continue  # in use by a build on another bakec state dir sharing this containerd
        sizes[name] = size
        out.snapshots += 1
        out.bytes += size
        parent = infos[name].parent
        if parent:
            children[parent] -= 1
            if not children[parent] and parent.startswith(SNAPSHOT_PREFIXES) and parent not in needed:
                ready.append(parent)
    return sizes


def _remove_blobs(store: ContentStore, needed: set[str], out: Reclaimed) -> None:
    blobs = store.root / "blobs" / "sha256"
    for path in blobs.iterdir():
        if "sha256:" + path.name in needed:
            continue
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            path.unlink()
            out.blobs += 1
            out.bytes += size
    for path in (store.root / "ingest").iterdir():  # writes a killed build left behind
        with contextlib.suppress(FileNotFoundError):
            out.bytes += path.stat().st_size
            path.unlink()


def _tree_size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*"))


def ago(when: float, now: float | None = None) -> str:
    """``LAST ACCESSED`` as buildx shows it: ``3 minutes ago``."""
    seconds = max(0, int((now or time.time()) - when))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a second ago" if seconds < 1 else f"{seconds} seconds ago"


def parse_duration(text: str) -> float:
    """A Go duration (``24h``, ``1h30m``, ``90s``) in seconds, as buildx's ``until=`` filter takes it."""

    return go_duration(text) / 1e9
