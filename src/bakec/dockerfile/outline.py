"""``--call outline``: the build args, secrets and ssh sockets a target's stage chain uses.

As BuildKit's ``dockerfile2llb`` outline capture: a stage uses the ARGs it declares and the meta
ARGs its ``FROM`` line names (with the meta ARGs their defaults name), and inherits what its base
stage and the stages it copies or mounts from use; secrets and ssh come from ``RUN --mount``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from bakec.dockerfile.convert import _parse_mount
from bakec.dockerfile.errors import DockerfileError
from bakec.dockerfile.instructions import Instruction, StageDef, parse_instructions
from bakec.dockerfile.lexer import Env, Lex, LexError
from bakec.dockerfile.parser import parse


@dataclass(frozen=True)
class OutlineArg:
    name: str
    value: str
    description: str
    line: int


@dataclass(frozen=True)
class OutlineMount:
    """A secret or ssh socket a ``RUN --mount`` asks for."""

    name: str
    required: bool
    line: int


@dataclass(frozen=True)
class Outline:
    """What BuildKit's ``frontend.outline`` subrequest answers for one target stage."""

    name: str
    description: str
    args: tuple[OutlineArg, ...]
    secrets: tuple[OutlineMount, ...]
    ssh: tuple[OutlineMount, ...]


@dataclass
class _ArgInfo:
    value: str
    description: str
    line: int
    deps: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Stage:
    stage: StageDef
    all_args: dict[str, _ArgInfo]
    used: set[str]
    env: Env
    base: _Stage | None = None
    deps: list[_Stage] = field(default_factory=list)
    secrets: dict[str, OutlineMount] = field(default_factory=dict)
    ssh: dict[str, OutlineMount] = field(default_factory=dict)


def outline(
    dockerfile_text: str,
    *,
    build_args: Mapping[str, str] | None = None,
    target: str = "",
    filename: str = "Dockerfile",
) -> Outline:
    """The outline of ``target`` (the last stage when empty), as ``--call outline`` prints it."""
    build_args = dict(build_args or {})
    parsed = parse(dockerfile_text, filename)
    stages, meta_args = parse_instructions(parsed.nodes, None, filename)
    if not stages:
        raise DockerfileError("dockerfile contains no stages to build", filename=filename)
    rows = dockerfile_text.split("\n")
    comments = _Comments(rows, set(parsed.directives.lines))
    lex = Lex(parsed.directives.escape)

    def expand(word: str, env: Env, line: int):
        try:
            return lex.process(word, env)
        except LexError as exc:
            raise DockerfileError(str(exc), filename=filename, line=line) from None

    global_env, global_args = Env(), dict[str, _ArgInfo]()
    for inst in meta_args:
        for key, value in inst.data["pairs"]:
            info = _ArgInfo("", comments.doc(inst.line, key), inst.line)
            if key in build_args:
                info.value = build_args[key]
            elif value is not None:
                res = expand(value, global_env, inst.line)
                info.value, info.deps = res.result, set(res.matched) - {key}
                if key in res.matched and key in global_args:
                    info.deps |= global_args[key].deps
            if key in build_args or value is not None:
                global_env = global_env.set(key, info.value)
            global_args[key] = info

    by_name: dict[str, _Stage] = {}
    states: list[_Stage] = []
    for st in stages:  # every stage first: a stage starts from its base's outline before dispatch
        used = set(expand(st.base_name, global_env, st.line).matched)
        if st.platform:
            used |= expand(st.platform, global_env, st.line).matched
        base = by_name.get(expand(st.base_name, global_env, st.line).result.lower())
        if base is not None:
            ds = _Stage(st, dict(base.all_args), set(base.used) | used, Env(), base)
        else:
            ds = _Stage(st, dict(global_args), used, Env())
        states.append(ds)
        if st.name:
            by_name[st.name.lower()] = ds
    for ds in states:
        if ds.base is not None:
            ds.env = ds.base.env
        for inst in ds.stage.commands:
            _dispatch(ds, inst, build_args, global_env, by_name, comments, expand, filename)

    wanted: _Stage | None = by_name.get(target.lower()) if target else states[-1]
    if wanted is None:
        raise DockerfileError(f'target stage "{target}" could not be found', filename=filename)
    return Outline(
        name=wanted.stage.name,
        description=comments.doc(wanted.stage.line, wanted.stage.name),
        args=tuple(sorted(_args(wanted, set()), key=lambda a: a.line)),
        secrets=tuple(sorted(_mounts(wanted, "secrets", set()), key=lambda s: s.line)),
        ssh=tuple(sorted(_mounts(wanted, "ssh", set()), key=lambda s: s.line)),
    )


