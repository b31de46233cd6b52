"""What an op produced: a committed snapshot and its layer chain (or a local directory).

Plain data shared by the worker (which makes results), the solver (which records them in
the cache index), the remote cache (which imports them) and the exporters (which read their layers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakec.content.layers import LayerBlob


@dataclass(frozen=True)
class OpResult:
    """What an op produced: a committed snapshot and its layer chain (or a local dir)."""

    snapshot: str = ""  # "" for an empty filesystem
    layers: tuple[LayerBlob, ...] = ()
    path: str = ""  # a local source's directory on this machine
    ignore: tuple[str, ...] = ()  # a local source's .dockerignore patterns
    config: Mapping[str, Any] | None = None  # an image source's config

    def to_meta(self) -> dict[str, Any]:
        """The cache index's record of this result (read back by :meth:`from_meta`)."""
        layers = []
        for b in self.layers:
            row: list[Any] = [b.digest, b.diff_id, b.size, b.media_type]
            if b.links:  # a 5th item only when the layer has links (LayerBlob.links): older records have 4
                row.append([list(link) for link in b.links])
            layers.append(row)
        return {"snapshot": self.snapshot, "layers": layers, "config": self.config}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> OpResult:
        """A result from its cache index record."""
        layers = tuple(
            LayerBlob(d, i, s, m, links=tuple((a, b) for a, b in rest[0]) if rest else ())
            for d, i, s, m, *rest in meta.get("layers", [])
        )
        return cls(meta.get("snapshot", ""), layers, config=meta.get("config"))


LogFn = Callable[[int, bytes], None]


def chain_id(diff_ids: Sequence[str]) -> str:
    """OCI chain ID of a layer stack."""
    chain = ""
    for diff_id in diff_ids:
        chain = (
            diff_id if not chain else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
        )
    return chain
