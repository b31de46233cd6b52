"""Dockerfile → BuildPlan: BuildKit's dockerfile2llb semantics as plain data.

The flow mirrors ``toDispatchState``: parse, register stages (names, named
contexts), resolve the target, build the dependency graph, find reachable
stages (running ONBUILD triggers), then dispatch each reachable stage in
Dockerfile order while tracking the image config, the exec environment and
the history exactly as BuildKit does.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bakec.dockerfile import model as m
from bakec.dockerfile._gofmt import format_duration, go_list, go_quote_list
from bakec.dockerfile._suggest import suggest
from bakec.dockerfile.errors import DockerfileError
from bakec.dockerfile.instructions import Instruction, StageDef, parse_instruction, parse_instructions
from bakec.dockerfile.lexer import Env, Lex, LexError
from bakec.dockerfile.lint import LintConfig, Linter, LintWarning
from bakec.dockerfile.parser import Node, chomp_heredoc, parse, parse_heredoc
from bakec.dockerfile.refs import ImageRef, RefError, normalize_platform, parse_platform, parse_ref
from bakec.errors import BakecError, EnvironmentProblem
from bakec.util.gitref import is_add_git_source, is_http_source
from bakec.util.golang import parse_bool
from bakec.util.platform import Platform
from bakec.util.units import ram_in_bytes

__all__ = ["NamedContext", "TargetInfo", "check", "compile", "targets"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NON_ENV_ARGS = frozenset({"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"})
_PROXY_ARGS = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy")
_SECRET_TOKENS = (
    "apikey",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pword",
    "passwd",
    "secret",
    "token",
)
_SECRET_ALLOW = ("public",)


@dataclass(frozen=True)
class NamedContext:
    """A ``--build-context`` value.

    kind: ``local`` (a directory), ``image`` (``docker-image://``), ``target``
    (bake's ``target:``), ``oci-layout``. ``image`` carries the resolved config
    when the context provides one; ``plan`` the plan of a ``target:`` context,
    whose image config and layers the stage then continues from.
    """

    kind: str
    value: str
    image: m.ResolvedImage | None = None
    plan: m.BuildPlan | None = None  # bake's ``target:`` context, already planned

    @classmethod
    def parse(cls, text: str) -> NamedContext:
        if text.startswith("docker-image://"):
            return cls("image", text[len("docker-image://") :])
        if text.startswith("target:"):
            return cls("target", text[len("target:") :])
        if text.startswith("oci-layout://"):
            return cls("oci-layout", text[len("oci-layout://") :])
        return cls("local", text)


Resolver = Callable[[str, str], "m.ResolvedImage | None"]


def _err(message: str, line: int = 0, end_line: int = 0, filename: str = "Dockerfile") -> DockerfileError:
    return DockerfileError(message, filename=filename, line=line, end_line=end_line)


# --------------------------------------------------------------------------- image


@dataclass
class _Image:
    os: str = ""
    architecture: str = ""
    variant: str = ""
    os_version: str = ""
    author: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[m.HistoryEntry] = field(default_factory=list)
    diff_ids: int = 0

    def clone(self) -> _Image:
        return _Image(
            self.os,
            self.architecture,
            self.variant,
            self.os_version,
            self.author,
            json.loads(json.dumps(self.config)),
            list(self.history),
            self.diff_ids,
        )

    @classmethod
    def empty(cls, platform: Platform) -> _Image:
        return cls(
            platform.os,
            platform.architecture,
            platform.variant,
            platform.os_version,
            config={"WorkingDir": "/", "Env": ["PATH=" + DEFAULT_PATH]},
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _Image:
        cfg = data.get("config") or {}
        keep = {}
        for key in (
            "User",
            "ExposedPorts",
            "Env",
            "Entrypoint",
            "Cmd",
            "Volumes",
            "WorkingDir",
            "Labels",
            "StopSignal",
            "ArgsEscaped",
            "Healthcheck",
            "OnBuild",
            "Shell",
        ):
            if key in cfg and cfg[key] not in (None, "", [], {}, False):
                keep[key] = cfg[key]
        history = [
            m.HistoryEntry(
                h.get("created_by", ""),
                bool(h.get("empty_layer", False)),
                h.get("comment", ""),
                h.get("created"),
            )
            for h in data.get("history") or []
        ]
        return cls(
            data.get("os", ""),
            data.get("architecture", ""),
            data.get("variant", ""),
            data.get("os.version", ""),
            data.get("author", ""),
            keep,
            history,
            len((data.get("rootfs") or {}).get("diff_ids") or []),
        )

    def frozen(self, created: str | None) -> m.ImageConfig:
        cfg = {k: v for k, v in self.config.items() if v not in (None, "", [], {}, False)}
        return m.ImageConfig(
            os=self.os,
            architecture=self.architecture,
            variant=self.variant,
            os_version=self.os_version,
            author=self.author,
            created=created,
            config=json.dumps(cfg, sort_keys=True, separators=(",", ":")),
            history=tuple(self.history),
        )


def _add_env(env: list[str], key: str, value: str) -> list[str]:
    for i, entry in enumerate(env):
        if entry.partition("=")[0] == key:
            env[i] = f"{key}={value}"
            return env
    env.append(f"{key}={value}")
    return env


# --------------------------------------------------------------------------- states


@dataclass
class _Cmd:
    inst: Instruction
    sources: list[_State | None] = field(default_factory=list)
    onbuild: bool = False


@dataclass(eq=False)
class _State:
    stage: StageDef
    index: int
    stage_name: str
    base_name: str = ""
    platform: Platform | None = None
    base: _State | None = None
    named_context: NamedContext | None = None
    unregistered: bool = False
    deps: dict[_State, Instruction | None] = field(default_factory=dict)
    commands: list[_Cmd] = field(default_factory=list)
    dispatched: bool = False
    resolved: bool = False
    onbuild_init: bool = False
    cmd_total: int = 0
    cmd_index: int = 0
    image: _Image = field(default_factory=_Image)
    env: Env = field(default_factory=Env)
    workdir: str = ""
    user: str = ""
    build_args: list[tuple[str, str | None]] = field(default_factory=list)
    cmd_set: bool = False
    workdir_set: bool = False
    base_ref: ImageRef | None = None
    plan_base: m.Base | None = None
    steps: list[m.Step] = field(default_factory=list)
    layers: list[m.Layer] = field(default_factory=list)
    used_once: dict[str, int] = field(default_factory=dict)
    used_meta_args: set[str] = field(default_factory=set)
    declared_args: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    plan_index: int = -1

    def __hash__(self) -> int:
        return id(self)


class _States:
    def __init__(self) -> None:
        self.states: list[_State] = []
        self.by_name: dict[str, _State] = {}

    def add(self, st: _State) -> None:
        self.states.append(st)
        found = self.by_name.get(st.stage.base_name)
        if found is not None:
            st.base = found
        if st.stage.name:
            self.by_name[st.stage.name.lower()] = st

    def find(self, name: str) -> _State | None:
        return self.by_name.get(name.lower())

    def names(self) -> list[str]:
        return [s.stage_name for s in self.states if s.stage_name]


# --------------------------------------------------------------------------- compile


def compile(
    dockerfile_text: str,
    *,
    build_args: Mapping[str, str] | None = None,
    target: str = "",
    platform: str | None = None,
    build_platform: str = "linux/amd64",
    named_contexts: Mapping[str, NamedContext | str] | None = None,
    base_image_configs: Mapping[str, m.ResolvedImage | dict[str, Any]] | None = None,
    resolver: Resolver | None = None,
    labels: Mapping[str, str] | None = None,
    entitlements: frozenset[str] | set[str] | tuple[str, ...] = (),
    check_entitlements: bool = True,
    multi_platform: bool = False,
    all_stages: bool = False,
    filename: str = "Dockerfile",
) -> m.BuildPlan:
    """Compile a Dockerfile for one target and platform into a :class:`BuildPlan`.

    ``base_image_configs`` maps image references (as written or normalised,
    e.g. ``127.0.0.1:5000/busybox:latest``) to their resolved config; missing
    ones are asked of ``resolver(ref, platform)``; still missing ones are
    planned offline from the reference as written, with an empty config.
    ``all_stages`` converts every stage, not only those the target needs
    (BuildKit does so for ``--call check`` without a target).
    """
    conv = _Converter(
        text=dockerfile_text,
        build_args=dict(build_args or {}),
        target=target,
        platform=platform,
        build_platform=build_platform,
        named_contexts={
            k: (NamedContext.parse(v) if isinstance(v, str) else v) for k, v in (named_contexts or {}).items()
        },
        images=dict(base_image_configs or {}),
        resolver=resolver,
        labels=dict(labels or {}),
        entitlements=frozenset(entitlements),
        check_entitlements=check_entitlements,
        multi_platform=multi_platform,
        filename=filename,
        all_stages=all_stages,
    )
    return conv.run()


def check(dockerfile_text: str, **kwargs: Any) -> tuple[LintWarning, ...]:
    """Build checks as ``--call check`` runs them: every stage when no target is given."""
    kwargs.setdefault("all_stages", not kwargs.get("target"))
    kwargs.setdefault("check_entitlements", False)
    return compile(dockerfile_text, **kwargs).warnings


@dataclass(frozen=True)
class TargetInfo:
    """One stage as ``--call targets`` lists it."""

    name: str
    description: str
    default: bool
    base: str
    platform: str
    line: int


def targets(dockerfile_text: str, filename: str = "Dockerfile") -> tuple[TargetInfo, ...]:
    """The stages of a Dockerfile with their doc comments (``# name description``)."""
    parsed = parse(dockerfile_text, filename)
    stages, _ = parse_instructions(parsed.nodes, None, filename)
    rows = dockerfile_text.split("\n")
    out = []
    for i, st in enumerate(stages):
        comments: list[str] = []
        row = st.line - 2
        while row >= 0 and rows[row].lstrip().startswith("#") and row + 1 not in parsed.directives.lines:
            comments.insert(0, rows[row].lstrip()[1:].strip())
            row -= 1
        description = ""
        if st.name and comments and comments[-1].startswith(st.name + " "):
            description = comments[-1][len(st.name) + 1 :]
        out.append(TargetInfo(st.name, description, i == len(stages) - 1, st.base_name, st.platform, st.line))
    return tuple(out)


class _Converter:
    def __init__(
        self,
        *,
        text: str,
        build_args: dict[str, str],
        target: str,
        platform: str | None,
        build_platform: str,
        named_contexts: dict[str, NamedContext],
        images: dict[str, m.ResolvedImage | dict[str, Any]],
        resolver: Resolver | None,
        labels: dict[str, str],
        entitlements: frozenset[str],
        check_entitlements: bool,
        multi_platform: bool,
        filename: str,
        all_stages: bool = False,
    ) -> None:
        self.text = text
        self.build_args = build_args
        self.target_name = target
        self.filename = filename
        self.named_contexts = named_contexts
        self.images = images
        self.resolver = resolver
        self.labels = labels
        self.entitlements = entitlements
        self.check_entitlements = check_entitlements
        self.multi_platform = multi_platform
        self.all_stages = all_stages
        self.build_platform = parse_platform(build_platform)
        self.implicit_target = platform is None
        self.target_platform = parse_platform(platform) if platform else self.build_platform
        self.states = _States()
        self.context_paths: set[str] = set()

    # -- helpers ------------------------------------------------------------

    def error(self, message: str, line: int = 0, end_line: int = 0) -> DockerfileError:
        return _err(message, line, end_line, self.filename)

    def lex_word(self, word: str, env: Env, line: int) -> str:
        try:
            result = self.shlex.process(word, env)
        except LexError as exc:
            raise self.error(str(exc), line) from None
        return result.result

    # -- main ---------------------------------------------------------------

    def run(self) -> m.BuildPlan:
        parsed = parse(self.text, self.filename)
        self.directives = parsed.directives
        check = self.build_args.get("BUILDKIT_DOCKERFILE_CHECK", parsed.directives.check)
        self.lint = Linter(LintConfig.parse(check))
        self.shlex = Lex(parsed.directives.escape)
        self._empty_continuations(parsed.nodes)
        stages, meta_args = parse_instructions(parsed.nodes, self.lint, self.filename)
        if not stages:
            raise self.error("dockerfile contains no stages to build")
        self._validate_stage_names(stages)
        self._validate_casing(stages)

        target_name = self.target_name or stages[-1].name
        self.global_args = self._default_args(target_name)
        self._validate_default_base_names(stages, meta_args)
        self.global_args, self.meta_arg_info = self._build_meta_args(meta_args)
        self.meta_arg_lines = {key: cmd.line for cmd in meta_args for key, _ in cmd.data["pairs"]}
        self.epoch = self._epoch()

        self._register_stages(stages)
        target = self._resolve_target()
        self._build_dependency_graph()
        reachable = self._resolve_stages(target)
        self._dispatch_stages(reachable)
        self._finalize(target)
        lint_error = self.lint.error()
        if lint_error is not None:
            raise lint_error
        return self._plan(target, reachable)

    # -- args ---------------------------------------------------------------

    def _default_args(self, target_name: str) -> Env:
        bp, tp = self.build_platform, self.target_platform
        values = [
            ("BUILDPLATFORM", str(bp)),
            ("BUILDOS", bp.os),
            ("BUILDOSVERSION", bp.os_version),
            ("BUILDARCH", bp.architecture),
            ("BUILDVARIANT", bp.variant),
            ("TARGETPLATFORM", tp.format_all()),
            ("TARGETOS", tp.os),
            ("TARGETOSVERSION", tp.os_version),
            ("TARGETARCH", tp.architecture),
            ("TARGETVARIANT", tp.variant),
            ("TARGETSTAGE", target_name),
        ]
        env = Env()
        for key, value in values:
            env = env.set(key, self.build_args.get(key, value))
        return env

    def _validate_default_base_names(self, stages: list[StageDef], meta_args: list[Instruction]) -> None:
        """InvalidDefaultArgInFrom: every base name must parse as a reference with default args."""
        env, _ = self._build_meta_args(meta_args, overrides=False)
        for st in stages:
            try:
                res = self.shlex.process(st.base_name, env)
                parse_ref(res.result)
            except LexError:
                return
            except RefError:
                self.lint.run(
                    "InvalidDefaultArgInFrom",
                    st.line,
                    f"Default value for ARG {st.base_name} results in empty or invalid base image name",
                )

    def _build_meta_args(
        self, meta_args: list[Instruction], overrides: bool = True
    ) -> tuple[Env, dict[str, str | None]]:
        env = self.global_args
        info: dict[str, str | None] = {}
        for cmd in meta_args:
            for key, value in cmd.data["pairs"]:
                if overrides and key in self.build_args:
                    value = self.build_args[key]
                elif value is not None:
                    value = self.lex_word(value, env, cmd.line)
                if value is not None:
                    env = env.set(key, value)
                info[key] = value
        return env, info

    def _epoch(self) -> int | None:
        raw = self.build_args.get("SOURCE_DATE_EPOCH")
        if raw is None:
            value = self.global_args.get("SOURCE_DATE_EPOCH")
            raw = value if value else None
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise self.error(f"invalid SOURCE_DATE_EPOCH: {raw}") from None

    @property
    def created(self) -> str | None:
        if self.epoch is None:
            return None
        return datetime.fromtimestamp(self.epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- lint ---------------------------------------------------------------

    def _empty_continuations(self, nodes: list[Node]) -> None:
        rows = self.text.split("\n")
        for node in nodes:
            if node.heredocs or node.end_line <= node.start_line:
                continue
            if any(
                rows[i - 1].strip() == ""
                for i in range(node.start_line + 1, node.end_line + 1)
                if i - 1 < len(rows)
            ):
                self.lint.run("NoEmptyContinuation", node.start_line, "Empty continuation line")

    def _validate_stage_names(self, stages: list[StageDef]) -> None:
        seen: set[str] = set()
        for st in stages:
            if not st.name:
                continue
            if st.name in ("context", "scratch"):
                self.lint.run(
                    "ReservedStageName",
                    st.line,
                    f'Stage name should not use the same name as reserved stage "{st.name}"',
                )
            if st.name in seen:
                self.lint.run(
                    "DuplicateStageName",
                    st.line,
                    f'Duplicate stage name "{st.name}", stage names should be unique',
                )
            seen.add(st.name)

    def _validate_casing(self, stages: list[StageDef]) -> None:
        names: list[tuple[str, int]] = []
        for st in stages:
            names.append((st.cmd, st.line))
            names.extend((c.cmd, c.line) for c in st.commands)
        lower = sum(1 for n, _ in names if n.lower() == n)
        upper = sum(1 for n, _ in names if n.upper() == n and n.lower() != n)
        majority_lower = lower > upper
        for name, line in names:
            if majority_lower and name.lower() != name:
                self.lint.run(
                    "ConsistentInstructionCasing",
                    line,
                    f"Command '{name}' should match the case of the command majority (lowercase)",
                )
            elif not majority_lower and name.upper() != name:
                self.lint.run(
                    "ConsistentInstructionCasing",
                    line,
                    f"Command '{name}' should match the case of the command majority (uppercase)",
                )

    # -- stages -------------------------------------------------------------

    def _register_stages(self, stages: list[StageDef]) -> None:
        for i, st in enumerate(stages):
            try:
                result = self.shlex.process(st.base_name, self.global_args)
            except LexError as exc:
                raise self.error(str(exc), st.line, st.end_line) from None
            known = set(self.meta_arg_info) | set(self.global_args.keys())
            for name in sorted(result.unmatched - known):
                hint = suggest(name, sorted(known), True)
                self.lint.run(
                    "UndefinedArgInFrom",
                    st.line,
                    f"FROM argument '{name}' is not declared" + (f" (did you mean {hint}?)" if hint else ""),
                )
            if result.result == "":
                raise self.error(f"base name ({st.base_name}) should not be blank", st.line, st.end_line)
            st.base_name = result.result
            ds = _State(stage=st, index=i, stage_name=st.name, base_name=st.base_name)
            ds.used_meta_args.update(result.matched)
            if st.platform:
                try:
                    plat = self.shlex.process(st.platform, self.global_args)
                except LexError as exc:
                    raise self.error(
                        f"failed to process arguments for platform {st.platform}: {exc}", st.line
                    ) from None
                if plat.result == "":
                    raise self.error(f"empty platform value from expression {st.platform}", st.line)
                if plat.matched == {"TARGETPLATFORM"} and plat.result == self.global_args.get(
                    "TARGETPLATFORM"
                ):
                    self.lint.run(
                        "RedundantTargetPlatform",
                        st.line,
                        f"Setting platform to predefined {st.platform} in FROM is redundant as this is the default behavior",
                    )
                ds.used_meta_args.update(plat.matched)
                try:
                    ds.platform = parse_platform(plat.result, self.target_platform)
                except RefError as exc:
                    raise self.error(f"failed to parse platform {st.platform}: {exc}", st.line) from None
                if not plat.matched and not plat.unmatched:
                    p = ds.platform
                    if not (st.name and (p.os in st.name or p.architecture in st.name)):
                        self.lint.run(
                            "FromPlatformFlagConstDisallowed",
                            st.line,
                            f'FROM --platform flag should not use constant value "{plat.result}"',
                        )
            if st.name and st.name in self.named_contexts and st.name not in ("scratch", "context"):
                ds.named_context = self.named_contexts[st.name]
                self.states.add(ds)
                ds.base = None
                continue
            if not st.name:
                ds.stage_name = f"stage-{i}"
            self.states.add(ds)
            total = 1 if (st.base_name != "scratch" and ds.base is None) else 0
            total += sum(1 for c in st.commands if c.name in ("add", "copy", "run", "workdir"))
            ds.cmd_total = total

    def _resolve_target(self) -> _State:
        if not self.target_name:
            return self.states.states[-1]
        found = self.states.find(self.target_name)
        if found is None:
            message = f'target stage "{self.target_name}" could not be found'
            hint = suggest(self.target_name, self.states.names(), False)
            if hint:
                message += f" (did you mean {hint}?)"
            raise self.error(message)
        return found

    def _build_dependency_graph(self) -> None:
        for ds in list(self.states.states):
            if ds.unregistered:
                continue
            ds.commands = []
            for inst in ds.stage.commands:
                cmd = self._to_command(inst)
                ds.commands.append(cmd)
                self._add_deps(ds, cmd)
        self._check_cycles()
        if len(self.states.states) == 1:
            self.states.states[0].stage_name = ""

    def _add_deps(self, ds: _State, cmd: _Cmd) -> None:
        for src in cmd.sources:
            if src is not None:
                ds.deps[src] = cmd.inst
                if src.unregistered and src not in self.states.states:
                    self.states.add(src)

    def _unregistered(self, name: str, inst: Instruction) -> _State:
        st = StageDef(
            base_name=name,
            name="",
            cmd="FROM",
            platform="",
            line=inst.line,
            end_line=inst.end_line,
            source_code="",
        )
        return _State(stage=st, index=-1, stage_name="", base_name=name, unregistered=True)

    def _to_command(self, inst: Instruction) -> _Cmd:
        cmd = _Cmd(inst)
        if inst.name == "copy":
            src = inst.flags.string("from")
            if src:
                try:
                    res = self.shlex.process(src, Env())
                except LexError as exc:
                    raise self.error(str(exc), inst.line) from None
                if res.result != src:
                    raise self.error(
                        "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
                        inst.line,
                    )
                if re.fullmatch(r"[+-]?\d+", src):
                    index = int(src)
                    if index < 0 or index >= len(self.states.states):
                        raise self.error(f"invalid stage index {index}", inst.line)
                    stn = self.states.states[index]
                else:
                    stn = self.states.find(src) or self._unregistered(src, inst)
                cmd.sources = [stn]
        elif inst.name == "run":
            sources: list[_State | None] = []
            for raw in inst.flags.strings("mount"):
                fields = _mount_fields(raw)
                mtype = "bind"
                src = ""
                for key, value in fields:
                    if key == "type" and value is not None:
                        mtype = value.lower()
                    if key == "from" and value is not None:
                        idx = value.find("$")
                        if idx != -1 and idx != len(value) - 1:
                            raise self.error(
                                "'from' doesn't support variable expansion, define alias stage instead",
                                inst.line,
                            )
                        src = value
                if not src and mtype == "cache":
                    src = "scratch"
                if not src or mtype == "tmpfs":
                    sources.append(None)
                    continue
                sources.append(self.states.find(src) or self._unregistered(src, inst))
            cmd.sources = sources
        return cmd

    def _check_cycles(self) -> None:
        visited: set[_State] = set()
        path: set[_State] = set()

        def visit(st: _State, current: list[Instruction | None]) -> list[Instruction | None] | None:
            if st in visited:
                return None
            visited.add(st)
            path.add(st)
            for dep, inst in st.deps.items():
                nxt = current + [inst]
                if dep in path:
                    return nxt
                found = visit(dep, nxt)
                if found is not None:
                    return found
            path.discard(st)
            return None

        for st in self.states.states:
            found = visit(st, [])
            if found is not None:
                line = found[0].line if found and found[0] is not None else 0
                raise self.error(f"circular dependency detected on stage: {st.stage_name}", line)

    def _all_registered(self) -> list[_State]:
        return [st for st in self.states.states if not st.unregistered]

    def _reachable(self, target: _State) -> list[_State]:
        seen: dict[_State, None] = {}

        def add(st: _State) -> None:
            if st in seen:
                return
            seen[st] = None
            if st.base is not None:
                add(st.base)
            for dep in st.deps:
                add(dep)

        add(target)
        return list(seen)

    def _resolve_stages(self, target: _State) -> set[_State]:
        while True:
            reachable = self._reachable(target)
            if self.all_stages:
                for extra in self._all_registered():
                    for st in self._reachable(extra):
                        if st not in reachable:
                            reachable.append(st)
            for st in self.states.states:
                if st in reachable and st.base is None and not st.dispatched and not st.resolved:
                    st.resolved = True
                    self._resolve_base(st)
            new_deps = False
            for st in reachable:
                triggers = list(st.image.config.get("OnBuild") or [])
                if st.base is not None and not st.onbuild_init:
                    triggers += [
                        c.inst.data["expression"] for c in st.base.commands if c.inst.name == "onbuild"
                    ]
                    st.onbuild_init = True
                if triggers:
                    if self._init_onbuild(st, triggers):
                        new_deps = True
                    st.image.config.pop("OnBuild", None)
            if not new_deps:
                return set(reachable)

    def _init_onbuild(self, st: _State, triggers: list[str]) -> bool:
        new_deps = False
        cmds: list[_Cmd] = []
        for trigger in triggers:
            parsed = parse(trigger, self.filename)
            if len(parsed.nodes) != 1:
                raise self.error("onbuild trigger should be a single expression", st.stage.line)
            node = parsed.nodes[0]
            node = Node(
                node.cmd,
                node.sub_cmd,
                node.json,
                node.original,
                st.stage.line,
                st.stage.end_line,
                node.flags,
                node.value,
                node.heredocs,
            )
            inst = parse_instruction(node, None, self.filename)
            if isinstance(inst, StageDef):
                raise self.error("FROM isn't allowed as an ONBUILD trigger", st.stage.line)
            cmd = self._to_command(inst)
            cmd.onbuild = True
            if any(s is not None for s in cmd.sources):
                new_deps = True
            cmds.append(cmd)
            self._add_deps(st, cmd)
        st.commands = cmds + st.commands
        st.cmd_total += len(cmds)
        return new_deps

    def _lookup_image(self, ref: ImageRef, written: str, platform: Platform) -> m.ResolvedImage | None:
        for key in (str(ref), written, ref.familiar(), str(ref.tag_name_only())):
            found = self.images.get(key)
            if found is not None:
                if isinstance(found, dict):
                    return m.ResolvedImage.from_config(str(ref), "", found)
                return found
        if self.resolver is not None:
            return self.resolver(str(ref), str(platform))
        return None

    def _named_context_for(
        self, name: str, platform: Platform | None = None
    ) -> tuple[str, NamedContext] | None:
        """dockerui's lookup: the familiar name without ``:latest``, per platform first.

        Returns the matching ``named_contexts`` key with its context.
        """
        if name.lower() in ("scratch", "context"):
            return None
        try:
            key = parse_ref(name).familiar().removesuffix(":latest")
        except RefError:
            key = name
        platform = platform or self.target_platform
        for candidate in (f"{key}::{platform.format_all()}", key):
            if candidate in self.named_contexts:
                return candidate, self.named_contexts[candidate]
        return None

    def _resolve_base(self, st: _State) -> None:
        platform = st.platform or self.target_platform
        if st.stage.base_name == "scratch" and st.named_context is None:
            st.image = _Image.empty(self.target_platform)
            st.platform = self.target_platform
            st.plan_base = m.Base("scratch", platform=str(self.target_platform))
            if st.unregistered:
                st.dispatched = True
            return
        if st.named_context is not None:
            self._load_named_context(st, st.named_context, st.stage.name, platform, stage_itself=True)
            st.dispatched = True
            return
        orig = st.stage.base_name
        try:
            ref = parse_ref(orig)
        except RefError as exc:
            raise self.error(
                f'failed to parse stage name "{orig}": {exc}', st.stage.line, st.stage.end_line
            ) from None
        ref = ref.tag_name_only()
        found = self._named_context_for(str(ref), platform)
        if found is not None:
            self._load_named_context(st, found[1], found[0], platform, stage_itself=False)
            if st.unregistered:
                st.dispatched = True
            return
        try:
            resolved = self._lookup_image(ref, orig, platform)
        except (DockerfileError, EnvironmentProblem):
            raise
        except BakecError as exc:  # a pull that fails (often a stage name misspelt) fails at its line
            raise self.error(
                f"{orig}: failed to resolve source metadata for {ref}: {exc}", st.stage.line
            ) from None
        if resolved is not None:
            data = resolved.config_dict()
            image = _Image.from_json(data)
            digest = resolved.digest
            if resolved.ref and resolved.ref != str(ref):
                try:
                    ref = parse_ref(resolved.ref).tag_name_only()
                except RefError:
                    pass
            full = ref.with_digest(digest) if digest and not ref.digest else ref
            st.image = image
            st.base_ref = full
            if (
                image.os
                and image.architecture
                and (image.os, image.architecture) != (platform.os, platform.architecture)
            ):
                got = str(Platform(image.os, image.architecture, image.variant))
                self.lint.run(
                    "InvalidBaseImagePlatform",
                    st.stage.line,
                    f'Base image {orig} was pulled with platform "{got}", expected "{platform}" for current build',
                )
            layers = image.diff_ids
            is_scratch = layers == 0 and not any(not h.empty_layer for h in image.history)
            st.plan_base = m.Base(
                "scratch" if is_scratch else "image", str(full), digest=digest, platform=str(platform)
            )
            st.layers = [m.Layer(f"pulled from {full}", True) for _ in range(layers)]
        else:
            st.image = _Image(platform.os, platform.architecture, platform.variant, platform.os_version)
            st.base_ref = ref
            st.plan_base = m.Base("image", str(ref), resolved=False, platform=str(platform))
            st.layers = [m.Layer(f"pulled from {ref}", True)]
        st.platform = platform
        if st.plan_base.kind == "image":
            self._prefix(st, "FROM " + str(st.base_ref), platform, Env())
        if st.unregistered:
            st.dispatched = True

    def _load_named_context(
        self, st: _State, nc: NamedContext, name: str, platform: Platform, stage_itself: bool
    ) -> None:
        if nc.plan is not None:
            img = nc.plan.image
            st.image = _Image(
                img.os,
                img.architecture,
                img.variant,
                img.os_version,
                img.author,
                img.config_dict(),
                list(img.history),
                len(nc.plan.layers),
            )
            st.layers = list(nc.plan.layers)
        elif nc.image is not None:
            data = nc.image.config_dict()
            st.image = _Image.from_json(data)
            st.layers = [
                m.Layer(f"pulled from {nc.image.ref}@{nc.image.digest}", True)
                for _ in range(st.image.diff_ids)
            ]
        elif nc.kind == "image":
            st.image = _Image(platform.os, platform.architecture, platform.variant, platform.os_version)
            st.layers = [m.Layer(f"pulled from {nc.value}", True)]
        else:
            st.image = _Image.empty(platform)
            st.layers = [m.Layer(f"local context {name}", True)] if nc.kind == "local" else []
        if stage_itself and st.image.os and st.image.architecture:
            st.platform = Platform(st.image.os, st.image.architecture, st.image.variant, st.image.os_version)
        else:
            st.platform = platform
        st.plan_base = m.Base(
            "named-context",
            name,
            resolved=nc.image is not None or nc.plan is not None or nc.kind == "local",
            platform=str(st.platform),
        )

    # -- dispatch -----------------------------------------------------------

    def _prefix(
        self, st: _State, text: str, platform: Platform | None, env: Env, onbuild: bool = False
    ) -> str:
        if st.cmd_total == 0:
            return text
        out = "["
        if self.multi_platform and platform is not None:
            out += platform.format_all() + _format_target_platform(platform, env) + " "
        if st.stage_name:
            out += st.stage_name + " "
        st.cmd_index += 1
        width = int(1 + math.log10(st.cmd_total))
        out += f"{st.cmd_index:>{width}}/{st.cmd_total}] "
        if onbuild:
            out += "ONBUILD "
        return out + text

    def _dispatch_stages(self, reachable: set[_State]) -> None:
        for st in self.states.states:
            if st not in reachable or st.dispatched:
                continue
            self._init_state(st)
            st.dispatched = True
            if st.platform is None:
                st.platform = self.target_platform
            env_list = st.image.config.setdefault("Env", [])
            if not any(e.partition("=")[0] == "PATH" for e in env_list) and st.platform.os != "windows":
                env_list.append("PATH=" + DEFAULT_PATH)
            st.env = Env.from_list(st.image.config.get("Env", [])) if st.base is None else st.env
            if st.base is None:
                wd = st.image.config.get("WorkingDir", "")
                if wd:
                    st.workdir = _normalize_workdir(st.workdir, wd)
                st.user = st.image.config.get("User", "")
            for cmd in st.commands:
                self._dispatch(st, cmd)

    def _init_state(self, st: _State) -> None:
        if st.base is None:
            return
        base = st.base
        st.platform = base.platform
        st.image = base.image.clone()
        st.image.config.pop("OnBuild", None)
        st.env = base.env
        st.workdir = base.workdir
        st.user = base.user
        st.workdir_set = base.workdir_set
        st.build_args = list(base.build_args) + st.build_args
        st.layers = list(base.layers)
        st.plan_base = m.Base("stage", base.stage.name or base.stage_name, platform=str(base.platform))
        st.base_ref = base.base_ref

    def _dispatch(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        name = inst.name
        try:
            handler = getattr(self, f"_do_{name}")
            handler(st, cmd)
        except DockerfileError as exc:
            if exc.line == 0:
                raise self.error(exc.summary, inst.line, inst.end_line) from None
            raise

    def _expand(self, st: _State, word: str, line: int) -> str:
        return self._process(st, word, line)

    def _process(self, st: _State, word: str, line: int, lex: Lex | None = None) -> str:
        try:
            res = (lex or self.shlex).process(word, st.env)
        except LexError as exc:
            raise self.error(str(exc), line) from None
        for name in sorted(res.unmatched):
            if name in st.env:
                continue
            if any(k == name for k, _ in st.build_args):
                continue
            message = f"Usage of undefined variable '${name}'"
            hint = suggest(name, st.env.keys(), True)
            if hint:
                message += f" (did you mean ${hint}?)"
            self.lint.run("UndefinedVar", line, message)
        return res.result

    def _commit_layer(self, st: _State, step: m.RunStep | m.CopyStep | m.WorkdirStep) -> None:
        """A filesystem step: one layer and one non-empty history entry."""
        st.layers.append(m.Layer(step.layer_description, False))
        st.image.history.append(m.HistoryEntry(step.history, False, created=self.created))
        st.steps.append(step)

    def _meta(self, st: _State, cmd: _Cmd, history: str | None) -> None:
        inst = cmd.inst
        step = m.MetaStep(
            instruction=inst.code,
            line=inst.line,
            history=history or "",
            description="",
            onbuild=cmd.onbuild,
            name=inst.name,
        )
        st.steps.append(step)
        if history is not None:
            st.image.history.append(m.HistoryEntry(history, True, created=self.created))

    def _secret_check(self, what: str, key: str, line: int) -> None:
        # Words between underscores, case-insensitive: GITHUB_TOKEN yes, MYTOKEN no.
        lowered = [t.lower() for t in key.split("_") if t]
        if any(t in _SECRET_ALLOW for t in lowered):
            return
        if any(t in _SECRET_TOKENS for t in lowered):
            self.lint.run(
                "SecretsUsedInArgOrEnv",
                line,
                f'Do not use ARG or ENV instructions for sensitive data ({what} "{key}")',
            )

    def _used_once(self, st: _State, cmd: _Cmd, what: str) -> None:
        """MultipleInstructionsDisallowed, reported at the earlier (ignored) instruction."""
        if what in st.used_once:
            self.lint.run(
                "MultipleInstructionsDisallowed",
                st.used_once[what],
                f"Multiple {cmd.inst.cmd} instructions should not be used in the same stage because only the last one will be used",
            )
        st.used_once[what] = cmd.inst.line

    # each _do_* mirrors a dispatchX function of dockerfile2llb

    def _do_env(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        pairs = [
            (self._expand(st, k, inst.line), self._expand(st, v, inst.line)) for k, v in inst.data["pairs"]
        ]
        parts = ["ENV"]
        for key, value in pairs:
            if inst.data["legacy"]:
                self.lint.run(
                    "LegacyKeyValueFormat",
                    inst.line,
                    f'"{inst.cmd} key=value" should be used instead of legacy "{inst.cmd} key value" format',
                )
            self._secret_check("ENV", key, inst.line)
            parts.append(f"{key}={value}")
            st.env = st.env.set(key, value)
            _add_env(st.image.config.setdefault("Env", []), key, value)
        self._meta(st, cmd, " ".join(parts))

    def _do_label(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        labels = st.image.config.setdefault("Labels", {})
        parts = ["LABEL"]
        for key, value in inst.data["pairs"]:
            key = self._expand(st, key, inst.line)
            value = self._expand(st, value, inst.line)
            if inst.data["legacy"]:
                self.lint.run(
                    "LegacyKeyValueFormat",
                    inst.line,
                    f'"{inst.cmd} key=value" should be used instead of legacy "{inst.cmd} key value" format',
                )
            labels[key] = value
            parts.append(f"{key}={value}")
        self._meta(st, cmd, " ".join(parts))

    def _do_maintainer(self, st: _State, cmd: _Cmd) -> None:
        self.lint.run(
            "MaintainerDeprecated",
            cmd.inst.line,
            "Maintainer instruction is deprecated in favor of using label",
        )
        st.image.author = cmd.inst.args[0]
        self._meta(st, cmd, f"MAINTAINER {cmd.inst.args[0]}")

    def _do_onbuild(self, st: _State, cmd: _Cmd) -> None:
        st.image.config.setdefault("OnBuild", []).append(cmd.inst.data["expression"])
        self._meta(st, cmd, None)

    def _with_shell(self, st: _State, args: list[str]) -> list[str]:
        shell = list(st.image.config.get("Shell") or []) or (
            ["cmd", "/S", "/C"] if st.image.os == "windows" else ["/bin/sh", "-c"]
        )
        return shell + [" ".join(args)]

    def _do_cmd(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        self._used_once(st, cmd, "CMD")
        args: list[str] = list(inst.data["cmdline"])
        if inst.data["prepend_shell"]:
            if not st.image.config.get("Shell"):
                self.lint.run(
                    "JSONArgsRecommended",
                    inst.line,
                    f"JSON arguments recommended for {inst.cmd} to prevent unintended behavior related to OS signals",
                )
            args = self._with_shell(st, args)
        st.image.config["Cmd"] = args
        st.image.config["ArgsEscaped"] = True
        st.cmd_set = True
        self._meta(st, cmd, f"CMD {go_quote_list(args)}")

    def _do_entrypoint(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        self._used_once(st, cmd, "ENTRYPOINT")
        raw = inst.data["cmdline"]
        args: list[str] | None = None if raw is None else list(raw)
        if inst.data["prepend_shell"]:
            if not st.image.config.get("Shell"):
                self.lint.run(
                    "JSONArgsRecommended",
                    inst.line,
                    f"JSON arguments recommended for {inst.cmd} to prevent unintended behavior related to OS signals",
                )
            args = self._with_shell(st, args or [])
        st.image.config["Entrypoint"] = args
        if not st.cmd_set:
            st.image.config.pop("Cmd", None)
        self._meta(st, cmd, f"ENTRYPOINT {go_quote_list(args or [])}")

    def _do_healthcheck(self, st: _State, cmd: _Cmd) -> None:
        self._used_once(st, cmd, "HEALTHCHECK")
        health = dict(cmd.inst.data["health"])
        st.image.config["Healthcheck"] = {k: v for k, v in health.items() if v not in (0, None, [])}
        text = (
            f"HEALTHCHECK {{Test:{go_list(health['Test'])} Interval:{format_duration(health['Interval'])} "
            f"Timeout:{format_duration(health['Timeout'])} StartPeriod:{format_duration(health['StartPeriod'])} "
            f"StartInterval:{format_duration(health['StartInterval'])} Retries:{health['Retries']}}}"
        )
        self._meta(st, cmd, text)

    def _do_expose(self, st: _State, cmd: _Cmd) -> None:
        """Raw arguments are sorted first (parseExpose), then expanded and parsed in order."""
        inst = cmd.inst
        ports: list[str] = []
        for raw in sorted(inst.args):
            try:
                ports.extend(self.shlex.process_words(raw, st.env))
            except LexError as exc:
                raise self.error(str(exc), inst.line) from None
        specs: list[str] = []
        for port in ports:
            if ":" in port:
                self.lint.run(
                    "ExposeInvalidFormat",
                    inst.line,
                    f"EXPOSE instruction should not define an IP address or host-port mapping, found '{port}'",
                )
            proto = port.rsplit(":", 1)[-1].partition("/")[2]
            if proto.lower() != proto:
                self.lint.run(
                    "ExposeProtoCasing",
                    inst.line,
                    f"Defined protocol '{port}' in EXPOSE instruction should be lowercase",
                )
            try:
                specs.extend(_parse_port_spec(port))
            except ValueError as exc:
                raise self.error(str(exc), inst.line) from None
        exposed = st.image.config.setdefault("ExposedPorts", {})
        for spec in specs:
            exposed[spec] = {}
        self._meta(st, cmd, f"EXPOSE {go_list(specs)}")

    def _do_user(self, st: _State, cmd: _Cmd) -> None:
        user = self._expand(st, cmd.inst.args[0], cmd.inst.line)
        st.user = user
        st.image.config["User"] = user
        self._meta(st, cmd, f"USER {user}")

    def _do_volume(self, st: _State, cmd: _Cmd) -> None:
        vols = [self._expand(st, v, cmd.inst.line) for v in cmd.inst.data["volumes"]]
        volumes = st.image.config.setdefault("Volumes", {})
        for v in vols:
            if v == "":
                raise self.error("VOLUME specified can not be an empty string", cmd.inst.line)
            volumes[v] = {}
        self._meta(st, cmd, f"VOLUME {go_list(vols)}")

    def _do_stopsignal(self, st: _State, cmd: _Cmd) -> None:
        sig = self._expand(st, cmd.inst.args[0], cmd.inst.line)
        if not _valid_signal(sig):
            raise self.error(f"Invalid signal: {sig}", cmd.inst.line)
        st.image.config["StopSignal"] = sig
        self._meta(st, cmd, f"STOPSIGNAL {sig}")

    def _do_shell(self, st: _State, cmd: _Cmd) -> None:
        shell = list(cmd.inst.data["shell"])
        st.image.config["Shell"] = shell
        self._meta(st, cmd, f"SHELL {go_list(shell)}")

    def _do_arg(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        commits: list[str] = []
        for key, value in inst.data["pairs"]:
            self._secret_check("ARG", key, inst.line)
            has_value = key in self.build_args
            has_default = value is not None
            if not has_default and not has_value:
                gv = self.global_args.get(key)
                if gv is not None:
                    value = gv
            if has_value:
                value = self.build_args[key]
            elif has_default:
                value = self._expand(st, value, inst.line)
            if value is not None and key not in _NON_ENV_ARGS:
                st.env = st.env.set(key, value)
            st.build_args.append((key, value))
            if has_default or has_value or key not in self.meta_arg_info:
                st.declared_args.setdefault(key, (value, inst.line))
            else:
                st.used_meta_args.add(key)
            commits.append(key if value is None else f"{key}={value}")
        self._meta(st, cmd, "ARG " + " ".join(commits))

    def _do_workdir(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        path = self._expand(st, inst.args[0], inst.line)
        if not st.workdir_set and not path.startswith("/"):
            self.lint.run(
                "WorkdirRelativePath",
                inst.line,
                f'Relative workdir "{path}" can have unexpected results if the base image changes',
            )
        st.workdir_set = True
        wd = _normalize_workdir(st.workdir, path)
        st.image.config["WorkingDir"] = wd
        st.workdir = wd
        if wd == "/":
            self._meta(st, cmd, "WORKDIR " + wd)
            return
        name = _uppercase_cmd(self._cmd_env_text(inst.code, st.env))
        desc = self._prefix(st, name, st.platform, st.env, cmd.onbuild)
        step = m.WorkdirStep(
            instruction=inst.code,
            line=inst.line,
            history="WORKDIR " + wd,
            description=desc,
            onbuild=cmd.onbuild,
            path=wd,
            user=st.user,
            platform=str(st.platform),
        )
        self._commit_layer(st, step)

    def _cmd_env_text(self, text: str, env: Env, lex: Lex | None = None) -> str:
        try:
            return (lex or self.shlex).process_word(text, env)
        except LexError:
            return text

    def _source_for(self, st: _State, src: _State | None, what: str, inst: Instruction) -> m.Source:
        if src is None:
            return m.Source("context")
        if not src.dispatched:
            raise self.error(what, inst.line, inst.end_line)
        if src.unregistered:
            found = (
                self._named_context_for(src.stage.base_name, src.platform) if src.stage.base_name else None
            )
            if found is not None:
                return m.Source("named-context", found[0], platform=str(src.platform or ""))
            if src.stage.base_name == "scratch":
                return m.Source("scratch")
            return m.Source(
                "image", str(src.base_ref or src.stage.base_name), platform=str(src.platform or "")
            )
        if src.named_context is not None:
            return m.Source("named-context", src.stage.name, stage=src.index)
        return m.Source("stage", src.stage.name or src.stage_name, stage=src.index)

    def _do_copy(self, st: _State, cmd: _Cmd) -> None:
        self._copy(st, cmd, is_add=False)

    def _do_add(self, st: _State, cmd: _Cmd) -> None:
        self._copy(st, cmd, is_add=True)

    def _copy(self, st: _State, cmd: _Cmd, *, is_add: bool) -> None:
        inst = cmd.inst
        line = inst.line
        f = inst.flags
        chown = self._expand(st, f.string("chown"), line)
        chmod = self._expand(st, f.string("chmod"), line)
        checksum = self._expand(st, f.string("checksum"), line) if is_add else ""
        exclude = tuple(self._expand(st, p, line) for p in f.strings("exclude"))
        sources = [self._expand(st, s, line) for s in inst.data["sources"]]
        dest_raw = self._expand(st, inst.data["dest"], line)
        raw_lex = Lex("\\", skip_process_quotes=True)
        contents: list[m.InlineFile] = []
        for hname, data, expand in inst.data["contents"]:
            if expand:
                data = self._process(st, data, line, raw_lex)
            contents.append(m.InlineFile(hname, data, 0o644))

        origin = m.Source("context")
        if not is_add and cmd.sources:
            origin = self._source_for(
                st,
                cmd.sources[0],
                f'cannot copy from stage "{f.string("from")}", it needs to be defined before current stage "{st.stage_name}"',
                inst,
            )
        dest = _relative_to_workdir(st.workdir, dest_raw)

        if chmod:
            _validate_chmod(chmod, self, line)
        if checksum:
            _validate_digest(checksum, self, line)
            if len(sources) != 1:
                raise self.error("checksum can't be specified for multiple sources", line)
            if not is_http_source(sources[0]) and not is_add_git_source(sources[0]):
                raise self.error("checksum requires HTTP(S) or Git sources", line)
        for src in sources:
            if is_add_git_source(src) and not is_add:
                raise self.error("source can't be a git ref for COPY", line)
            if is_http_source(src) and not is_add:
                raise self.error("source can't be a URL for COPY", line)

        parents = f.boolean("parents") if not is_add else False
        parts = ["ADD" if is_add else "COPY"]
        if parents:
            parts.append("--parents")
        if chown:
            parts.append("--chown=" + chown)
        if chmod:
            parts.append("--chmod=" + chmod)
        parts.extend(sources)
        parts.extend("<<" + c.name for c in contents)
        parts.append(dest_raw)
        history = " ".join(parts)

        name = _uppercase_cmd(self._cmd_env_text(inst.code, st.env))
        desc = self._prefix(st, name, st.platform, st.env, cmd.onbuild)
        link = f.boolean("link")
        merge = link and chmod == ""
        if not is_add and origin.kind == "context":
            for src in sources:
                self.context_paths.add(posixpath.join("/", src))
        if is_add:
            for src in sources:
                if not is_http_source(src):
                    self.context_paths.add(posixpath.join("/", src))
        common: dict[str, Any] = {
            "instruction": inst.code,
            "line": line,
            "history": history + " # buildkit",
            "description": desc,
            "onbuild": cmd.onbuild,
            "origin": origin,
            "sources": tuple(sources),
            "contents": tuple(contents),
            "dest": dest,
            "chown": chown,
            "chmod": chmod,
            "link": link,
            "parents": parents,
            "exclude": exclude,
            "workdir": st.workdir or "/",
            "user": st.user,
            "platform": str(st.platform),
            "merge": merge,
        }
        if is_add:
            unpack = f.boolean("unpack") if "unpack" in f.used else None
            keep = f.boolean("keep-git-dir") if "keep-git-dir" in f.used else None
            step: m.CopyStep = m.AddStep(**common, checksum=checksum, keep_git_dir=keep, unpack=unpack)
        else:
            step = m.CopyStep(**common)
        self._commit_layer(st, step)

    def _do_run(self, st: _State, cmd: _Cmd) -> None:
        inst = cmd.inst
        line = inst.line
        args: list[str] = list(inst.data["cmdline"])
        files: list[m.InlineFile] = []
        heredocs: list[tuple[str, str]] = list(inst.data["files"])
        if heredocs:
            if len(args) != 1 or not inst.data["prepend_shell"]:
                raise self.error(f"parsing produced an invalid run command: {go_list(args)}", line)
            marker = parse_heredoc(args[0])
            if marker is not None:
                hname, data = heredocs[0]
                if marker.chomp:
                    data = chomp_heredoc(data)
                if st.image.os != "windows" and data.startswith("#!"):
                    files.append(m.InlineFile(hname, data, 0o755))
                    args = [posixpath.join("/dev/pipes/", hname)]
                else:
                    args = [data]
            else:
                text = args[0]
                for hname, data in heredocs:
                    text += "\n" + data + hname
                args = [text]
        if inst.data["prepend_shell"]:
            args = self._with_shell(st, args)

        mounts = self._mounts(st, cmd)
        network = inst.flags.string("network")
        security = inst.flags.string("security")
        if self.check_entitlements:
            if network == "host" and "network.host" not in self.entitlements:
                raise self.error("network.host is not allowed", line)
            if security == "insecure" and "security.insecure" not in self.entitlements:
                raise self.error("security.insecure is not allowed", line)

        env_items = tuple(st.env.items())
        raw_lex = Lex(self.shlex.escape, raw_quotes=True, skip_unset_env=True)
        masked = st.env
        for mount in mounts:
            if mount.type == "secret" and mount.env:
                masked = masked.set(mount.env, "****")
        name = _uppercase_cmd(self._cmd_env_text(inst.code, masked, raw_lex))
        desc = self._prefix(st, name, st.platform, st.env, cmd.onbuild)
        history = "RUN " + self._run_command_string(st, args)
        proxy = tuple(self._proxy_env())
        step = m.RunStep(
            instruction=inst.code,
            line=line,
            history=history + " # buildkit",
            description=desc,
            onbuild=cmd.onbuild,
            args=tuple(args),
            env=env_items,
            user=st.user,
            workdir=st.workdir or "/",
            mounts=tuple(mounts),
            network=network,
            security=security,
            platform=str(st.platform),
            proxy_env=proxy,
            files=tuple(files),
        )
        self._commit_layer(st, step)

    def _proxy_env(self) -> list[tuple[str, str]]:
        out = []
        for key in sorted(self.build_args):
            if key.lower() in _PROXY_ARGS:
                out.append((key, self.build_args[key]))
        return out

    def _run_command_string(self, st: _State, args: list[str]) -> str:
        tmp: list[str] = []
        index: dict[str, int] = {}
        for key, value in st.build_args:
            v = st.env.get(key)
            if v is None:
                v = value or ""
            if key in index:
                tmp[index[key]] = f"{key}={v}"
            else:
                index[key] = len(tmp)
                tmp.append(f"{key}={v}")
        if tmp:
            tmp.insert(0, f"|{len(tmp)}")
        return " ".join(tmp + args)

    def _mounts(self, st: _State, cmd: _Cmd) -> list[m.Mount]:
        inst = cmd.inst
        out: list[m.Mount] = []
        for i, raw in enumerate(inst.flags.strings("mount")):
            try:
                mount = _parse_mount(raw, lambda v: self._expand(st, v, inst.line))
            except ValueError as exc:
                raise self.error(str(exc), inst.line) from None
            origin: m.Source | None = None
            if mount["type"] == "cache" and not mount["from"]:
                origin = m.Source("scratch")
            src_state = cmd.sources[i] if i < len(cmd.sources) else None
            if mount["from"] and mount["type"] not in ("tmpfs", "secret", "ssh"):
                origin = self._source_for(
                    st,
                    src_state,
                    f'cannot mount from stage "{mount["from"]}" to "{mount["target"]}", stage needs to be defined before current command',
                    inst,
                )
            elif mount["type"] == "bind":
                origin = m.Source("context")
            if not mount["from"] and mount["type"] in ("bind", "tmpfs"):
                # As BuildKit: a tmpfs mount has no "from" either, so it asks for the
                # whole context ("/" disables the context path filter).
                self.context_paths.add(posixpath.join("/", mount["source"]))
            target = mount["target"]
            mtype = mount["type"]
            mid = mount["id"]
            if mtype == "secret":
                if mount["source"]:
                    mid = mount["source"]
                if not mid:
                    if not target:
                        raise self.error("one of source, target required", inst.line)
                    mid = posixpath.basename(target)
                if not target and mount["env"] is None:
                    target = "/run/secrets/" + posixpath.basename(mid)
            elif mtype == "ssh":
                if mount["source"]:
                    raise self.error("ssh does not support source", inst.line)
                mid = mid or "default"
                if not target:
                    target = f"/run/buildkit/ssh_agent.{sum(1 for o in out if o.type == 'ssh')}"
            if mtype in ("secret", "ssh"):
                # as BuildKit's dispatchRunMounts: a relative target is below the working directory
                if target and not target.startswith("/"):
                    target = posixpath.join("/", st.workdir or "/", target)
            else:
                if mtype == "cache":
                    mid = mid or target
                if not _clean(target or ".").startswith("/"):
                    target = posixpath.join("/", st.workdir or "/", target)
                if _clean(target) == "/":
                    raise self.error(f'invalid mount target "{target}"', inst.line)
            out.append(
                m.Mount(
                    type=mtype,
                    target=target,
                    source=mount["source"],
                    origin=origin,
                    readonly=mount["readonly"],
                    id=mid,
                    sharing=mount["sharing"] or ("shared" if mtype == "cache" else ""),
                    required=mount["required"],
                    mode=mount["mode"],
                    uid=mount["uid"],
                    gid=mount["gid"],
                    size=mount["size"],
                    env=mount["env"],
                )
            )
        return out

    # -- result -------------------------------------------------------------

    def _finalize(self, target: _State) -> None:
        if self.labels:
            target.image.config.setdefault("Labels", {}).update(self.labels)
        if not self.implicit_target:
            tp = self.target_platform
            same = tp.os == target.image.os and tp.architecture == target.image.architecture
            target.image.os = tp.os
            target.image.architecture = tp.architecture
            if tp.variant or not same:
                target.image.variant = tp.variant
            if tp.os_version or not same:
                target.image.os_version = tp.os_version

    def _outline_args(self, ordered: list[_State]) -> tuple[m.ArgInfo, ...]:
        """Build arguments the target uses: global ones read by FROM lines, stage ARGs."""
        rows = self.text.split("\n")
        found: dict[str, m.ArgInfo] = {}
        for st in ordered:
            for key in st.used_meta_args:
                if key in self.meta_arg_info and key not in found:
                    line = self.meta_arg_lines[key]
                    default = self.meta_arg_info[key] or ""
                    found[key] = m.ArgInfo(key, default, _doc_comment(rows, line, key), line)
            for key, (declared, line) in st.declared_args.items():
                if key not in found:
                    found[key] = m.ArgInfo(key, declared or "", _doc_comment(rows, line, key), line)
        return tuple(sorted(found.values(), key=lambda a: (a.line, a.name)))

    def _plan(self, target: _State, reachable: set[_State]) -> m.BuildPlan:
        ordered = [st for st in self.states.states if st in reachable and not st.unregistered]
        for i, st in enumerate(ordered):
            st.plan_index = i
        stages = []
        for st in ordered:
            deps: list[int] = []
            if st.base is not None and st.base.plan_index >= 0:
                deps.append(st.base.plan_index)
            for dep in st.deps:
                if dep.plan_index >= 0 and dep.plan_index not in deps:
                    deps.append(dep.plan_index)
            base = st.plan_base or m.Base("scratch")
            if base.kind == "stage":
                base = m.Base(
                    "stage", base.name, stage=st.base.plan_index if st.base else -1, platform=base.platform
                )
            steps = tuple(st.steps)
            stages.append(
                m.Stage(
                    index=st.plan_index,
                    name=st.stage.name,
                    display_name=st.stage_name or st.stage.name,
                    base=base,
                    platform=str(st.platform or self.target_platform),
                    steps=steps,
                    image=st.image.frozen(self.created),
                    layers=tuple(st.layers),
                    deps=tuple(deps),
                )
            )
        return m.BuildPlan(
            args=self._outline_args(ordered),
            stages=tuple(_remap_sources(stages, ordered)),
            target=target.plan_index,
            platform=str(self.target_platform),
            build_args=tuple(sorted(self.build_args.items())),
            warnings=tuple(self.lint.warnings),
            syntax=self.directives.syntax,
            context_paths=tuple(sorted(self.context_paths)),
        )


def _doc_comment(rows: list[str], line: int, name: str) -> str:
    """``getComment``: a comment line right above ``line`` reading ``# <name> <text>``."""
    row = line - 2
    while row >= 0 and rows[row].lstrip().startswith("#"):
        text = rows[row].lstrip()[1:].strip()
        if name and text.startswith(name + " "):
            return text[len(name) + 1 :]
        row -= 1
    return ""


def _remap_sources(stages: list[m.Stage], ordered: list[_State]) -> list[m.Stage]:
    """Turn Dockerfile stage indexes in sources into plan indexes."""
    mapping = {st.index: st.plan_index for st in ordered}
    out = []
    for stage in stages:
        steps = []
        for step in stage.steps:
            if (
                isinstance(step, m.CopyStep)
                and step.origin.kind in ("stage", "named-context")
                and step.origin.stage >= 0
            ):
                origin = m.Source(
                    step.origin.kind,
                    step.origin.name,
                    mapping.get(step.origin.stage, -1),
                    step.origin.platform,
                )
                step = _replace(step, origin=origin)
            elif isinstance(step, m.RunStep):
                mounts = []
                for mount in step.mounts:
                    o = mount.origin
                    if o is not None and o.kind in ("stage", "named-context") and o.stage >= 0:
                        mount = _replace(
                            mount, origin=m.Source(o.kind, o.name, mapping.get(o.stage, -1), o.platform)
                        )
                    mounts.append(mount)
                step = _replace(step, mounts=tuple(mounts))
            steps.append(step)
        out.append(_replace(stage, steps=tuple(steps)))
    return out


def _replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)


def _parse_port_range(ports: str) -> tuple[int, int]:
    if ports == "":
        raise ValueError("empty string specified for ports")

    def number(text: str) -> int:
        if not re.fullmatch(r"[0-9]+", text) or int(text) > 0xFFFF:
            raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
        return int(text)

    if "-" not in ports:
        start = number(ports)
        return start, start
    parts = ports.split("-")
    if len(parts) != 2:
        raise ValueError(f"invalid port range format: {ports}")
    start, end = number(parts[0]), number(parts[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {ports}")
    return start, end


def _parse_port_spec(raw: str) -> list[str]:
    """``[ip:][hostPort:]containerPort[/proto]`` → the exposed ``port/proto`` list."""
    parts = raw.split(":")
    host_port = parts[-2] if len(parts) >= 2 else ""
    container = parts[-1]
    port, _, proto = container.partition("/")
    if port == "":
        proto, port = "", ""
    elif proto == "":
        proto = "tcp"
    proto = proto.lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError("invalid proto: " + proto)
    if port == "":
        raise ValueError(f"no port specified: {raw}<empty>")
    try:
        start, end = _parse_port_range(port)
    except ValueError:
        raise ValueError("invalid containerPort: " + port) from None
    if host_port:
        try:
            _parse_port_range(host_port)
        except ValueError:
            raise ValueError("invalid hostPort: " + host_port) from None
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def _format_target_platform(base: Platform, env: Env) -> str:
    """The ``->arch`` suffix BuildKit adds to vertex names in cross builds."""
    target: Platform | None = None
    fields: dict[str, str] = {}
    for key, value in env.items():
        if key == "TARGETPLATFORM":
            try:
                target = parse_platform(value)
                break
            except RefError:
                continue
        if key in ("TARGETOS", "TARGETARCH", "TARGETVARIANT"):
            fields[key] = value
    if target is None:
        if not fields:
            return ""
        os_name = fields.get("TARGETOS") or base.os
        arch = fields.get("TARGETARCH") or base.architecture
        target = normalize_platform(os_name, arch, fields.get("TARGETVARIANT", ""))
    if target.os == base.os and target.architecture != base.architecture:
        return "->" + target.architecture + ("/" + target.variant if target.variant else "")
    if target.os != base.os:
        return "->" + target.format_all()
    return ""


def _uppercase_cmd(text: str) -> str:
    head, sep, rest = text.partition(" ")
    return head.upper() + sep + rest


def _normalize_workdir(current: str, requested: str) -> str:
    if requested == "":
        raise DockerfileError("normalizing workdir: cannot normalize nothing")
    if not requested.startswith("/"):
        requested = posixpath.join("/", current or "/", requested)
    return posixpath.normpath(requested) if requested != "/" else "/"


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _relative_to_workdir(workdir: str, dest: str) -> str:
    orig = dest
    if dest.startswith("/"):
        new = _clean(dest)
    else:
        if dest in (".", ""):
            orig = dest = "./"
        new = _clean(posixpath.join(workdir or "/", dest))
    if orig.endswith("/") and not new.endswith("/"):
        new += "/"
    elif orig.endswith("/."):
        if new != "/":
            new += "/"
        new += "."
    return new


_SIGNALS = {
    "ABRT",
    "ALRM",
    "BUS",
    "CHLD",
    "CLD",
    "CONT",
    "FPE",
    "HUP",
    "ILL",
    "INT",
    "IO",
    "IOT",
    "KILL",
    "PIPE",
    "POLL",
    "PROF",
    "PWR",
    "QUIT",
    "SEGV",
    "STKFLT",
    "STOP",
    "SYS",
    "TERM",
    "TRAP",
    "TSTP",
    "TTIN",
    "TTOU",
    "URG",
    "USR1",
    "USR2",
    "VTALRM",
    "WINCH",
    "XCPU",
    "XFSZ",
    "UNUSED",
}


def _valid_signal(sig: str) -> bool:
    if sig.isdigit():
        return int(sig) != 0
    name = sig.upper()
    name = name.removeprefix("SIG")
    if name in _SIGNALS:
        return True
    match = re.fullmatch(r"RTM(IN|AX)([+-]\d+)?", name)
    return match is not None


_CHMOD_SYMBOLIC = re.compile(r"^([ugoa]*([+\-=]([rwxXst]*|[ugo]))+)(,[ugoa]*([+\-=]([rwxXst]*|[ugo]))+)*$")


def _validate_chmod(chmod: str, conv: _Converter, line: int) -> None:
    non_octal = f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"
    if re.fullmatch(r"[0-7]+", chmod):
        if int(chmod, 8) > 0o7777:
            raise conv.error(non_octal, line)
        return
    if re.fullmatch(r"[+-]?\d+", chmod):
        raise conv.error(non_octal, line)
    if not _CHMOD_SYMBOLIC.match(chmod):
        raise conv.error(f'invalid chmod parameter: "{chmod}"', line)


_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def _validate_digest(value: str, conv: _Converter, line: int) -> None:
    """``digest.Parse`` with go-digest's error wording."""
    algorithm, sep, encoded = value.partition(":")
    if not sep or not algorithm or not encoded:
        raise conv.error("invalid checksum digest format", line)
    if algorithm not in _DIGEST_LENGTHS:
        raise conv.error("unsupported digest algorithm", line)
    if len(encoded) != _DIGEST_LENGTHS[algorithm]:
        raise conv.error("invalid checksum digest length", line)
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise conv.error("invalid checksum digest format", line)


def _mount_fields(raw: str) -> list[tuple[str, str | None]]:
    """The comma-separated ``key=value`` fields of a ``--mount`` (CSV quoting allowed)."""
    try:
        row = next(csv.reader([raw]))
    except (StopIteration, csv.Error):
        row = []
    out: list[tuple[str, str | None]] = []
    for fld in row:
        key, sep, value = fld.partition("=")
        out.append((key.lower(), value if sep else None))
    return out


def _parse_uint(value: str, base: int, what: str) -> int:
    if not value or not re.fullmatch(r"[0-7]+" if base == 8 else r"[0-9]+", value):
        raise ValueError(f"invalid value {value} for {what}")
    number = int(value, base)
    if number >= 1 << 32:
        raise ValueError(f"invalid value {value} for {what}")
    return number


def _parse_mount(raw: str, expand: Callable[[str], str]) -> dict[str, Any]:
    """BuildKit's ``parseMount`` with an expander (values after variable expansion)."""
    mount: dict[str, Any] = {
        "type": "bind",
        "from": "",
        "source": "",
        "target": "",
        "readonly": False,
        "id": "",
        "sharing": "",
        "required": False,
        "mode": None,
        "uid": None,
        "gid": None,
        "size": 0,
        "env": None,
    }
    ro_auto = True
    for key, value in _mount_fields(raw):
        if value is None:
            if key in ("readonly", "ro"):
                mount["readonly"] = True
                ro_auto = False
                continue
            if key in ("readwrite", "rw"):
                mount["readonly"] = False
                ro_auto = False
                continue
            if key == "required":
                if mount["type"] in ("secret", "ssh"):
                    mount["required"] = True
                    continue
                raise ValueError(f"unexpected key '{key}' for mount type '{mount['type']}'")
            raise ValueError(f"invalid field '{key}' must be a key=value pair")
        value = expand(value)
        if key == "type":
            v = value.lower()
            if v not in ("bind", "cache", "tmpfs", "secret", "ssh"):
                raise ValueError(f'unsupported mount type "{value}"')
            mount["type"] = v
        elif key == "from":
            mount["from"] = value
        elif key in ("source", "src"):
            mount["source"] = value
        elif key in ("target", "dst", "destination"):
            mount["target"] = value
        elif key in ("readonly", "ro"):
            try:
                mount["readonly"] = parse_bool(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
            ro_auto = False
        elif key in ("readwrite", "rw"):
            try:
                mount["readonly"] = not parse_bool(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
            ro_auto = False
        elif key == "required":
            if mount["type"] not in ("secret", "ssh"):
                raise ValueError(f"unexpected key '{key}' for mount type '{mount['type']}'")
            try:
                mount["required"] = parse_bool(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        elif key == "size":
            if mount["type"] != "tmpfs":
                raise ValueError(f"unexpected key '{key}' for mount type '{mount['type']}'")
            try:
                mount["size"] = ram_in_bytes(value)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {value}") from None
        elif key == "id":
            mount["id"] = value
        elif key == "sharing":
            v = value.lower()
            if v not in ("shared", "private", "locked"):
                raise ValueError(f'unsupported sharing value "{value}"')
            mount["sharing"] = v
        elif key == "mode":
            mount["mode"] = _parse_uint(value, 8, "mode")
        elif key == "uid":
            mount["uid"] = _parse_uint(value, 10, "uid")
        elif key == "gid":
            mount["gid"] = _parse_uint(value, 10, "gid")
        elif key == "env":
            mount["env"] = value
        else:
            raise ValueError(f"unexpected key '{key}' in '{key}={value}'")
    if mount["type"] not in ("secret", "ssh", "cache"):
        for what in ("mode", "uid", "gid"):
            if mount[what] is not None:
                raise ValueError(f'{what} not allowed for "{mount["type"]}" type mounts')
    if ro_auto:
        mount["readonly"] = mount["type"] not in ("cache", "tmpfs")
    if mount["type"] == "secret":
        if mount["from"]:
            raise ValueError("secret mount should not have a from")
        if mount["sharing"]:
            raise ValueError("secret mount should not define sharing")
        if not mount["source"] and not mount["target"] and not mount["id"]:
            raise ValueError("invalid secret mount. one of source, target required")
        if mount["source"] and mount["id"]:
            raise ValueError("both source and id can't be set")
    if mount["sharing"] and mount["type"] != "cache":
        raise ValueError(f"invalid cache sharing set for {mount['type']} mount")
    return mount
