"""The typed bake model: Target, Group and Variable.

One attrs model drives every format. Each Target field's metadata says:

* ``bake``: the name used in HCL, JSON, compose ``x-bake`` and ``--print``;
* ``merge``: how a later definition combines with an earlier one (``inherits``,
  same-named blocks, several files) -- see :class:`Merge`;
* ``settable``: whether ``--set`` may change it;
* ``kind``: the HCL value shape the evaluator converts the attribute to.

Fields are declared in the order buildx prints them.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


class Merge(enum.Enum):
    """How a later value combines with an earlier one."""

    REPLACE = "replace"
    REPLACE_NONEMPTY = "replace-if-non-empty"
    MAP = "map-merge, null values ignored"
    MAP_EMPTY_DELETES = "map-merge, empty string deletes"
    APPEND = "append"
    BY_IDENTITY = "merge by identity"
    NONE = "not merged"


class Kind(enum.Enum):
    """The HCL shape of an attribute value, before option parsing."""

    STRING = "string"
    BOOL = "bool"
    STRING_LIST = "list of string"
    STRING_MAP = "map of string"  # null values kept (they drop the key later)
    ENTRY_LIST = "list of string or object"  # CSV strings or objects (cache, output, ...)
    OBJECT = "object"
    OBJECT_LIST = "list of object"


def _field(bake: str, kind: Kind, merge: Merge, settable: bool = True, printed: bool = True) -> Any:
    return attrs.field(
        default=None,
        metadata={"bake": bake, "kind": kind, "merge": merge, "settable": settable, "printed": printed},
    )


@attrs.define(slots=True)
class Target:
    """One build target; ``None`` means "not set" (distinct from empty)."""

    name: str = attrs.field(metadata={"bake": None})
    description: str | None = _field("description", Kind.STRING, Merge.REPLACE_NONEMPTY, settable=False)
    annotations: list[str] | None = _field("annotations", Kind.STRING_LIST, Merge.APPEND)
    attest: list[dict[str, Any]] | None = _field("attest", Kind.ENTRY_LIST, Merge.BY_IDENTITY)
    context: str | None = _field("context", Kind.STRING, Merge.REPLACE)
    contexts: dict[str, str] | None = _field("contexts", Kind.STRING_MAP, Merge.MAP_EMPTY_DELETES)
    dockerfile: str | None = _field("dockerfile", Kind.STRING, Merge.REPLACE)
    dockerfile_inline: str | None = _field("dockerfile-inline", Kind.STRING, Merge.REPLACE)
    args: dict[str, str | None] | None = _field("args", Kind.STRING_MAP, Merge.MAP)
    labels: dict[str, str | None] | None = _field("labels", Kind.STRING_MAP, Merge.MAP)
    tags: list[str] | None = _field("tags", Kind.STRING_LIST, Merge.REPLACE)
    cache_from: list[dict[str, str]] | None = _field("cache-from", Kind.ENTRY_LIST, Merge.BY_IDENTITY)
    cache_to: list[dict[str, str]] | None = _field("cache-to", Kind.ENTRY_LIST, Merge.REPLACE)
    target: str | None = _field("target", Kind.STRING, Merge.REPLACE)
    secret: list[dict[str, str]] | None = _field("secret", Kind.ENTRY_LIST, Merge.BY_IDENTITY)
    ssh: list[dict[str, Any]] | None = _field("ssh", Kind.ENTRY_LIST, Merge.BY_IDENTITY)
    platforms: list[str] | None = _field("platforms", Kind.STRING_LIST, Merge.REPLACE)
    output: list[dict[str, str]] | None = _field("output", Kind.ENTRY_LIST, Merge.REPLACE)
    pull: bool | None = _field("pull", Kind.BOOL, Merge.REPLACE)
    no_cache: bool | None = _field("no-cache", Kind.BOOL, Merge.REPLACE)
    network: str | None = _field("network", Kind.STRING, Merge.REPLACE)
    no_cache_filter: list[str] | None = _field("no-cache-filter", Kind.STRING_LIST, Merge.APPEND)
    shm_size: str | None = _field("shm-size", Kind.STRING, Merge.REPLACE)
    ulimits: list[str] | None = _field("ulimits", Kind.STRING_LIST, Merge.APPEND)
    resources: dict[str, Any] | None = _field("resources", Kind.OBJECT, Merge.BY_IDENTITY)
    call: str | None = _field("call", Kind.STRING, Merge.REPLACE)
    entitlements: list[str] | None = _field("entitlements", Kind.STRING_LIST, Merge.APPEND)
    extra_hosts: dict[str, str | None] | None = _field("extra-hosts", Kind.STRING_MAP, Merge.MAP)
    policy: list[dict[str, Any]] | None = _field("policy", Kind.OBJECT_LIST, Merge.APPEND)
    inherits: list[str] | None = _field(
        "inherits", Kind.STRING_LIST, Merge.NONE, settable=False, printed=False
    )


@attrs.define(slots=True)
class Group:
    """A named set of targets and groups."""

    name: str
    targets: list[str] = attrs.field(factory=list)
    description: str | None = None


@attrs.define(slots=True)
class Variable:
    """A declared variable, after evaluation (``--list variables`` shows these)."""

    name: str
    type: str | None = None  # the type expression as written, e.g. "list(string)"
    value: Any = None
    description: str | None = None


_TARGET_FIELDS = tuple(f for f in attrs.fields(Target) if f.metadata.get("bake"))
_TARGET_SLOTS = tuple(f.name for f in attrs.fields(Target))


def target_fields() -> tuple[attrs.Attribute, ...]:
    """Target's bake attributes, in print order (``name`` excluded)."""
    return _TARGET_FIELDS


def copy_target(target: Target, **changes: Any) -> Target:
    """A shallow copy with some fields replaced (much cheaper than ``attrs.evolve`` on hot paths)."""
    new = object.__new__(Target)
    for name in _TARGET_SLOTS:
        setattr(new, name, changes[name] if name in changes else getattr(target, name))
    return new


TARGET_FIELDS_BY_BAKE_NAME: dict[str, attrs.Attribute] = {f.metadata["bake"]: f for f in target_fields()}
