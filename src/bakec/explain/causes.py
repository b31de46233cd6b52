"""Why a step ran (or would run): the first input that differs from the same step earlier.

The cause names are fixed (README, "bakec why"): ``context-file``, ``build-arg``,
``base-digest``, ``parent``, ``no-cache``, ``mount-source``, ``no-record``, and
``instruction`` when the step's own command or options changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bakec.explain.snapshot import Snapshot

__all__ = ["CAUSES", "Cause", "Explainer"]

CAUSES = (
    "context-file",
    "build-arg",
    "base-digest",
    "parent",
    "no-cache",
    "mount-source",
    "no-record",
    "instruction",
)

_SHOWN_FILES = 3  # paths named in text before "and N more"


@dataclass
class Cause:
    """One reason: its name (one of :data:`CAUSES`), plain-data details and a sentence."""

    name: str
    text: str
    detail: dict[str, Any] = field(default_factory=dict)
    parent: str = ""  # for ``parent``: the digest of the step that ran before this one

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.name, "text": self.text, "detail": self.detail}


class Explainer:
    """Explains steps of ``new`` against ``old``; ``reran`` are the steps that ran (or will run) in ``new``."""

    def __init__(
        self,
        new: Snapshot,
        older: Callable[[], Snapshot | None] | Snapshot | None,
        reran: Collection[str],
        *,
        ran: str = "ran",
    ) -> None:
        """``ran`` is the verb for a step in ``reran`` ("changes" when comparing plans)."""
        self.new = new
        self.reran = reran
        self.ran = ran
        self._olders: list[Snapshot] = []
        if not callable(older):
            given = iter([older] if older is not None else [])
            older = lambda: next(given, None)  # noqa: E731 - one snapshot, offered once
        self._more = older
        self._causes: dict[str, Cause] = {}

    # -- public ------------------------------------------------------------------
    def cause(self, digest: str, target: str) -> Cause:
        """Why ``digest`` (a step of ``target`` in ``reran``) ran."""
        found = self._causes.get(digest)
        if found is None:
            found = self._causes[digest] = self._cause(digest, target)
        return found

    def root(self, digest: str, target: str) -> str:
        """The step up the chain of ``parent`` causes whose cause is something else."""
        seen = {digest}
        cause = self.cause(digest, target)
        while cause.name == "parent" and cause.parent and cause.parent not in seen:
            digest = cause.parent
            seen.add(digest)
            cause = self.cause(digest, target)
        return digest

    # -- finding the earlier step ------------------------------------------------
    def _earlier(self, target: str, entry: Mapping[str, Any]) -> tuple[Snapshot, str] | None:
        """The closest earlier snapshot holding this step of ``target``, and the step's digest there."""
        i = 0
        while True:
            if i == len(self._olders):
                more = self._more()
                if more is None:
                    return None
                self._olders.append(more)
            found = self._olders[i].match(target, entry)
            if found is not None:
                return self._olders[i], found
            i += 1

    def _cause(self, digest: str, target: str) -> Cause:
        entry = self.new.ops[digest]
        if entry.get("no_cache") or self.new.no_cache:
            how = "--no-cache" if self.new.no_cache else "no-cache / no-cache-filter"
            return Cause("no-cache", f"{how} asked for it to run", {"flag": how})
        for dep in entry["inputs"]:
            if dep in self.reran and self.new.ops.get(dep, {}).get("kind") not in ("local", None):
                return self._parent(dep)
        earlier = self._earlier(target, entry)
        if earlier is None:
            text = "no earlier build of this step" if self.ran == "ran" else "a new step"
            return Cause("no-record", text, {"reason": "first-build"})
        old, old_digest = earlier
        if old_digest == digest:
            return Cause(
                "no-record", "not in the cache (pruned, or built elsewhere)", {"reason": "not-in-cache"}
            )
        return self._difference(digest, old, old_digest)

    def _parent(self, dep: str) -> Cause:
        label = self.new.ops[dep]["label"]
        return Cause("parent", f"{label} {self.ran}", {"step": label}, parent=dep)

    # -- comparing two versions of one step --------------------------------------
    def _difference(self, digest: str, old: Snapshot, old_digest: str) -> Cause:
        new_e, old_e = self.new.ops[digest], old.ops[old_digest]
        new_op, old_op = new_e["op"], old_e["op"]
        if new_e["kind"] != old_e["kind"]:
            return Cause("instruction", "the instruction changed", {"fields": ["kind"]})
        kind = new_e["kind"]
        if kind == "image":
            return self._image(new_op, old_op)
        if kind == "local":
            return self._context(digest, old, old_digest)
        if kind in ("exec", "file") and new_op.get("root") != old_op.get("root"):
            return self._input(new_op.get("root", ""), old, old_op.get("root", ""))
        if kind == "exec":
            found = self._env(new_op.get("env", []), old_op.get("env", []))
            if found is not None:
                return found
            found = self._mounts(new_op.get("mounts", []), old, old_op.get("mounts", []))
            if found is not None:
                return found
        pairs = {"file": "sources", "merge": "layers"}
        if kind in pairs:
            for new_in, old_in in zip(new_op.get(pairs[kind], []), old_op.get(pairs[kind], []), strict=False):
                if new_in != old_in:
                    return self._input(new_in, old, old_in)
        changed = sorted(k for k in set(new_op) | set(old_op) if new_op.get(k) != old_op.get(k))
        return Cause("instruction", f"the instruction changed ({', '.join(changed)})", {"fields": changed})

    def _input(self, new_in: str, old: Snapshot, old_in: str) -> Cause:
        """An input that is another op now than before."""
        new_e, old_e = self.new.ops.get(new_in), old.ops.get(old_in)
        if new_e is None or old_e is None or new_e["kind"] != old_e["kind"]:
            return Cause("instruction", "the instruction changed (input)", {"fields": ["input"]})
        if new_e["kind"] == "image":
            return self._image(new_e["op"], old_e["op"])
        if new_e["kind"] == "local":
            return self._context(new_in, old, old_in)
        if new_in in self.reran:
            return self._parent(new_in)
        # an input that came from the cache but is not the one of last time: say why it differs
        inner = self._difference(new_in, old, old_in)
        return Cause("parent", f"{new_e['label']} changed: {inner.text}", {"step": new_e["label"]}, new_in)

    def _image(self, new_op: Mapping[str, Any], old_op: Mapping[str, Any]) -> Cause:
        new_ref = f"{new_op.get('ref', '')}@{new_op.get('manifest') or '?'}"
        old_ref = f"{old_op.get('ref', '')}@{old_op.get('manifest') or '?'}"
        text = f"{new_op.get('ref', '')} resolved to {_short(new_op.get('manifest', ''))}"
        if new_op.get("ref") != old_op.get("ref"):
            text = f"base image {old_op.get('ref', '')} → {new_op.get('ref', '')}"
        elif not new_op.get("manifest") or not old_op.get("manifest"):
            text = f"{new_op.get('ref', '')} is pinned differently"
        else:
            text += f" (was {_short(old_op.get('manifest', ''))})"
        return Cause("base-digest", text, {"old": old_ref, "new": new_ref})

    def _context(self, digest: str, old: Snapshot, old_digest: str) -> Cause:
        new_files, old_files = self.new.files(digest), old.files(old_digest)
        root = self.new.ops[digest].get("path", "")
        if new_files is None or old_files is None:
            return Cause("context-file", f"files of {self._show(root, '') or 'the context'} changed", {})
        changed = sorted(p for p in new_files.keys() & old_files.keys() if new_files[p] != old_files[p])
        added = sorted(new_files.keys() - old_files.keys())
        removed = sorted(old_files.keys() - new_files.keys())
        words = []
        for verb, paths in (("changed", changed), ("added", added), ("removed", removed)):
            if paths:
                shown = ", ".join(self._show(root, p) for p in paths[:_SHOWN_FILES])
                more = f" and {len(paths) - _SHOWN_FILES} more" if len(paths) > _SHOWN_FILES else ""
                words.append(f"{shown}{more} {verb}")
        text = "; ".join(words) or "the selected files' metadata changed"
        detail = {
            "changed": [self._show(root, p) for p in changed],
            "added": [self._show(root, p) for p in added],
            "removed": [self._show(root, p) for p in removed],
        }
        return Cause("context-file", text, detail)

    def _show(self, root: str, path: str) -> str:
        """A context file as the user knows it: relative to the bake file's directory when inside it."""
        full = os.path.join(root, path) if root else path
        cwd = self.new.cwd
        if cwd and root and (full == cwd or full.startswith(cwd.rstrip("/") + "/")):
            return os.path.relpath(full, cwd)
        return path or full

    def _env(self, new_env: list[str], old_env: list[str]) -> Cause | None:
        new_vars = dict(v.partition("=")[::2] for v in new_env)
        old_vars = dict(v.partition("=")[::2] for v in old_env)
        for name in [*new_vars, *(n for n in old_vars if n not in new_vars)]:
            if new_vars.get(name) != old_vars.get(name):
                old_v, new_v = old_vars.get(name), new_vars.get(name)
                text = f"{name} changed ({_value(old_v)} → {_value(new_v)})"
                return Cause("build-arg", text, {"name": name, "old": old_v, "new": new_v})
        return None

    def _mounts(
        self, new: list[dict[str, Any]], old: Snapshot, old_mounts: list[dict[str, Any]]
    ) -> Cause | None:
        before = {m.get("target"): m for m in old_mounts}
        for mount in new:
            prior = before.get(mount.get("target"))
            if prior is None or mount == prior:
                continue
            if mount.get("input") != prior.get("input") and mount.get("input") and prior.get("input"):
                inner = self._input(mount["input"], old, prior["input"])
                detail = {"target": mount.get("target"), "because": inner.to_dict()}
                return Cause("mount-source", f"mount {mount.get('target')}: {inner.text}", detail)
            return Cause(
                "mount-source", f"mount {mount.get('target')} changed", {"target": mount.get("target")}
            )
        return None


def _short(digest: str) -> str:
    return digest[:19] if digest else "(unpinned)"


def _value(value: str | None) -> str:
    return "unset" if value is None else repr(value)
