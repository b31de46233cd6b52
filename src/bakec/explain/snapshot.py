"""One build graph as plain data, from a build record or a ``bakec plan --format json`` file.

Both ``bakec why`` (a record against an earlier record) and ``bakec plan --diff``
(a plan against an earlier plan) compare two :class:`Snapshot` objects step by step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = ["Snapshot", "from_plan", "from_record", "step_keys"]

_TARGET_PREFIX = re.compile(r"^(merge )?\[[^\] ]+ ?")
_POSITION = re.compile(r"(\d+)/\d+\] ")


@dataclass
class Snapshot:
    """Ops by digest (each: kind, label, stage, platform, targets, inputs, no_cache, op, state...),
    target → platform → output op, and where each local source's file list comes from."""

    ops: dict[str, dict[str, Any]]
    targets: dict[str, dict[str, str]]
    cwd: str = ""
    no_cache: bool = False
    time: float | None = None
    files_of: Callable[[str], dict[str, str] | None] = lambda digest: None
    _closures: dict[str, list[str]] = field(default_factory=dict)

    def files(self, digest: str) -> dict[str, str] | None:
        """What the local source ``digest`` selected (path → fingerprint), None when unknown."""
        return self.files_of(digest)

    def closure(self, target: str) -> list[str]:
        """The ops ``target`` needs (every platform), in planning order."""
        found = self._closures.get(target)
        if found is None:
            seen: set[str] = set()
            stack = [d for d in self.targets.get(target, {}).values() if d]
            while stack:
                digest = stack.pop()
                if digest in seen or digest not in self.ops:
                    continue
                seen.add(digest)
                stack.extend(self.ops[digest]["inputs"])
            found = self._closures[target] = [d for d in self.ops if d in seen]
        return found

    @cached_property
    def _index(self) -> dict[tuple[str, ...], str]:
        out: dict[tuple[str, ...], str] = {}
        for target in self.targets:
            for digest in self.closure(target):
                for key in step_keys(target, self.ops[digest]):
                    out.setdefault(key, digest)
        return out

    def match(self, target: str, entry: Mapping[str, Any]) -> str | None:
        """The op of this snapshot at the same step of ``target`` as ``entry`` (label, else position)."""
        for key in step_keys(target, entry):
            found = self._index.get(key)
            if found is not None:
                return found
        return None


def step_keys(target: str, entry: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """How a step is recognised in another build: its label without the target, then its place in its stage."""
    label = _TARGET_PREFIX.sub(lambda m: (m.group(1) or "") + "[", entry["label"], count=1)
    keys: list[tuple[str, ...]] = [(target, entry.get("platform") or "", "label", label)]
    position = _POSITION.search(entry["label"])
    if position is not None:
        keys.append(
            (
                target,
                entry.get("platform") or "",
                "at",
                entry.get("stage", ""),
                position.group(1),
                entry["kind"],
            )
        )
    return keys


def from_record(record: Mapping[str, Any], files_of: Callable[[str], dict[str, str] | None]) -> Snapshot:
    """A build record (``bakec.solver.records``) as a snapshot."""
    return Snapshot(
        dict(record["ops"]),
        {t: dict(p) for t, p in record["targets"].items()},
        record.get("cwd", ""),
        bool(record.get("no_cache")),
        record.get("time"),
        files_of,
    )


def from_plan(plan: Mapping[str, Any], cwd: str = "") -> Snapshot:
    """A ``bakec plan --format json`` document as a snapshot (file lists from its ``contexts``)."""
    ops: dict[str, dict[str, Any]] = {}
    for node in plan.get("nodes", []):
        ops[node["id"]] = {
            "kind": node["kind"],
            "label": node.get("name") or node.get("description") or node["kind"],
            "stage": node.get("stage") or "",
            "platform": node.get("platform") or "",
            "targets": list(node.get("targets", [])),
            "inputs": list(node.get("deps", [])),
            "no_cache": bool(node.get("no_cache")),
            "op": node.get("op", {}),
            "path": node.get("path", ""),
        }
    targets = {
        name: {p: (v.get("output") or "") for p, v in entry.get("platforms", {}).items()}
        for name, entry in plan.get("targets", {}).items()
    }
    contexts = plan.get("contexts") or {}
    return Snapshot(ops, targets, cwd, files_of=contexts.get)
