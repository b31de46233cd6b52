"""Shell completion: the scripts load in bash, zsh and fish and complete commands, flags and targets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bakec.cli.completion import candidates
from bakec.cli.main import _build_parser

BAKE = """\
target "app" {}
target "api" {}
target "web" {}
group "apps" { targets = ["app", "api"] }
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "docker-bake.hcl").write_text(BAKE)
    (root / "other.hcl").write_text('target "other" {}\n')
    return root


def _bash(project: Path, env: dict[str, str], *words: str) -> list[str]:
    array = " ".join(f"'{w}'" for w in ("bakec", *words))
    script = (
        f"source <(bakec completion bash); COMP_WORDS=({array}); COMP_CWORD={len(words)}; "
        '_bakec; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_targets_and_groups_of_the_bake_files(project, bakec_on_path):
    assert _bash(project, bakec_on_path, "build", "ap") == ["api", "app", "apps"]
    assert _bash(project, bakec_on_path, "plan", "-f", "other.hcl", "") == ["other"]


def test_bash_completes_commands_flags_and_choices(project, bakec_on_path):
    assert _bash(project, bakec_on_path, "pr") == ["prune"]
    assert _bash(project, bakec_on_path, "build", "--pr") == ["--print", "--progress", "--provenance"]
    assert _bash(project, bakec_on_path, "build", "--progress", "ra") == ["rawjson"]
    assert _bash(project, bakec_on_path, "build", "-f", "oth") == ["other.hcl"]


def test_candidates_follow_the_parser():
    parser = _build_parser()
    commands = candidates(parser, [], "")
    assert {"build", "check", "plan", "du", "doctor", "completion", "version"} <= set(commands)
    assert candidates(parser, ["daemon"], "") == ["status", "stop"]
    assert candidates(parser, ["completion"], "") == ["bash", "fish", "zsh"]
    assert candidates(parser, ["--debug", "prune"], "--d") == ["--dry-run"]
    assert candidates(parser, ["build", "--set"], "") == []  # a free value: nothing to offer


def test_completion_of_a_broken_bake_file_offers_nothing_and_prints_nothing(project, bakec_on_path):
    (project / "docker-bake.hcl").write_text('target "app" {\n')
    done = subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", "__complete", "build", ""],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (scripts/setup installs it)")
def test_zsh_script_parses_and_loads(project, bakec_on_path):
    script = subprocess.run(["bakec", "completion", "zsh"], env=bakec_on_path, capture_output=True, text=True)
    assert subprocess.run(["zsh", "-n"], input=script.stdout, text=True).returncode == 0
    loaded = subprocess.run(
        [
            "zsh",
            "-fc",
            "autoload -Uz compinit; compinit -u -D; source <(bakec completion zsh); echo $+functions[_bakec]",
        ],
        cwd=project,
        env=bakec_on_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "1", loaded.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed (scripts/setup installs it)")
def test_fish_script_parses_and_completes_targets(project, bakec_on_path):
    script = subprocess.run(
        ["bakec", "completion", "fish"], env=bakec_on_path, capture_output=True, text=True
    )
    assert subprocess.run(["fish", "-n"], input=script.stdout, text=True).returncode == 0
    done = subprocess.run(
        ["fish", "-c", 'bakec completion fish | source; complete -C "bakec build we"'],
        cwd=project,
        env=bakec_on_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["web"], done.stderr
