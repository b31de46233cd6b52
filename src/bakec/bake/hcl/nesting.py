"""Reject HCL and JSON text that nests deeper than bakec accepts, at the exact position.

The parser, the AST builder and the evaluator recurse per nesting level, so the
depth is checked first, with a scan that only tracks openers and closers
(brackets, parentheses, braces, quoted strings, heredocs, ``${``/``%{`` template
sequences, comments). Mismatched closers are left to the parser to report.
"""

from __future__ import annotations

import re

from bakec.errors import DiagnosticError, Pos, Range
from bakec.util.deep import MAX_NESTING

# What matters in each context; everything between matches is skipped in one step.
_CODE = re.compile(r'[()\[\]{}"#\n]|//|/\*|<<-?[A-Za-z_][\w-]*\r?\n')
_STRING = re.compile(r'\\.|\$\$\{|%%\{|[$%]\{|"|\n', re.S)
_HEREDOC = re.compile(r"\$\$\{|%%\{|[$%]\{|\n")
# Possessive, so a long string is one step, with no backtracking record per character.
_JSON = re.compile(r'[\[{\]}]|"(?:[^"\\]++|\\.)*+"', re.S)


def check_hcl_nesting(text: str, filename: str) -> None:
    """Raise a positioned "Nesting too deep" error if ``text`` nests past :data:`MAX_NESTING`.

    A level is a bracket, parenthesis, brace, ``${``/``%{`` sequence or heredoc; a quoted
    string is not one of its own, as it nests only through the ``${`` inside it.
    """
    stack: list[str] = []  # "c" code, "s" quoted template, "h" + a heredoc's marker
    quoted = 0  # how many "s" entries the stack holds
    pos = 0
    while True:
        context = stack[-1] if stack else "c"
        pattern = _CODE if context == "c" else _STRING if context == "s" else _HEREDOC
        match = pattern.search(text, pos)
        if match is None:
            return
        token = match.group()
        pos = match.end()
        if context == "c":
            if token in ("(", "[", "{"):
                stack.append("c")
            elif token in (")", "]", "}") and stack:
                stack.pop()
            elif token == '"':
                stack.append("s")
                quoted += 1
            elif token in ("#", "//"):
                end = text.find("\n", pos)
                pos = len(text) if end < 0 else end
            elif token == "/*":
                end = text.find("*/", pos)
                pos = len(text) if end < 0 else end + 2
            elif token.startswith("<<"):
                stack.append("h" + token.lstrip("<-").strip())
                pos = _heredoc_line(text, pos, stack)
        elif token in ("${", "%{"):
            stack.append("c")
        elif token == '"' and context == "s":
            stack.pop()
            quoted -= 1
        elif token == "\n" and context != "s":
            pos = _heredoc_line(text, pos, stack)
        if len(stack) - quoted > MAX_NESTING:
            raise _too_deep(text, match.start(), len(token), filename)


def _heredoc_line(text: str, pos: int, stack: list[str]) -> int:
    """At a heredoc line's start: past the line if it closes the heredoc (popped), else ``pos``."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    if text[pos:end].strip() == stack[-1][1:]:
        stack.pop()
        return end
    return pos


def check_json_nesting(text: str, filename: str) -> None:
    """Raise a positioned "Nesting too deep" error if JSON ``text`` nests past :data:`MAX_NESTING`."""
    depth = 0
    for match in _JSON.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(text, match.start(), 1, filename)
        elif token in "]}":
            depth -= 1


def _too_deep(text: str, offset: int, length: int, filename: str) -> DiagnosticError:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return DiagnosticError(
        "Nesting too deep",
        f"Expressions may nest at most {MAX_NESTING} levels deep.",
        Range(filename, Pos(line, column), Pos(line, column + length)),
    )
