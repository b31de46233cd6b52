"""Dockerfile syntax: directives, the official parser, heredoc markers and flags.

Parsing itself is delegated to the ``dockerfile`` package (BuildKit's Go parser).
That parser predates the ``check`` directive, which ends its directive block
early and so hides an ``# escape=`` written after it; :func:`parse` therefore
reads the directive block itself with BuildKit's current rules and hands the
package a text whose directive lines are blanked, with ``# escape=`` (when
given) moved to line 1. Line numbers are unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dockerfile as _df  # type: ignore[import-not-found]  # C extension without stubs
from bakec.dockerfile._suggest import suggest
from bakec.dockerfile.errors import DockerfileError
from bakec.dockerfile.lexer import Env, Lex, LexError

__all__ = ["Directives", "Flags", "Heredoc", "Node", "parse", "parse_heredoc"]

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")


@dataclass(frozen=True)
class Directives:
    escape: str = "\\"
    syntax: str = ""
    check: str = ""
    lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class Node:
    """One instruction as the Go parser returns it."""

    cmd: str
    sub_cmd: str | None
    json: bool
    original: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    heredocs: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.cmd.lower()


@dataclass(frozen=True)
class Heredoc:
    name: str
    expand: bool
    chomp: bool


@dataclass
class ParseResult:
    directives: Directives
    nodes: list[Node] = field(default_factory=list)


def read_directives(text: str) -> Directives:
    """BuildKit's directive block: ``# key=value`` lines at the very top."""
    values: dict[str, str] = {}
    lines: list[int] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        line = line.lstrip(" \t")
        match = _DIRECTIVE.match(line)
        if not match:
            break
        key = match.group(1).lower()
        if key not in _KNOWN_DIRECTIVES:
            break
        if key in values:
            raise DockerfileError(f"only one {key} parser directive can be used", line=number)
        values[key] = match.group(2)
        lines.append(number)
    escape = values.get("escape", "\\")
    if escape not in ("`", "\\"):
        raise DockerfileError(f"invalid escape token '{escape}' does not match ` or \\")
    return Directives(
        escape=escape, syntax=values.get("syntax", ""), check=values.get("check", ""), lines=tuple(lines)
    )


def parse(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse a Dockerfile into directive values and instruction nodes."""
    if text.strip() == "":
        raise DockerfileError("the Dockerfile cannot be empty", filename=filename)
    directives = read_directives(text)
    rows = text.split("\n")
    for number in directives.lines:
        rows[number - 1] = "#"
    if rows[0].lstrip("\ufeff \t").startswith("#"):
        # The old parser must not read a directive the current rules reject.
        rows[0] = "#"
    if directives.escape != "\\":
        rows[0] = f"# escape={directives.escape}"
    source = "\n".join(rows)
    try:
        commands = _df.parse_string(source)
    except _df.GoParseError as exc:
        line = _locate_parse_error(source)
        raise DockerfileError(
            f"dockerfile parse error on line {line}: {exc}" if line else str(exc),
            filename=filename,
            line=line,
        ) from None
    rows = text.split("\n")
    nodes = [
        Node(
            cmd=c.cmd,
            sub_cmd=c.sub_cmd,
            json=c.json,
            original=c.original.split("\n", 1)[0] if c.heredocs else c.original,
            start_line=c.start_line,
            end_line=c.end_line,
            flags=tuple(c.flags),
            value=tuple(c.value),
            heredocs=tuple((h.name, h.content) for h in c.heredocs),
        )
        for c in commands
        # A lone continuation at the very end yields an empty node: nothing to run.
        if c.cmd is not None
    ]
    return ParseResult(directives, [_onbuild_heredocs(node, rows) for node in nodes])


def _onbuild_heredocs(node: Node, rows: list[str]) -> Node:
    """Re-attach heredoc bodies the bundled parser drops for ONBUILD triggers.

    BuildKit appends each body and its terminator to the trigger expression,
    so the raw lines after the first one are exactly that text.
    """
    if node.cmd.lower() != "onbuild" or node.end_line <= node.start_line:
        return node
    if not any(parse_heredoc(word) for word in node.original.split()):
        return node
    body = "\n".join(row.rstrip("\r") for row in rows[node.start_line : node.end_line])
    return Node(
        node.cmd,
        node.sub_cmd,
        node.json,
        node.original + "\n" + body,
        node.start_line,
        node.end_line,
        node.flags,
        node.value,
        node.heredocs,
    )


def _locate_parse_error(source: str) -> int:
    """The first line whose inclusion makes the Go parser fail (it reports none)."""
    rows = source.split("\n")
    for end in range(1, len(rows) + 1):
        try:
            _df.parse_string("\n".join(rows[:end]) + "\n")
        except _df.GoParseError as exc:
            if "unterminated heredoc" in str(exc):
                continue
            return end
    return 0


def parse_heredoc(word: str) -> Heredoc | None:
    """BuildKit's ``ParseHeredoc``: ``<<EOF``, ``<<-EOF``, ``<<"EOF"`` ... or None."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    try:
        words = Lex("\\", skip_unset_env=True).process_words(rest, Env())
        raw = Lex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, Env())
    except LexError:
        return None
    if len(words) != 1 or len(raw) != 1:
        return None
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=name, expand=quotes == raw_quotes, chomp=match.group(2) == "-")


