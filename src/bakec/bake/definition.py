"""A loaded bake definition and its resolution into concrete targets.

``load()`` reads and evaluates files (compose first, HCL/JSON merged on top);
``Definition.resolve()`` expands requested names (globs, groups), resolves
``inherits`` with each field's merge rule, applies ``--set`` overrides,
finalizes targets and follows ``target:`` context links -- the same pipeline
as buildx's ``ReadTargets``.
"""

from __future__ import annotations

import fnmatch
import os
import platform as host_platform
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from bakec.bake import files as bakefiles
from bakec.bake import finalize, merge
from bakec.bake import overrides as ovr
from bakec.bake.check import did_you_mean, item_range
from bakec.bake.evaluation import BakeEvaluation, EvaluatedConfig
from bakec.bake.hcl.jsonsyntax import body_from_data, parse_json
from bakec.bake.hcl.parse import parse_hcl
from bakec.bake.hcl.parsecache import parse_hcl_cached
from bakec.bake.hcl.values import number
from bakec.bake.model import Group, Target, Variable, copy_target
from bakec.bake.printer import print_json
from bakec.bake.serialize import unstructure_group, unstructure_target
from bakec.errors import BakecError, Range, SpecError
from bakec.state import resolve_state_dir
from bakec.util.deep import call_deep


@dataclass
class Resolved:
    """The outcome of resolving requested names: what ``--print`` shows."""

    groups: dict[str, Group]
    targets: dict[str, Target]

    def to_dict(self) -> dict:
        """Plain data keyed by bake names (through the cattrs converter), for library users."""

        return {
            "group": {name: unstructure_group(g) for name, g in self.groups.items()},
            "target": {name: unstructure_target(t) for name, t in self.targets.items()},
        }


