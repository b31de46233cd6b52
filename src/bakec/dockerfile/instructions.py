"""Typed instructions from parser nodes (BuildKit's ``instructions.Parse``).

Each instruction keeps its raw words; variable expansion happens later, at
dispatch time, against the stage's environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bakec.dockerfile._gofmt import parse_duration
from bakec.dockerfile._suggest import suggest
from bakec.dockerfile.errors import DockerfileError
from bakec.dockerfile.lint import Linter
from bakec.dockerfile.parser import Flags, Node, chomp_heredoc, parse_heredoc

__all__ = ["Instruction", "StageDef", "parse_instruction", "parse_instructions", "suggest"]

INSTRUCTIONS = (
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")


@dataclass
class Instruction:
    name: str  # lower-case instruction
    cmd: str  # as written (for casing checks)
    node: Node
    args: list[str]
    json: bool
    flags: Flags
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.node.start_line

    @property
    def end_line(self) -> int:
        return self.node.end_line

    @property
    def code(self) -> str:
        return self.node.original.strip()


@dataclass
class StageDef:
    base_name: str
    name: str
    cmd: str
    platform: str
    line: int
    end_line: int
    source_code: str
    commands: list[Instruction] = field(default_factory=list)


def _error(node: Node, message: str, filename: str) -> DockerfileError:
    return DockerfileError(
        f"dockerfile parse error on line {node.start_line}: {message}",
        filename=filename,
        line=node.start_line,
        end_line=node.end_line,
    )


def _json_args(node: Node) -> list[str]:
    if not node.value:
        return []
    if node.json:
        return list(node.value)
    return [" ".join(node.value)]


def parse_instruction(
    node: Node, lint: Linter | None, filename: str = "Dockerfile"
) -> Instruction | StageDef:
    name = node.cmd.lower()
    args = list(node.value)
    flags = Flags(node.flags)
    inst = Instruction(name=name, cmd=node.cmd, node=node, args=args, json=node.json, flags=flags)
    try:
        if name == "from":
            return _parse_from(node, args, flags, lint)
        if name not in INSTRUCTIONS:
            message = f"unknown instruction: {node.cmd.upper()}"
            hint = suggest(node.cmd, list(INSTRUCTIONS), case_sensitive=False)
            if hint:
                message += f" (did you mean {hint}?)"
            raise ValueError(message)
        _PARSERS[name](inst)
    except ValueError as exc:
        raise _error(node, str(exc), filename) from None
    return inst


def _parse_from(node: Node, args: list[str], flags: Flags, lint: Linter | None) -> StageDef:
    if lint is not None and len(args) == 3:
        if args[2].lower() != args[2]:
            lint.run("StageNameCasing", node.start_line, f"Stage name '{args[2]}' should be lowercase")
        cmd = node.cmd
        lower, upper = cmd.lower() == cmd, cmd.upper() == cmd
        if lower or upper:
            ok = args[1].lower() == args[1] if lower else args[1].upper() == args[1]
            if not ok:
                lint.run(
                    "FromAsCasing", node.start_line, f"'{args[1]}' and '{cmd}' keywords' casing do not match"
                )
    stage_name = ""
    if len(args) == 3 and args[1].lower() == "as":
        stage_name = args[2].lower()
        if not _STAGE_NAME.match(stage_name):
            raise ValueError(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number or contain symbols'
            )
    elif len(args) != 1:
        raise ValueError("FROM requires either one or three arguments")
    flags.add_string("platform")
    flags.parse()
    return StageDef(
        base_name=args[0],
        name=stage_name,
        cmd=node.cmd,
        platform=flags.string("platform"),
        line=node.start_line,
        end_line=node.end_line,
        source_code=node.original.strip(),
    )


def _kvps(inst: Instruction, what: str) -> None:
    inst.flags.parse()
    args = inst.args
    if not args:
        raise ValueError(f"{what} requires at least one argument")
    if len(args) % 2:
        raise ValueError(f"Bad input to {what}, too many arguments")
    pairs = []
    for i in range(0, len(args), 2):
        if not args[i]:
            raise ValueError(f"{what} names can not be blank")
        pairs.append((args[i], args[i + 1]))
    rest = inst.code[len(inst.cmd) :].lstrip()
    legacy = len(pairs) == 1 and rest.startswith(pairs[0][0]) and rest[len(pairs[0][0]) :][:1] in (" ", "\t")
    inst.data["pairs"] = pairs
    inst.data["legacy"] = legacy


def _parse_env(inst: Instruction) -> None:
    _kvps(inst, "ENV")


def _parse_label(inst: Instruction) -> None:
    _kvps(inst, "LABEL")


def _parse_maintainer(inst: Instruction) -> None:
    if len(inst.args) != 1:
        raise ValueError("MAINTAINER requires exactly one argument")
    inst.flags.parse()


def _sources_and_dest(inst: Instruction, what: str) -> None:
    args = inst.args
    srcs, dest = args[:-1], args[-1]
    if parse_heredoc(dest) is not None:
        raise ValueError(f"{what} cannot accept a heredoc as a destination")
    bodies = dict(inst.node.heredocs)
    paths: list[str] = []
    contents: list[tuple[str, str, bool]] = []
    for src in srcs:
        heredoc = parse_heredoc(src) if not inst.json else None
        if heredoc is not None:
            data = bodies.get(heredoc.name, "")
            if heredoc.chomp:
                data = chomp_heredoc(data)
            contents.append((heredoc.name, data, heredoc.expand))
        else:
            paths.append(src)
    inst.data["sources"] = paths
    inst.data["contents"] = contents
    inst.data["dest"] = dest


def _parse_add(inst: Instruction) -> None:
    if len(inst.args) < 2:
        raise ValueError(
            "ADD requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    f = inst.flags
    f.add_strings("exclude")
    f.add_string("chown")
    f.add_string("chmod")
    f.add_bool("link")
    f.add_bool("keep-git-dir")
    f.add_string("checksum")
    f.add_bool("unpack")
    f.parse()
    _sources_and_dest(inst, "ADD")


def _parse_copy(inst: Instruction) -> None:
    if len(inst.args) < 2:
        raise ValueError(
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    f = inst.flags
    f.add_strings("exclude")
    f.add_bool("parents")
    f.add_string("chown")
    f.add_string("from")
    f.add_string("chmod")
    f.add_bool("link")
    f.parse()
    _sources_and_dest(inst, "COPY")


def _parse_onbuild(inst: Instruction) -> None:
    node = inst.node
    if not node.sub_cmd:
        raise ValueError("ONBUILD requires at least one argument")
    inst.flags.parse()
    trigger = node.sub_cmd.strip().upper()
    if trigger == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise ValueError(f"{trigger} isn't allowed as an ONBUILD trigger")
    inst.data["expression"] = _ONBUILD_PREFIX.sub("", node.original, count=1)


def _parse_workdir(inst: Instruction) -> None:
    if len(inst.args) != 1:
        raise ValueError("WORKDIR requires exactly one argument")
    inst.flags.parse()


def _shell_dependent(inst: Instruction, empty_as_nil: bool) -> None:
    args = _json_args(inst.node)
    inst.data["cmdline"] = None if (empty_as_nil and not args) else args
    inst.data["prepend_shell"] = not inst.json
    inst.data["files"] = list(inst.node.heredocs)


def _parse_run(inst: Instruction) -> None:
    f = inst.flags
    f.add_strings("mount")
    f.add_string("network", "default")
    f.add_string("security", "sandbox")
    f.parse()
    network = f.string("network")
    if network not in ("default", "none", "host"):
        raise ValueError(f'unsupported network mode "{network}"')
    security = f.string("security")
    if security not in ("sandbox", "insecure"):
        raise ValueError(f'unsupported security mode "{security}"')
    _shell_dependent(inst, False)


def _parse_cmd(inst: Instruction) -> None:
    inst.flags.parse()
    _shell_dependent(inst, False)


def _parse_entrypoint(inst: Instruction) -> None:
    inst.flags.parse()
    _shell_dependent(inst, True)


def _interval(flags: Flags, name: str) -> int:
    value = flags.string(name)
    if not value:
        return 0
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if duration == 0:
        return 0
    if duration < 1_000_000:
        raise ValueError(f'Interval "{name}" cannot be less than 1ms')
    return duration


def _parse_healthcheck(inst: Instruction) -> None:
    args = inst.args
    if not args:
        raise ValueError("HEALTHCHECK requires at least one argument")
    typ = args[0].upper()
    rest = args[1:]
    if typ == "NONE":
        if rest:
            raise ValueError("HEALTHCHECK NONE takes no arguments")
        inst.flags.parse()
        inst.data["health"] = {
            "Test": ["NONE"],
            "Interval": 0,
            "Timeout": 0,
            "StartPeriod": 0,
            "StartInterval": 0,
            "Retries": 0,
        }
        return
    f = inst.flags
    for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
        f.add_string(name)
    f.parse()
    if typ != "CMD":
        raise ValueError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)')
    node = inst.node
    if node.json:
        cmd = list(node.value[1:])
    else:
        text = node.value[1] if len(node.value) > 1 else ""
        cmd = [text] if text else []
    if not cmd:
        raise ValueError("Missing command after HEALTHCHECK CMD")
    test = ["CMD" if node.json else "CMD-SHELL", *cmd]
    retries = 0
    if f.string("retries"):
        try:
            retries = int(f.string("retries"), 10)
        except ValueError:
            raise ValueError(f'strconv.ParseInt: parsing "{f.string("retries")}": invalid syntax') from None
        if retries < 0:
            raise ValueError(f"--retries cannot be negative ({retries})")
    inst.data["health"] = {
        "Test": test,
        "Interval": _interval(f, "interval"),
        "Timeout": _interval(f, "timeout"),
        "StartPeriod": _interval(f, "start-period"),
        "StartInterval": _interval(f, "start-interval"),
        "Retries": retries,
    }


def _parse_expose(inst: Instruction) -> None:
    if not inst.args:
        raise ValueError("EXPOSE requires at least one argument")
    inst.flags.parse()


def _parse_user(inst: Instruction) -> None:
    if len(inst.args) != 1:
        raise ValueError("USER requires exactly one argument")
    inst.flags.parse()


def _parse_volume(inst: Instruction) -> None:
    if not inst.args:
        raise ValueError("VOLUME requires at least one argument")
    inst.flags.parse()
    volumes = []
    for v in inst.args:
        v = v.strip()
        if not v:
            raise ValueError("VOLUME specified can not be an empty string")
        volumes.append(v)
    inst.data["volumes"] = volumes


def _parse_stopsignal(inst: Instruction) -> None:
    if len(inst.args) != 1:
        raise ValueError("STOPSIGNAL requires exactly one argument")
    inst.flags.parse()


def _parse_arg(inst: Instruction) -> None:
    if not inst.args:
        raise ValueError("ARG requires at least one argument")
    inst.flags.add_bool("required")
    inst.flags.parse()
    pairs: list[tuple[str, str | None]] = []
    for arg in inst.args:
        if "=" in arg:
            key, _, value = arg.partition("=")
            if not key:
                raise ValueError("ARG names can not be blank")
            pairs.append((key, value))
        else:
            pairs.append((arg, None))
    inst.data["pairs"] = pairs


def _parse_shell(inst: Instruction) -> None:
    inst.flags.parse()
    args = _json_args(inst.node)
    if not args:
        raise ValueError("SHELL requires at least one argument")
    if not inst.json:
        raise ValueError(f"SHELL requires the arguments to be in JSON form: {inst.code}")
    inst.data["shell"] = args


_PARSERS = {
    "add": _parse_add,
    "arg": _parse_arg,
    "cmd": _parse_cmd,
    "copy": _parse_copy,
    "entrypoint": _parse_entrypoint,
    "env": _parse_env,
    "expose": _parse_expose,
    "healthcheck": _parse_healthcheck,
    "label": _parse_label,
    "maintainer": _parse_maintainer,
    "onbuild": _parse_onbuild,
    "run": _parse_run,
    "shell": _parse_shell,
    "stopsignal": _parse_stopsignal,
    "user": _parse_user,
    "volume": _parse_volume,
    "workdir": _parse_workdir,
}


def parse_instructions(
    nodes: list[Node], lint: Linter | None, filename: str = "Dockerfile"
) -> tuple[list[StageDef], list[Instruction]]:
    """Split nodes into stages and the meta ARGs before the first FROM."""
    stages: list[StageDef] = []
    meta_args: list[Instruction] = []
    for node in nodes:
        parsed = parse_instruction(node, lint, filename)
        if isinstance(parsed, StageDef):
            stages.append(parsed)
            continue
        if not stages:
            if parsed.name == "arg":
                meta_args.append(parsed)
                continue
            raise DockerfileError(
                "no build stage in current context", filename=filename, line=node.start_line
            )
        stages[-1].commands.append(parsed)
    return stages, meta_args
