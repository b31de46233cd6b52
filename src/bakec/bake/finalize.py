"""Target normalization and finalization after ``inherits`` and ``--set``.

* :func:`normalize` is buildx's ``Target.normalize`` plus the defaults
  ``ResolveTarget`` applies (bake-spec §3 steps 4-5): de-duplicate lists, drop
  empty strings and empty contexts, ``network = "host"`` adds the
  ``network.host`` entitlement, ``context`` defaults to ``.`` and
  ``dockerfile`` to ``Dockerfile``; ``resources`` and ``policy`` entries still
  in their written form are put in printed form. Run it on every resolved target, before
  ``target:`` links are loaded.
* :func:`finalize` is what happens after links (steps 7-8): ``SOURCE_DATE_EPOCH``
  from the environment is added to ``args``, the build options are validated as
  buildx does even for ``--print`` (shm-size, platforms, secrets, ssh,
  outputs, annotations, ulimits) and the context path is cleaned. It normalizes again
  first; both steps are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bakec.bake.model import Target, copy_target
from bakec.bake.options import (
    check_secrets,
    check_ssh,
    dedupe_equal,
    dedupe_keyed,
    normalize_resources,
    parse_entry,
    parse_mem_bytes,
    validate_annotations,
    validate_outputs,
    validate_platforms,
    validate_ulimit,
)
from bakec.bake.remote_context import remote_contexts
from bakec.errors import SpecError
from bakec.util.gitref import is_git_ssh, is_remote_url
from bakec.util.gopath import clean as go_clean

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def normalize(target: Target) -> Target:
    """De-duplicate and default a resolved target (a copy; the input is not changed)."""
    t = copy_target(target)  # shallow: every container below is rebuilt, never changed in place
    t.annotations = _dedupe_strings(t.annotations)
    t.attest = _keyed(t.attest, "type")
    t.tags = _dedupe_strings(t.tags)
    t.secret = _keyed(t.secret, "id")
    t.ssh = _keyed(t.ssh, "id")
    t.platforms = _dedupe_strings(t.platforms)
    t.cache_from = _equal(t.cache_from)
    t.cache_to = _equal(t.cache_to)
    t.output = _equal(t.output)
    t.no_cache_filter = _dedupe_strings(t.no_cache_filter)
    t.ulimits = _dedupe_strings(t.ulimits)
    if t.network == "host":
        t.entitlements = [*(t.entitlements or []), "network.host"]
    t.entitlements = _dedupe_strings(t.entitlements)
    if t.contexts is not None:
        t.contexts = {k: v for k, v in t.contexts.items() if v != ""} or None
    for name in ("args", "labels", "extra_hosts"):
        mapping = getattr(t, name)
        if mapping is not None:
            setattr(t, name, {k: v for k, v in mapping.items() if v is not None})
    if t.resources is not None:
        t.resources = normalize_resources(t.resources)
    if t.policy is not None:
        t.policy = [p if _is_policy_config(p) else parse_entry("policy", p) for p in t.policy]
    t.inherits = None
    return t


def finalize(
    target: Target, env: Mapping[str, str], cwd: str, *, normalized: bool = False, remote: str | None = None
) -> Target:
    """Inject ``SOURCE_DATE_EPOCH``, validate build options, clean the context.

    ``env`` is the process environment (``SOURCE_DATE_EPOCH``, ``SSH_AUTH_SOCK``
    and secret ids are looked up there); ``cwd`` is where relative secret and
    ssh key paths are resolved. ``normalized``: the target already went through
    :func:`normalize` (as resolved targets have), so only a copy is made.
    ``remote``: the URL of a remote definition, which local contexts are taken from.
    """
    t = copy_target(target) if normalized else normalize(target)
    # defaults come last (buildx's ResolveTarget), so a parent's default never hides a grandparent's value
    if t.context is None:
        t.context = "."
    if not t.dockerfile:
        t.dockerfile = "Dockerfile"
    epoch = env.get(SOURCE_DATE_EPOCH, "")
    if epoch and SOURCE_DATE_EPOCH not in (t.args or {}):
        t.args = {**(t.args or {}), SOURCE_DATE_EPOCH: epoch}
    validate(t, env, cwd)
    if remote:
        t.context, t.contexts = remote_contexts(t.context, t.contexts, remote)
    t.context = clean_context(t.context)
    return t


def validate(t: Target, env: Mapping[str, str], cwd: str) -> None:
    """The checks buildx's ``toBuildOpt`` runs, in its order."""
    if t.context == "-":
        raise SpecError("context from stdin not allowed in bake")
    if t.dockerfile == "-":
        raise SpecError("dockerfile from stdin not allowed in bake")
    if t.shm_size is not None:
        parse_mem_bytes(t.shm_size)
    validate_platforms(t.platforms or [])
    check_secrets(t.secret or [], env, cwd)
    ssh = t.ssh or []
    if not ssh and is_git_ssh(t.context or "."):
        ssh = [{"id": "default"}]
    check_ssh(ssh, env, cwd)
    validate_outputs(t.output or [], cwd)
    validate_annotations(t.annotations or [])
    for ulimit in t.ulimits or []:
        validate_ulimit(ulimit)


def clean_context(context: str | None) -> str:
    """The printed context: Go ``path.Clean`` for local paths, ``cwd://``
    stripped, remote URLs untouched."""
    path = "." if context is None else context
    if path.startswith("cwd://"):
        return go_clean(path[len("cwd://") :])
    if is_remote_url(path):
        return path
    return go_clean(path)


def _is_policy_config(entry: object) -> bool:
    return isinstance(entry, dict) and "Reset" in entry and "Disabled" in entry


def _dedupe_strings(values: Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value == "" or value in seen:
            continue
        seen.add(value)
        out.append(value)
    return out


def _keyed(entries: list | None, key: str) -> list | None:
    return None if not entries else dedupe_keyed(entries, key)


def _equal(entries: list | None) -> list | None:
    return None if not entries else dedupe_equal(entries)
