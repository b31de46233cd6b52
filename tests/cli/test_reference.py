"""The CLI's documentation stays current: every flag has help, docs/cli.md and README's usage match argparse."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from bakec._version import __version__
from bakec.cli.main import _build_parser
from bakec.cli.reference import render_markdown, subcommands

REPO = Path(__file__).resolve().parents[2]


def test_every_argument_has_a_help_string():
    parser = _build_parser()
    missing = [
        f"{sub.prog} {'/'.join(a.option_strings) or a.dest}"
        for sub in [parser, *(p for _, _, p in subcommands(parser))]
        for a in sub._actions
        if not isinstance(a, argparse._SubParsersAction) and len((a.help or "").split()) < 2
    ]
    assert missing == []
    assert all(len(help_text.split()) >= 2 for _, help_text, _ in subcommands(parser))


def test_progress_help_names_every_mode():
    build = dict((name, p) for name, _, p in subcommands(_build_parser()))["build"]
    progress = next(a for a in build._actions if "--progress" in a.option_strings)
    assert all(mode in progress.help for mode in progress.choices)


def test_docs_cli_md_is_what_scripts_gen_cli_docs_writes():
    current = (REPO / "docs" / "cli.md").read_text()
    assert current == render_markdown(_build_parser()), "docs/cli.md is stale: run scripts/gen-cli-docs"


def test_gen_cli_docs_script_writes_the_reference(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen-cli-docs")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "## bakec build\n" in (REPO / "docs" / "cli.md").read_text()


def _readme_usage() -> dict[str, set[str]]:
    """README's usage block: each command's flags (continuation lines belong to the line above)."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Usage\n.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    flags: dict[str, set[str]] = {}
    command = ""
    for line in block.group(1).splitlines():
        if line.startswith("bakec "):
            word = line.split()[1]
            command = "" if word.startswith("[") else word
            flags.setdefault(command, set())
        flags[command] |= set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", line))
    return flags


def test_readme_usage_lists_every_command_and_flag():
    parser = _build_parser()
    usage = _readme_usage()
    parsers = {"": parser} | {name: sub for name, _, sub in subcommands(parser)}
    assert sorted(usage) == sorted(parsers)
    for name, sub in parsers.items():
        options = [set(a.option_strings) for a in sub._actions if a.option_strings and a.dest != "help"]
        assert [sorted(o) for o in options if not o & usage[name]] == [], f"bakec {name}: missing in README"
        known = set().union(*options) if options else set()
        assert sorted(usage[name] - known) == [], f"bakec {name}: README names flags argparse does not have"


def _fastest(args: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(args, capture_output=True, check=True)
        times.append(time.monotonic() - started)
    return min(times)


def test_version_flag_is_fast_and_imports_nothing_heavy():
    args = [sys.executable, "-X", "importtime", "-m", "bakec.cli.main", "--version"]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.stdout == f"bakec {__version__}\n"
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    heavy = {"bakec.bake", "bakec.worker", "bakec.state", "grpc", "lark", "rich", "jinja2", "yaml", "hcl2"}
    assert imported & heavy == set()
    # 0.15 s on top of the interpreter's own start (which this machine's site packages make slow)
    python = _fastest([sys.executable, "-c", "pass"])
    assert _fastest([sys.executable, "-m", "bakec.cli.main", "--version"]) - python < 0.15


def test_readme_exit_codes_are_those_of_errors_py():
    import bakec.errors as errors

    readme = (REPO / "README.md").read_text()
    table = re.search(r"### Exit codes\n\n((?:\|.*\n)+)", readme)
    assert table is not None
    rows = table.group(1).splitlines()[2:]
    documented = {int(code) for row in rows for code in row.split("|")[1].strip().split(" / ")}
    constants = {v for k, v in vars(errors).items() if k.startswith("EXIT_")}
    raised = {c.exit_code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)}
    assert documented - {130, 143} == constants  # 130/143: signals, from bakec.solver.interrupt
    assert raised <= constants
    docstring = {
        int(line.split()[0])
        for line in errors.__doc__.split("Exit codes")[1].splitlines()[1:]
        if line.strip()
    }
    assert docstring == constants