def _dispatch(ds, inst: Instruction, build_args, global_env, by_name, comments, expand, filename) -> None:
    """Record what one instruction of a stage adds to its outline."""
    if inst.name == "arg":
        for key, value in inst.data["pairs"]:
            from_global = value is None and key not in build_args and global_env.get(key) is not None
            if key in build_args:
                value = build_args[key]
            elif value is not None:
                value = expand(value, ds.env, inst.line).result
            elif from_global:
                value = global_env.get(key)
            if value is not None:
                ds.env = ds.env.set(key, value)
            if not from_global:
                ds.all_args[key] = _ArgInfo(value or "", comments.doc(inst.line, key), inst.line)
            ds.used.add(key)
    elif inst.name == "env":
        for key, value in inst.data["pairs"]:
            ds.env = ds.env.set(key, expand(value, ds.env, inst.line).result)
    elif inst.name == "copy" and inst.flags.string("from"):
        _add_dep(ds, by_name, expand(inst.flags.string("from"), ds.env, inst.line).result)
    elif inst.name == "run":
        for raw in inst.flags.strings("mount"):
            try:
                mount = _parse_mount(raw, lambda v: expand(v, ds.env, inst.line).result)
            except ValueError as exc:
                raise DockerfileError(str(exc), filename=filename, line=inst.line) from None
            if mount["type"] == "secret":
                mid = mount["source"] or mount["id"] or posixpath.basename(mount["target"])
                ds.secrets.setdefault(mid, OutlineMount(mid, mount["required"], inst.line))
            elif mount["type"] == "ssh":
                mid = mount["id"] or "default"
                ds.ssh.setdefault(mid, OutlineMount(mid, mount["required"], inst.line))
            elif mount["from"]:
                _add_dep(ds, by_name, mount["from"])


def _add_dep(ds: _Stage, by_name: dict[str, _Stage], name: str) -> None:
    found = by_name.get(name.lower())
    if found is not None and found is not ds and found not in ds.deps:
        ds.deps.append(found)


def _mark_all_used(ds: _Stage, keys: set[str], visited: set[str]) -> None:
    """An ARG whose default names other meta ARGs uses them too (BuildKit's ``markAllUsed``)."""
    for key in list(keys):
        if key in visited:
            continue
        visited.add(key)
        if key in ds.all_args:
            _mark_all_used(ds, ds.all_args[key].deps, visited)
        ds.used.add(key)


def _args(ds: _Stage, visited: set[str]) -> list[OutlineArg]:
    _mark_all_used(ds, set(ds.used), set())
    out = []
    for key in sorted(ds.used):
        info = ds.all_args.get(key)
        if info is not None and key not in visited:
            out.append(OutlineArg(key, info.value, info.description, info.line))
            visited.add(key)
    for other in ([ds.base] if ds.base else []) + ds.deps:
        out.extend(_args(other, visited))
    return out


def _mounts(ds: _Stage, kind: str, visited: set[str]) -> list[OutlineMount]:
    out = []
    for key, mount in getattr(ds, kind).items():
        if key not in visited:
            out.append(mount)
            visited.add(key)
    for other in ([ds.base] if ds.base else []) + ds.deps:
        out.extend(_mounts(other, kind, visited))
    return out


class _Comments:
    """The ``# ...`` lines right above an instruction (directives excluded), as the parser keeps them."""

    def __init__(self, rows: list[str], directive_lines: set[int]) -> None:
        self.rows = rows
        self.directive_lines = directive_lines

    def doc(self, line: int, name: str) -> str:
        """The description a ``# NAME description`` comment above ``line`` gives ``name``."""
        if not name:
            return ""
        comments: list[str] = []
        row = line - 2
        while row >= 0 and self.rows[row].lstrip().startswith("#") and row + 1 not in self.directive_lines:
            comments.insert(0, self.rows[row].lstrip()[1:].strip())
            row -= 1
        for comment in comments:
            if comment.startswith(name + " "):
                return comment[len(name) + 1 :]
        return ""
