"""The CLI reference (docs/cli.md), generated from the argparse definitions by ``scripts/gen-cli-docs``."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

_WIDTH = 100  # fixed, so the text does not depend on the terminal it is generated in


def render_markdown(parser: argparse.ArgumentParser) -> str:
    """docs/cli.md: the usage, arguments and flags of ``bakec`` and of every subcommand."""
    lines = [
        "# bakec command reference",
        "",
        "<!-- Generated from src/bakec/cli/main.py by scripts/gen-cli-docs; do not edit by hand. -->",
        "",
        *_section(parser, parser.description or ""),
    ]
    for name, help_text, sub in subcommands(parser):
        lines += ["", *_section(sub, help_text, name)]
    return "\n".join(lines) + "\n"


def subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, help, parser)`` of every listed subcommand, in definition order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield choice.dest, choice.help or "", action.choices[choice.dest]


def _section(parser: argparse.ArgumentParser, summary: str, name: str = "") -> list[str]:
    formatter = argparse.HelpFormatter(parser.prog, width=_WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    usage = formatter.format_help().strip()
    title = f"bakec {name}" if name else "bakec"
    sentence = summary[:1].upper() + summary[1:].rstrip(".") + "."
    out = [f"## {title}", "", sentence, "", "```", usage, "```"]
    rows = [_row(parser.prog, a) for a in parser._actions if not isinstance(a, argparse._SubParsersAction)]
    if rows:
        out += ["", "| argument | default | description |", "|---|---|---|", *rows]
    return out


def _row(prog: str, action: argparse.Action) -> str:
    formatter = argparse.HelpFormatter(prog, width=_WIDTH)
    invocation = formatter._format_action_invocation(action)
    default = action.default
    shown = "" if default in (None, False, [], "", argparse.SUPPRESS) else f"`{default}`"
    text = (action.help or "") % {"default": default, "prog": prog} if action.help else ""
    if action.choices and not all(str(c) in text for c in action.choices):
        text += f" (one of: {', '.join(map(str, action.choices))})"
    return f"| `{invocation}` | {shown} | {_cell(text)} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