def chomp_heredoc(content: str) -> str:
    return re.sub(r"(?m)^\t+", "", content)


class Flags:
    """BuildKit's ``BFlags``: ``--name=value`` / ``--name`` parsing with its errors."""

    def __init__(self, args: tuple[str, ...]) -> None:
        self.args = args
        self._kinds: dict[str, tuple[str, object]] = {}
        self.values: dict[str, object] = {}
        self.used: set[str] = set()

    def add_string(self, name: str, default: str = "") -> None:
        self._kinds[name] = ("string", default)

    def add_bool(self, name: str, default: bool = False) -> None:
        self._kinds[name] = ("bool", default)

    def add_strings(self, name: str) -> None:
        self._kinds[name] = ("strings", ())

    def parse(self) -> None:
        for name, (_, default) in self._kinds.items():
            self.values[name] = default
        for arg in self.args:
            if not arg.startswith("--"):
                raise ValueError(f"arg should start with -- : {arg}")
            if arg == "--":
                return
            body = arg[2:]
            name, has_value, value = body.partition("=")
            flag = "--" + name  # BuildKit names the flag as written, dashes included
            if name not in self._kinds:
                hint = suggest(name, list(self._kinds), True)
                raise ValueError(f"unknown flag: {flag}" + (f" (did you mean {hint}?)" if hint else ""))
            kind = self._kinds[name][0]
            if name in self.used and kind != "strings":
                raise ValueError(f"duplicate flag specified: {flag}")
            self.used.add(name)
            if kind == "bool":
                if has_value and value == "":
                    raise ValueError(f"missing a value on flag: {flag}")
                if has_value:
                    low = value.lower()
                    if low == "true":
                        self.values[name] = True
                    elif low == "false":
                        self.values[name] = False
                    else:
                        raise ValueError(f"expecting boolean value for flag {flag}, not: {value}")
                else:
                    self.values[name] = True
            elif kind == "strings":
                if not has_value:
                    raise ValueError(f"missing a value on flag: {flag}")
                self.values[name] = (*self.values[name], value)  # type: ignore[misc]
            else:
                if not has_value:
                    raise ValueError(f"missing a value on flag: {flag}")
                self.values[name] = value

    def string(self, name: str) -> str:
        return str(self.values.get(name, ""))

    def boolean(self, name: str) -> bool:
        return bool(self.values.get(name, False))

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(self.values.get(name, ()))  # type: ignore[arg-type]
