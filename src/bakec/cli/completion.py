"""Shell completion: ``bakec completion bash|zsh|fish`` and the hidden ``bakec __complete``.

The scripts are thin: on every TAB they call ``bakec __complete WORD...`` (the words after
``bakec`` up to the cursor, the one being typed last), which answers from the argparse
definitions themselves -- subcommands, flags, a flag's choices, files for ``-f`` -- and, for
a TARGET, the target and group names of the bake files the command line names (read through
the normal loader, so the parse cache makes it quick). One answer per line, already filtered
by the word being typed; nothing on stderr, whatever the command line holds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence

from bakec.errors import BakecError

_BASH = """\
# bash completion for bakec: source <(bakec completion bash)
_bakec() {
    local IFS=$'\\n'
    COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -o nosort -F _bakec bakec 2>/dev/null || complete -o default -F _bakec bakec
"""

_ZSH = """\
#compdef bakec
# zsh completion for bakec: source <(bakec completion zsh) (after compinit)
_bakec() {
    local -a candidates
    candidates=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    candidates=(${candidates:#})
    (( ${#candidates} )) && compadd -Q -S '' -- "${(@)candidates}"
}
compdef _bakec bakec
"""

_FISH = """\
# fish completion for bakec: bakec completion fish | source
function __bakec_complete
    set -l tokens (commandline -opc) (commandline -ct)
    $tokens[1] __complete $tokens[2..-1] 2>/dev/null
end
complete -c bakec -f -a '(__bakec_complete)'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}

# positionals whose values are bake targets
_TARGET_DESTS = ("targets",)


def run_completion(args, parser: argparse.ArgumentParser) -> int:
    """Print the completion script of ``args.shell``."""
    sys.stdout.write(SCRIPTS[args.shell])
    return 0


def run_complete(words: list[str], parser: argparse.ArgumentParser) -> int:
    """Print the candidates for the last of ``words`` (the command line after ``bakec``), one a line."""
    current = words.pop() if words else ""
    for candidate in candidates(parser, words, current):
        sys.stdout.write(candidate + "\n")
    return 0


def candidates(parser: argparse.ArgumentParser, words: Sequence[str], current: str) -> list[str]:
    """What may follow ``words`` and starts with ``current`` (sorted, no duplicates)."""
    command, parser_now, rest = _subcommand(parser, words)
    previous = rest[-1] if rest else ""
    action = _option(parser_now, previous)
    if action is not None and action.nargs != 0:
        if action.choices:
            found: Iterator[str] = iter(str(c) for c in action.choices)
        elif action.dest == "files":
            found = _paths(current)
        else:
            return []  # a free value: nothing to offer
    elif current.startswith("-"):
        found = iter(_visible_options(parser_now))
    elif command is None:
        found = iter(_visible_commands(parser))
    else:
        found = _positionals(parser_now, rest)
    return sorted({c for c in found if c.startswith(current)})


def _subcommand(
    parser: argparse.ArgumentParser, words: Sequence[str]
) -> tuple[str | None, argparse.ArgumentParser, list[str]]:
    """The subcommand among ``words`` (the first word not a flag), its parser, the words after it."""
    commands = _subparsers(parser)
    for i, word in enumerate(words):
        if word in commands:
            return word, commands[word], list(words[i + 1 :])
    return None, parser, list(words)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _visible_commands(parser: argparse.ArgumentParser) -> list[str]:
    """Subcommands with a help line (``__complete`` has none: it stays hidden)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [choice.dest for choice in action._choices_actions]
    return []


def _visible_options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings]


def _option(parser: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    for action in parser._actions:
        if word in action.option_strings:
            return action
    return None


def _positionals(parser: argparse.ArgumentParser, rest: Sequence[str]) -> Iterator[str]:
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        if action.dest in _TARGET_DESTS:
            yield from target_names(_files_in(rest))
        elif action.choices:
            yield from (str(c) for c in action.choices)


def _files_in(words: Sequence[str]) -> list[str]:
    """The ``-f FILE`` / ``--file=FILE`` values on the command line."""
    files = []
    for i, word in enumerate(words):
        if word in ("-f", "--file") and i + 1 < len(words):
            files.append(words[i + 1])
        elif word.startswith("--file="):
            files.append(word.partition("=")[2])
    return files


def target_names(files: Sequence[str]) -> list[str]:
    """The target and group names of the bake files (buildx's default files when ``files`` is empty)."""
    from bakec.bake.definition import load

    try:
        definition = load(list(files), env=dict(os.environ), cwd=os.getcwd(), vars={})
    except (BakecError, OSError):
        return []
    return sorted(set(definition.targets) | set(definition.groups))


def _paths(current: str) -> Iterator[str]:
    """Files and directories starting with ``current`` (directories end with ``/``)."""
    directory, _, prefix = current.rpartition("/")
    try:
        entries = os.scandir(directory or ".")
    except OSError:
        return
    with entries:
        for entry in entries:
            if entry.name.startswith(prefix) and (prefix or not entry.name.startswith(".")):
                path = f"{directory}/{entry.name}" if directory else entry.name
                yield path + "/" if entry.is_dir() else path