@dataclass
class Definition:
    """Evaluated bake files: raw targets (before inherits/overrides), groups, variables."""

    targets: dict[str, Target]
    groups: dict[str, Group]
    variables: list[Variable]
    env: Mapping[str, str]
    cwd: str
    sources: dict[str, bytes] = field(default_factory=dict)
    used_variables: set[str] = field(default_factory=set)
    bodies: list = field(default_factory=list)  # the HCL/JSON ASTs, for `bakec check`
    default_overrides: list[str] = field(default_factory=list)  # `--set` values given to bakec.load()
    block_labels: dict[str, str] = field(default_factory=dict)
    remote: str | None = None  # the git URL of a remote definition (spec/remote.py)

    # -- names ----------------------------------------------------------------------
    def target_names(self) -> list[str]:
        return list(self.targets)

    def expand_names(self, names: Sequence[str]) -> list[str]:
        """Sanitize CLI names (``.`` → ``_``) and expand glob patterns over targets and groups."""
        out: list[str] = []
        for raw in names:
            name = raw.replace(".", "_")
            if _is_glob(name):
                matches = sorted(n for n in set(self.targets) | set(self.groups) if _match(name, n))
                if not matches:
                    raise SpecError(f'could not find any target matching "{raw}"')
                out.extend(m for m in matches if m not in out)
            elif name not in out:
                out.append(name)
        return out

    def resolve_group(
        self, name: str, visited: dict[str, tuple[list[str], list[str]]] | None = None
    ) -> tuple[list[str], list[str]]:
        """Targets and groups reached from ``name`` (buildx's ResolveGroup).

        Results are memoised per name; a group met again while it is still being
        resolved (a cycle) yields nothing, so its name is then taken as a target.
        """
        visited = {} if visited is None else visited
        if name in visited:
            return visited[name]
        group = self.groups.get(name)
        if group is None:
            return [name], []
        visited[name] = ([], [])
        targets: dict[str, None] = {}  # ordered sets
        groups: dict[str, None] = {name: None}
        for member in group.targets:
            ts, gs = self.resolve_group(member, visited)
            targets.update(dict.fromkeys(ts or [member]))
            groups.update(dict.fromkeys(gs))
        visited[name] = (list(targets), list(groups))
        return visited[name]

    # -- targets ----------------------------------------------------------------------
    def resolve_target(
        self,
        name: str,
        overrides: list,
        visited: dict[str, Target | None] | None = None,
        memo: dict[str, Target] | None = None,
    ) -> Target:
        """Merge a target's parents and itself, then apply its overrides (buildx's Config.target).

        ``memo`` shares fully resolved targets between calls with the same overrides, so
        a parent inherited by 4,000 matrix targets is resolved once (buildx does it each time).
        """
        visited = {} if visited is None else visited
        if name in visited:
            return visited[name]
        if memo is not None and name in memo:
            return memo[name]
        visited[name] = None
        raw = self.targets.get(name)
        if raw is None:
            raise SpecError(f"failed to find target {name}")
        result: Target | None = None
        cyclic = False
        for parent in raw.inherits or []:
            if parent not in self.targets:
                label = self.block_labels.get(name, name)
                raise self._unknown_target(
                    parent, item_range(self.bodies, "target", [label], "inherits", parent)
                )
            resolved = self.resolve_target(parent, overrides, visited, memo)
            if resolved is None:
                cyclic = True
            elif result is None:
                # a resolved target is already a merge result, so merging it onto an
                # empty target would change nothing: take it as it is
                result = copy_target(resolved, name=name)
            else:
                result = merge.merge(result, resolved)
        if result is None:
            result = Target(name=name)
        result = merge.merge(result, raw)
        result.inherits = None
        result = finalize.normalize(ovr.apply_overrides(result, overrides))  # buildx normalizes parents too
        visited[name] = result
        if memo is not None and not cyclic:  # a cycle's partial result depends on where it was entered
            memo[name] = result
        return result

    def resolve(
        self, names: Sequence[str], overrides: Sequence[str] = (), *, flag_overrides: Sequence[str] = ()
    ) -> Resolved:
        """Resolve requested names as ``docker buildx bake`` does before building or printing."""

        requested = self.expand_names(list(names) or ["default"])
        specs = list(self.default_overrides) + list(overrides) + list(flag_overrides)
        parsed = ovr.parse_overrides(specs, self.env, list(self.targets))
        targets: dict[str, Target] = {}
        groups: dict[str, Group] = {}
        memo: dict[str, Target] = {}
        for name in requested:
            ts, gs = self.resolve_group(name)
            for tname in ts:
                if tname in targets:
                    continue
                if tname not in self.targets:  # named on the command line or by a group
                    raise self._unknown_target(tname, item_range(self.bodies, "group", gs, "targets", tname))
                target = self.resolve_target(tname, parsed, memo=memo)
                targets[tname] = target
            for gname in gs:
                groups[gname] = self.groups[gname]
        # buildx adds every other requested name to "default", then de-duplicates and sorts it
        for name in requested:
            if name == "default" and "default" in self.groups:
                continue
            if "default" not in groups:
                groups["default"] = Group("default", [name])
            else:
                groups["default"] = Group(
                    "default", groups["default"].targets + [name], groups["default"].description
                )
        if "default" in groups:
            group = groups["default"]
            groups["default"] = Group("default", sorted(set(group.targets)), group.description)
        for tname in list(targets):
            targets[tname] = finalize.finalize(
                targets[tname], self.env, self.cwd, normalized=True, remote=self.remote
            )
        self._link(targets, parsed)
        return Resolved(groups, targets)

    def _unknown_target(self, name: str, where: Range | None) -> SpecError:
        """``failed to find target X``, at the bake file line naming it, with the closest name."""
        hint = did_you_mean(name, [*self.targets, *self.groups])
        return SpecError(f"failed to find target {name}{hint}", range=where)

    def _link(self, targets: dict[str, Target], overrides: list) -> None:
        """Follow ``target:`` contexts: resolve linked targets, check loops and platforms."""

        pending = list(targets)
        while pending:
            name = pending.pop(0)
            target = targets[name]
            for ctx_value in (target.contexts or {}).values():
                if not ctx_value.startswith("target:"):
                    continue
                linked = ctx_value[len("target:") :]
                if linked == name:
                    raise SpecError(f"target {name} cannot link to itself")
                self._check_loop(name, linked, targets, overrides)
                if linked not in targets:
                    resolved = finalize.finalize(
                        self.resolve_target(linked, overrides),
                        self.env,
                        self.cwd,
                        normalized=True,
                        remote=self.remote,
                    )
                    resolved.output = [{"type": "cacheonly"}]
                    targets[linked] = resolved
                    pending.append(linked)
                other = targets[linked]
                if (
                    target.platforms
                    and other.platforms
                    and len(target.platforms) > 1
                    and len(other.platforms) > 1
                ):
                    if not set(target.platforms) <= set(other.platforms):
                        raise SpecError(
                            f"target {linked} can't be used by {name} because its platforms "
                            f"{_go_list(other.platforms)} are not a subset of {_go_list(target.platforms)}"
                        )
                if other.entitlements:
                    merged = list(target.entitlements or [])
                    merged.extend(e for e in other.entitlements if e not in merged)
                    target.entitlements = merged

    def _check_loop(self, start: str, linked: str, targets: dict[str, Target], overrides: list) -> None:
        seen = {start}
        frontier = [linked]
        while frontier:
            current = frontier.pop()
            target = targets.get(current)
            if target is None:
                if current not in self.targets:
                    raise SpecError(f"failed to find target {current}")
                target = self.resolve_target(current, overrides)
            for value in (target.contexts or {}).values():
                if value.startswith("target:"):
                    nxt = value[len("target:") :]
                    if nxt == start:
                        raise SpecError(f"infinite loop from {current} to {start}")
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)

    def print_json(
        self, names: Sequence[str], overrides: Sequence[str] = (), *, flag_overrides: Sequence[str] = ()
    ) -> str:
        """The exact text ``docker buildx bake --print`` writes for these names."""

        resolved = self.resolve(names, overrides, flag_overrides=flag_overrides)
        return print_json(resolved.groups, resolved.targets)


