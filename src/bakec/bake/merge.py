"""Merging two definitions of a target, as buildx's ``Target.Merge`` does.

Used for ``inherits`` (parents left to right, then the child), for same-named
target blocks and for several files. Each field's ``merge`` metadata in
:mod:`bakec.bake.model` picks the rule; ``None`` in ``over`` never changes
anything. ``inherits`` itself is concatenated, so the Definition can still see
every parent named by any block of a merged target.
"""

from __future__ import annotations

from typing import Any

import attrs

from bakec.bake.model import Merge, Target, target_fields
from bakec.bake.options import dedupe_equal, dedupe_keyed, normalize_resources

# Fields merged "by identity": how two lists (or objects) combine.
_IDENTITY_KEY = {"attest": "type", "secret": "id", "ssh": "id"}


def merge(base: Target, over: Target) -> Target:
    """A new Target: ``base`` with ``over`` merged on top (neither is changed).

    Targets are treated as immutable values: containers are never changed in
    place, so the result may share unchanged lists and dicts with its inputs.
    """
    result = object.__new__(Target)
    result.name = over.name or base.name
    for name, field, replace in _PLAN:
        theirs = getattr(over, name)
        if theirs is None:
            setattr(result, name, getattr(base, name))
        elif replace:
            setattr(result, name, theirs)
        else:
            setattr(result, name, _merge_field(field, getattr(base, name), theirs))
    return result


_PLAN = tuple((f.name, f, f.metadata["merge"] is Merge.REPLACE) for f in target_fields())


def merge_all(name: str, targets: list[Target]) -> Target:
    """Fold ``targets`` left to right onto an empty target called ``name``."""
    result = Target(name=name)
    for target in targets:
        result = merge(result, target)
    return attrs.evolve(result, name=name)


def _merge_field(field: attrs.Attribute, ours: Any, theirs: Any) -> Any:
    rule: Merge = field.metadata["merge"]
    bake: str = field.metadata["bake"]
    if rule is Merge.REPLACE:
        return ours if theirs is None else theirs
    if rule is Merge.REPLACE_NONEMPTY:
        return theirs if theirs else ours
    if rule is Merge.MAP:
        if not theirs:
            return ours
        merged = dict(ours) if ours is not None else None
        for key, value in theirs.items():
            if value is None:
                continue
            if merged is None:
                merged = {}
            merged[key] = value
        return merged
    if rule is Merge.MAP_EMPTY_DELETES:
        if not theirs:
            return ours
        return {**(ours or {}), **theirs}
    if rule is Merge.APPEND or (rule is Merge.NONE and bake == "inherits"):
        if theirs is None:
            return ours
        return [*(ours or []), *theirs]
    if rule is Merge.BY_IDENTITY:
        return _merge_identity(bake, ours, theirs)
    return ours


def _merge_identity(bake: str, ours: Any, theirs: Any) -> Any:
    if bake == "resources":
        if theirs is None:
            return ours
        return normalize_resources({**(ours or {}), **{k: v for k, v in theirs.items() if v is not None}})
    if theirs is None:
        return ours
    combined = [*(ours or []), *theirs]
    if not combined:
        return None
    if bake in _IDENTITY_KEY:
        return dedupe_keyed(combined, _IDENTITY_KEY[bake])
    return dedupe_equal(combined)
