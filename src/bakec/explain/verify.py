"""``bakec verify``'s comparison: the last build's images against a rebuild's, layer by layer.

Both builds' records (``bakec.solver.records``) list each target's final layers per platform
with the op that made each. Layers with equal diffIDs are identical; for the others the two
tars are compared file by file (:mod:`bakec.explain.layerdiff`), so the report names the
layer, the step that made it and the first files that differ, with what differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.explain.layerdiff import FileDifference, differences

SHOWN_FILES = 10


@dataclass
class Mismatch:
    """One platform image of a target that the rebuild did not reproduce."""

    target: str
    platform: str
    summary: str  # what differs, in words
    step: str = ""  # the label of the op that made the differing layer
    files: list[FileDifference] = field(default_factory=list)
    more_files: int = 0


def _blob(entry: Mapping[str, str]) -> LayerBlob:
    return LayerBlob(entry["digest"], entry["diff_id"], 0, entry["media_type"])


def compare_image(
    target: str,
    platform: str,
    old: Sequence[Mapping[str, str]],
    new: Sequence[Mapping[str, str]],
    *,
    old_ops: Mapping[str, Any],
    old_store: ContentStore,
    new_store: ContentStore,
    rewrite_timestamp: int | None,
) -> Mismatch | None:
    """The first layer of one image that differs (None: every layer identical)."""
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a["diff_id"] == b["diff_id"]:
            continue
        step = str(old_ops.get(a.get("op", ""), {}).get("label", ""))
        if not old_store.has(a["digest"]):
            return Mismatch(
                target,
                platform,
                f"layer {i + 1} of {len(old)} differs (the last build's layer was pruned: no file list)",
                step,
            )
        found = list(differences(old_store, _blob(a), new_store, _blob(b), rewrite_timestamp))
        if not found:  # the tars differ only in what rewrite-timestamp makes equal
            continue
        return Mismatch(
            target,
            platform,
            f"layer {i + 1} of {len(old)} differs",
            step,
            found[:SHOWN_FILES],
            max(0, len(found) - SHOWN_FILES),
        )
    if len(old) != len(new):
        return Mismatch(target, platform, f"the last build has {len(old)} layers, the rebuild {len(new)}")
    return None


def render(mismatches: Sequence[Mismatch], checked: int) -> str:
    """The report: one paragraph per mismatch, or that all ``checked`` images are identical."""
    if not mismatches:
        return f"{checked} image{'s' if checked != 1 else ''} identical to the last build\n"
    lines = []
    for m in mismatches:
        lines.append(f"{m.target} ({m.platform}): {m.summary}")
        if m.step:
            lines.append(f"  made by {m.step}")
        for f in m.files:
            lines.append(f"  {f.path}: {', '.join(f.what)}")
        if m.more_files:
            lines.append(f"  … and {m.more_files} more files")
    lines.append(f"{len(mismatches)} of {checked} images differ from the last build")
    return "\n".join(lines) + "\n"
