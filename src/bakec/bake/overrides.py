"""``--set pattern.key[.sub][+]=value`` overrides and the CLI shorthand flags.

Three steps, mirroring buildx:

1. :func:`parse_overrides` checks each ``--set`` string (and, given the target
   names, that its pattern matches one) and returns :class:`Override` values;
2. :func:`apply_overrides` applies the overrides whose pattern matches a target,
   after ``inherits`` were merged. Values for one key are gathered first, in
   command-line order: list keys collect every value (repeating ``--set``
   builds the list), scalar keys keep the last one;
3. :func:`shorthand_overrides` turns ``--push``, ``--load``, ``--call``/``--check``,
   ``--no-cache``, ``--pull``, ``--sbom``, ``--provenance`` and ``--policy`` into
   the ``*.key=value`` strings buildx appends after the user's ``--set`` values.

buildx's quirks are kept on purpose (see bake-spec §11): ``network`` is
gathered as a list but applied as a scalar (so it becomes ``""``), and
``no-cache-filter`` / ``ulimits`` are gathered as scalars but applied as lists
(so they are cleared).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from bakec.bake.model import Target, copy_target, target_fields
from bakec.bake.options import (
    dedupe_equal,
    dedupe_keyed,
    parse_entries,
    parse_entry,
    set_resource,
    split_csv,
)
from bakec.errors import SpecError
from bakec.util.golang import maybe_bool, parse_bool
from bakec.util.patternmatch import compile_go_pattern

# Keys whose values are gathered into a list (buildx ``Override.ArrValue``).
LIST_KEYS = frozenset(
    {"output", "cache-to", "cache-from", "tags", "platform", "secrets", "ssh", "attest",
     "entitlements", "network", "annotations", "policy"}
)  # fmt: skip
# Keys that need a ``.name`` part: checked when parsing (buildx ``newOverrides``)...
NAMED_KEYS = frozenset({"args", "contexts"})
# ...or only when applied to a target (buildx ``AddOverrides``).
_NAMED_WHEN_APPLIED = frozenset({"labels", "extra-hosts", "resources", "secret"})


@attrs.frozen
class Override:
    """One parsed ``--set``: ``pattern.key=value`` (``value`` None: ``args.N`` from env unset)."""

    pattern: str
    key: str  # everything after the pattern, e.g. "args.FOO", "tags"
    value: str | None
    append: bool = False
    text: str = ""

    @property
    def field(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def name(self) -> str | None:
        parts = self.key.split(".", 1)
        return parts[1] if len(parts) == 2 else None


def parse_overrides(
    specs: Iterable[str], env: Mapping[str, str], target_names: Sequence[str] | None = None
) -> list[Override]:
    """Parse ``--set`` values in order. With ``target_names``, a pattern that
    matches no target is an error (``could not find any target matching 'x'``)."""
    out: list[Override] = []
    for spec in specs:
        lhs, eq, value = spec.partition("=")
        append = lhs.endswith("+")
        skey = lhs[:-1] if append else lhs
        if append and not eq:
            raise SpecError(f"invalid append override {spec}, expected target.name+=value")
        keys = skey.split(".", 2)
        if len(keys) < 2:
            raise SpecError(f"invalid override key {skey}, expected target.name")
        pattern, field = keys[0], keys[1]
        if not eq and field != "args":
            raise SpecError(f"invalid override {spec}, expected target.name=value")
        if target_names is not None:
            expand_pattern(pattern, target_names)
        if field in NAMED_KEYS and len(keys) != 3:
            raise SpecError(f"invalid key {skey}, {field} requires name")
        key = skey.split(".", 1)[1]
        if not eq:
            env_value = env.get(keys[2])
            if env_value is None:
                continue
            out.append(Override(pattern, key, env_value, False, spec))
            continue
        out.append(Override(pattern, key, value, append, spec))
    return out


def expand_pattern(pattern: str, target_names: Sequence[str]) -> list[str]:
    """Target names matched by a ``--set`` pattern (Go ``path.Match``)."""
    if pattern in target_names:
        return [pattern]
    try:
        names = [name for name in target_names if go_path_match(pattern, name)]
    except ValueError:
        raise SpecError(f"could not match targets with '{pattern}': syntax error in pattern") from None
    if not names:
        raise SpecError(f"could not find any target matching '{pattern}'")
    return names


def overrides_for(target_name: str, overrides: Iterable[Override]) -> list[Override]:
    """The overrides whose pattern selects ``target_name``."""
    return [o for o in overrides if o.pattern == target_name or _safe_match(o.pattern, target_name)]


def apply_overrides(target: Target, overrides: Iterable[Override]) -> Target:
    """A copy of ``target`` with the matching overrides applied."""
    gathered: dict[str, dict[str, Any]] = {}
    for o in overrides_for(target.name, overrides):
        slot = gathered.setdefault(o.key, {"value": "", "values": [], "append": False})
        if o.field in LIST_KEYS:
            slot["values"].append(o.value)
            slot["append"] = o.append
        else:
            slot["value"] = o.value
    if not gathered:
        return target
    result = _copy_containers(target)
    for key, slot in gathered.items():
        _apply_one(result, key, slot["value"], slot["values"], slot["append"])
    return result


def _copy_containers(target: Target) -> Target:
    """A copy whose lists, dicts and list entries may be changed in place (cheaper than deepcopy)."""
    changes: dict[str, Any] = {}
    for field in target_fields():
        value = getattr(target, field.name)
        if isinstance(value, dict):
            changes[field.name] = dict(value)
        elif isinstance(value, list):
            changes[field.name] = [dict(v) if isinstance(v, dict) else v for v in value]
    return copy_target(target, **changes)


def _apply_one(t: Target, key: str, value: str, values: list[str], append: bool) -> None:
    field, dot, name = key.partition(".")
    if field in _NAMED_WHEN_APPLIED and not dot:
        raise SpecError(f"invalid format for {field}, expecting {field}.<name>=<value>")
    if field in ("context", "dockerfile", "target", "call", "shm-size", "network"):
        attr = {"shm-size": "shm_size"}.get(field, field)
        setattr(t, attr, value)
    elif field in ("args", "labels", "contexts", "extra-hosts"):
        attr = field.replace("-", "_")
        setattr(t, attr, {**(getattr(t, attr) or {}), name: value})
    elif field == "resources":
        t.resources = set_resource(t.resources, name, value)
    elif field in ("tags", "platform"):
        attr = "tags" if field == "tags" else "platforms"
        setattr(t, attr, [*(getattr(t, attr) or []), *values] if append else list(values))
    elif field in ("cache-from", "cache-to"):
        attr = field.replace("-", "_")
        parsed = parse_entries(field, values)
        setattr(t, attr, dedupe_equal([*(getattr(t, attr) or []), *parsed]) if append else parsed)
    elif field == "output":
        parsed = _parse_list("output", values, "invalid value for outputs")
        t.output = [*(t.output or []), *parsed] if append else parsed
    elif field == "secrets":
        parsed = _parse_list("secret", values, "invalid value for outputs")
        t.secret = dedupe_keyed([*(t.secret or []), *parsed], "id") if append else parsed
    elif field == "secret":
        _override_secret(t, name, value)
    elif field == "ssh":
        parsed = _parse_list("ssh", values, "invalid value for outputs")
        t.ssh = dedupe_keyed([*(t.ssh or []), *parsed], "id") if append else parsed
    elif field == "attest":
        parsed = _parse_list("attest", values, "invalid value for attest")
        t.attest = dedupe_keyed([*(t.attest or []), *parsed], "type")
    elif field == "entitlements":
        t.entitlements = [*(t.entitlements or []), *values]
    elif field == "annotations":
        t.annotations = [*(t.annotations or []), *values]
    elif field == "policy":
        parsed = _parse_list("policy", values, "invalid value for policy")
        t.policy = [*(t.policy or []), *parsed] if append else parsed
    elif field in ("no-cache-filter", "ulimits"):
        # gathered as a scalar but applied as a list: buildx clears the field
        setattr(t, field.replace("-", "_"), None)
    elif field in ("no-cache", "pull"):
        flag = _bool(value, field)
        setattr(t, field.replace("-", "_"), flag)
    elif field == "push":
        t.output = set_push(t.output or [], _bool(value, field))
    elif field == "load":
        t.output = set_load(t.output or [], _bool(value, field))
    else:
        raise SpecError(f"unknown key: {field}")


def _bool(value: str, key: str) -> bool:
    parsed = maybe_bool(value)
    if parsed is None:
        raise SpecError(f"invalid value {value} for boolean key {key}")
    return parsed


def _parse_list(bake_name: str, values: list[str], context: str) -> list[dict[str, Any]]:
    try:
        return [parse_entry(bake_name, v) for v in values if v != ""]
    except SpecError as err:
        raise SpecError(f"{context}: {err.summary}") from None


def _override_secret(t: Target, sid: str, value: str) -> None:
    secrets = list(t.secret or [])
    for i, secret in enumerate(secrets):
        if secret.get("id") == sid:
            try:
                entry = parse_entry("secret", value)
            except SpecError as err:
                raise SpecError(f"invalid value for secret.{sid}: {err.summary}") from None
            secrets[i] = {"id": sid, **{k: v for k, v in entry.items() if k != "id"}}
            t.secret = secrets
            return
    raise SpecError(f'secret "{sid}" must be declared before it can be overridden')


def set_push(outputs: list[dict[str, Any]], push: bool) -> list[dict[str, Any]]:
    """buildx ``setPushOverride``."""
    outputs = [dict(o) for o in outputs]
    if not push:
        i = 0
        while i < len(outputs):
            if outputs[i]["type"] == "registry":
                outputs[i], outputs[-1] = outputs[-1], outputs[i]
                outputs.pop()
                continue
            if outputs[i]["type"] == "image":
                outputs[i]["push"] = "false"
            i += 1
        return outputs
    add = True
    for output in outputs:
        if output["type"] != "docker":
            add = False
        if output["type"] == "image":
            output["push"] = "true"
    if add:
        outputs.append({"type": "image", "push": "true"})
    return outputs


def set_load(outputs: list[dict[str, Any]], load: bool) -> list[dict[str, Any]]:
    """buildx ``setLoadOverride``."""
    outputs = [dict(o) for o in outputs]
    if not load:
        return outputs
    for output in outputs:
        if output["type"] == "docker":
            if not output.get("dest"):
                return outputs
        elif output["type"] not in ("image", "registry", "oci"):
            return outputs
    outputs.append({"type": "docker"})
    return outputs


# --------------------------------------------------------------------------
# shorthand flags


def parse_call(value: str) -> str | None:
    """buildx ``ParseCallFunc``: the method name (``check`` → ``lint``), None for ``build``."""
    if value == "":
        return None
    name = ""
    for field in split_csv(value):
        key, eq, val = field.partition("=")
        if eq:
            if key == "format":
                continue
            if key == "ignorestatus":
                try:
                    parse_bool(val)
                except ValueError as exc:
                    raise SpecError(f"invalid ignorestatus print value: {val}: {exc}") from None
                continue
            raise SpecError(f"invalid print field: {field}")
        if name:
            raise SpecError(f"invalid print value: {value}")
        name = field
    if name == "check":
        name = "lint"
    return None if name == "build" else name


def canonicalize_attest(kind: str, value: str) -> str:
    """buildx ``CanonicalizeAttest`` for ``--sbom`` / ``--provenance``."""
    if value == "":
        return ""
    flag = maybe_bool(value)
    if flag is not None:
        return f"type={kind},disabled={'false' if flag else 'true'}"
    return f"type={kind},{value}"


def shorthand_overrides(
    *,
    push: bool = False,
    load: bool = False,
    call: str | None = None,
    no_cache: bool | None = None,
    pull: bool | None = None,
    sbom: str = "",
    provenance: str = "",
    policy: Sequence[str] = (),
) -> list[str]:
    """The ``--set`` strings buildx appends (after the user's) for the shorthand
    flags. ``call`` is the raw ``--call`` value (``--check`` means ``"check"``);
    ``None``/``False`` for a bool means "flag not given"."""
    out: list[str] = []
    if push:
        out.append("*.push=true")
    if load:
        out.append("*.load=true")
    method = parse_call(call) if call is not None else None
    if method is not None:
        out.append(f"*.call={method}")
    if no_cache is not None:
        out.append(f"*.no-cache={'true' if no_cache else 'false'}")
    if pull is not None:
        out.append(f"*.pull={'true' if pull else 'false'}")
    if sbom:
        out.append(f"*.attest={canonicalize_attest('sbom', sbom)}")
    if provenance:
        out.append(f"*.attest={canonicalize_attest('provenance', provenance)}")
    out.extend(policy_overrides(policy))
    return out


def policy_overrides(values: Sequence[str]) -> list[str]:
    """``--policy`` values as ``*.policy+=`` overrides (``disabled=true`` alone
    becomes ``*.policy=disabled=true``, which replaces every target's policy)."""
    configs = [parse_entry("policy", v) for v in values]
    out: list[str] = []
    for value, cfg in zip(values, configs, strict=True):
        if cfg["Files"]:
            raise SpecError("--policy does not accept filename; define policy files in the bake definition")
        if cfg["Reset"]:
            raise SpecError(
                "--policy does not accept reset; define policy composition in the bake definition"
            )
        if cfg["Disabled"]:
            if cfg["Strict"] is not None or cfg["LogLevel"] is not None or len(configs) > 1:
                raise SpecError("disabled policy cannot be combined with other policy flags")
            return ["*.policy=disabled=true"]
        out.append(f"*.policy+={value}")
    return out


_ALLOW_KEYS = ("network.host", "security.insecure", "fs", "fs.read", "fs.write", "buildx.local.delete")


def validate_allow(values: Iterable[str]) -> None:
    """``--allow`` values: ``unknown entitlement key "x"`` for anything else."""
    for value in values:
        key = value.partition("=")[0]
        if key not in _ALLOW_KEYS:
            raise SpecError(f"unknown entitlement key {_quote(key)}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# Go path.Match


def go_path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``; raises ValueError (PatternError) for a malformed pattern."""
    return compile_go_pattern(pattern).fullmatch(name) is not None


def _safe_match(pattern: str, name: str) -> bool:
    try:
        return go_path_match(pattern, name)
    except ValueError:
        return False
