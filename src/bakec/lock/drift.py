"""How a lockfile differs from what a build needs (offline) and from what registries say now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bakec.lock.collect import Need
from bakec.lock.model import Lockfile
from bakec.lock.pin import Sources

__all__ = ["Drift", "locked_needs", "offline_drift", "remote_drift"]


@dataclass
class Drift:
    added: dict[Need, str] = field(default_factory=dict)  # needed, not in the lock → who needs it
    removed: list[Need] = field(default_factory=list)  # in the lock, no longer needed
    moved: list[tuple[Need, str, str]] = field(default_factory=list)  # (need, pinned, now)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def render(self, lock_name: str) -> str:
        lines = [f"{lock_name} is out of date:"]
        lines += [f"  + {need.shown()}: not pinned (needed by {where})" for need, where in self.added.items()]
        lines += [f"  - {need.shown()}: pinned but no longer needed" for need in self.removed]
        lines += [f"  ~ {need.shown()}: pinned {old}, now {new}" for need, old, new in self.moved]
        return "\n".join(lines) + "\n"


def locked_needs(lock: Lockfile) -> dict[Need, str]:
    """Every entry of ``lock`` as a need → its pinned value (images: the platform's manifest)."""
    out: dict[Need, str] = {}
    for ref, pin in lock.images.items():
        for platform, digest in pin.platforms.items():
            out[Need("image", ref, platform)] = digest
    for kind in ("git", "http", "remote"):
        for ref, value in getattr(lock, kind).items():
            out[Need(kind, ref)] = value
    return out


def offline_drift(needs: Mapping[Need, str], lock: Lockfile) -> Drift:
    """References needed but not pinned, and pinned but not needed; no network."""
    pinned = locked_needs(lock)
    return Drift(
        added={n: w for n, w in needs.items() if n not in pinned},
        removed=sorted(n for n in pinned if n not in needs),
    )


def remote_drift(lock: Lockfile, sources: Sources) -> list[tuple[Need, str, str]]:
    """Pinned entries whose tag, branch or URL now points elsewhere (asks every source)."""
    moved = []
    for need, value in sorted(locked_needs(lock).items()):
        now = sources.current(need)
        if now != value:
            moved.append((need, value, now))
    return moved