def _go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _match(pattern: str, name: str) -> bool:
    """Go's path.Match for names without slashes."""
    return re.fullmatch(_glob_regex(pattern), name) is not None


def _glob_regex(pattern: str) -> str:
    return fnmatch.translate(pattern).replace("(?s:", "(?:", 1)


def local_platform() -> str:
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7"}.get(machine, machine)
    return f"linux/{arch}"


def load(
    files: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    vars: Mapping[str, str] | None = None,
    cmd_context: str = "cwd://",
) -> Definition:
    """Read and evaluate bake files into a :class:`Definition` (buildx's file rules).

    ``cmd_context`` is ``BAKE_CMD_CONTEXT`` (a remote definition's second URL). Parsing and
    evaluation recurse per nesting level, so they run with a deep stack (:mod:`bakec.util.deep`).
    """
    return call_deep(_load, files, env=env, cwd=cwd, vars=vars, cmd_context=cmd_context)


def _load(
    files: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str | None,
    vars: Mapping[str, str] | None,
    cmd_context: str,
) -> Definition:

    env = dict(os.environ if env is None else env)
    cwd = cwd or os.getcwd()
    cli_vars = dict(vars or {})
    sources = bakefiles.read_files(list(files), cwd, env)
    compose_files: list[tuple[str, bytes]] = []
    bodies = []
    source_map: dict[str, bytes] = {}
    for source in sources:
        if bakefiles.is_template(source.name):
            source = bakefiles.render_template(source, {**env, **cli_vars})
        source_map[source.name] = source.data
        kind = bakefiles.classify(source)
        if kind == "compose":
            compose_files.append((source.name, source.data))
        elif kind == "yaml":
            import yaml

            from bakec.bake import yamlload

            try:
                data = yamlload.safe_load(source.data)
            except yaml.YAMLError as err:
                raise SpecError(f"{source.name}: invalid YAML: {err}") from None
            bodies.append(body_from_data(_yaml_numbers(data), source.name))
        elif kind == "json":
            bodies.append(parse_json(source.data, source.name))
        elif kind == "hcl":
            bodies.append(parse_hcl_cached(source.data, source.name, _parse_cache_dir(env)))
        else:
            bodies.extend(_parse_unknown(source, compose_files, cwd, env))
    targets: dict[str, Target] = {}
    groups: dict[str, Group] = {}
    if compose_files:
        from bakec.bake.compose import (
            load_compose,
        )  # only when there are compose files: it is costly to import

        composed = load_compose(compose_files, {**env, **cli_vars}, cwd)
        targets.update(composed.targets)
        groups.update(composed.groups)
    builtins = {"BAKE_CMD_CONTEXT": cmd_context, "BAKE_LOCAL_PLATFORM": local_platform()}
    env_lookup = not _truthy(env.get("BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP", ""))
    evaluation = BakeEvaluation(
        bodies,
        env,
        cli_vars,
        builtins,
        env_lookup=env_lookup,
        relative_paths=_truthy(env.get("BUILDX_BAKE_FILE_RELATIVE_PATHS", "")),
    )
    try:
        config: EvaluatedConfig = evaluation.evaluate()
    except BakecError:
        raise
    for name, target in config.targets.items():
        targets[name] = merge.merge(targets[name], target) if name in targets else target
    for name, group in config.groups.items():
        if name in groups:  # compose-derived groups merge their members with HCL ones
            merged = list(groups[name].targets)
            merged.extend(t for t in group.targets if t not in merged)
            groups[name] = Group(name, merged, group.description or groups[name].description)
        else:
            groups[name] = group
    return Definition(
        targets,
        groups,
        config.variables,
        env,
        cwd,
        sources=source_map,
        used_variables=config.used_variables,
        bodies=bodies,
        block_labels=config.block_labels,
    )


def _parse_unknown(source, compose_files, cwd, env):
    """A file with another extension: try compose first, then HCL/JSON (bake-spec §1.1)."""

    text = source.data.lstrip()
    if text.startswith(b"{"):
        return [parse_json(source.data, source.name)]
    try:
        import yaml

        doc = yaml.safe_load(source.data)
        if isinstance(doc, dict) and "services" in doc:
            compose_files.append((source.name, source.data))
            return []
    except Exception:
        pass
    return [parse_hcl(source.data, source.name)]


def _yaml_numbers(data):
    from decimal import Decimal

    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, (int, float)):
        return number(str(data))
    if isinstance(data, list):
        return [_yaml_numbers(v) for v in data]
    if isinstance(data, dict):
        return {str(k): _yaml_numbers(v) for k, v in data.items()}
    if isinstance(data, Decimal):
        return data
    return str(data) if not isinstance(data, str) else data


def _parse_cache_dir(env: Mapping[str, str]):

    state_dir = resolve_state_dir(env=env)
    # a state dir that does not exist yet is not created: read-only commands write nothing
    return state_dir / "cache" / "hcl" if state_dir.is_dir() else None


def _truthy(value: str) -> bool:
    return value.lower() in ("1", "t", "true", "yes", "y", "on")
