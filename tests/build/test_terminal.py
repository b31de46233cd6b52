"""What a buildx user sees: ``--progress=tty`` in a real terminal (tmux), failures in every mode,
``--progress=rawjson`` as BuildKit's ``SolveStatus``, ``BUILDKIT_PROGRESS`` and per-target times.

The terminal is a detached tmux session of a given size; its screen (``capture-pane``) is what
a user would see, wrapping and colours included.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .helpers import BUSYBOX, bakec, cli_env, events

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup)")

COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")  # a foreground colour being set


class Terminal:
    """A command running in a detached tmux session of ``width`` x ``height``."""

    def __init__(self, socket: str, done: Path) -> None:
        self.socket = socket
        self.done = done

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True).stdout

    def screen(self, escapes: bool = False) -> str:
        """What the terminal shows now (with its escape sequences when ``escapes``)."""
        return self._tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "main")

    def history(self) -> str:
        """Everything the terminal showed, scrolled-away lines included."""
        return self._tmux("capture-pane", "-p", "-S", "-2000", "-t", "main")

    def wait(self, timeout: float = 300) -> int:
        """The command's exit status, once it ended."""
        deadline = time.monotonic() + timeout
        while not self.done.exists() or not self.done.read_text().strip():
            assert time.monotonic() < deadline, self.screen()
            time.sleep(0.2)
        return int(self.done.read_text())


@contextmanager
def terminal(
    cwd: Path, state: Path, *args: str, width: int, height: int, env: dict[str, str] | None = None
) -> Iterator[Terminal]:
    """``bakec ARGS`` (a build on ``state``) in a fresh terminal; the session ends with the block."""
    done = cwd / ".exit-status"
    done.unlink(missing_ok=True)
    environment = {
        **cli_env(cwd, {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1", **(env or {})}),
        "TERM": "xterm-256color",
    }
    command = [sys.executable, "-m", "bakec.cli.main", *args, "--state-dir", str(state)]
    script = (
        f"cd {shlex.quote(str(cwd))} && env -i {' '.join(shlex.quote(f'{k}={v}') for k, v in environment.items())} "
        f"{shlex.join(command)}; echo $? > {shlex.quote(str(done))}; sleep 600"
    )
    socket = f"bakec-test-{os.getpid()}-{time.monotonic_ns()}"
    subprocess.run(
        [
            "tmux",
            "-L",
            socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            str(width),
            "-y",
            str(height),
            script,
        ],
        check=True,
    )
    try:
        yield Terminal(socket, done)
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)


def _project(tmp: Path, dockerfile: str, targets: str | None = None) -> Path:
    (tmp / "app").mkdir(parents=True, exist_ok=True)
    (tmp / "app" / "Dockerfile").write_text(dockerfile)
    (tmp / "docker-bake.hcl").write_text(
        targets
        or textwrap.dedent("""\
        target "default" {
          context = "app"
          output = ["type=oci,dest=out/app.tar"]
        }
        """)
    )
    return tmp


FAILING = f"FROM {BUSYBOX}\nWORKDIR /src\nRUN for i in 1 2 3 4 5; do echo line $i; done; exit 3\nCOPY . .\n"
EXCERPT = (
    "app/Dockerfile:3\n"
    "--------------------\n"
    "   1 |     FROM 127.0.0.1:5000/busybox:latest\n"
    "   2 |     WORKDIR /src\n"
    "   3 | >>> RUN for i in 1 2 3 4 5; do echo line $i; done; exit 3\n"
    "   4 |     COPY . .\n"
)


def _failure_shown(text: str) -> None:
    lines = [line.rstrip() for line in text.splitlines()]
    head = lines.index(" > [3/4] RUN for i in 1 2 3 4 5; do echo line $i; done; exit 3:")
    assert [line.split(" ", 1)[1] for line in lines[head + 1 : head + 6]] == [
        f"line {i}" for i in range(1, 6)
    ]
    assert lines[head + 6] == "------"
    text = "\n".join(lines) + "\n"
    assert text.count(EXCERPT) == 1  # once, with the error
    assert lines[-1].startswith("ERROR: target default: failed to solve: process ")
    assert lines[-1].endswith("did not complete successfully: exit code: 3")


@pytest.mark.parametrize("mode", ["plain", "quiet"])
def test_a_failed_step_shows_its_output_and_dockerfile_lines(tmp_path, state_dir, mode):
    project = _project(tmp_path, FAILING)
    proc = bakec(project, state_dir, "build", "--progress", mode)
    assert proc.returncode == 1
    _failure_shown(proc.stderr)


def test_a_failed_step_in_the_terminal(tmp_path, state_dir):
    project = _project(tmp_path, FAILING)
    with terminal(project, state_dir, "build", "--progress", "tty", width=200, height=50) as term:
        assert term.wait() == 1
        text = term.history()
    assert re.search(r"^\[\+\] Building \d+\.\ds \(\d+/\d+\) FINISHED$", text, re.M), text
    assert re.search(r"^ => ERROR \[3/4\] RUN for i in .* +\d+\.\ds$", text, re.M), text
    _failure_shown(text.rstrip("\n"))


SLOW = f"""\
FROM {BUSYBOX}
RUN echo first; echo second; echo third; echo fourth; sleep 4; echo tail
RUN echo {{nonce}} > /nonce
"""


def test_the_live_view_fits_a_narrow_short_terminal_and_keeps_running_steps_in_view(tmp_path, state_dir):
    project = _project(tmp_path, SLOW.replace("{nonce}", str(time.time_ns())))
    with terminal(project, state_dir, "build", "--progress", "tty", width=50, height=6) as term:
        running = ""
        deadline = time.monotonic() + 120
        while "=> => # fourth" not in running and time.monotonic() < deadline and not term.done.exists():
            time.sleep(0.2)
            running = term.screen()
        assert term.wait() == 0
        final = term.history()
    lines = [line for line in running.splitlines() if line]
    # the running step and its last output lines are on screen, though earlier steps do not fit
    assert lines[0].startswith("[+] Building ") and "FINISHED" not in lines[0], running
    assert re.match(r"^ => \[2/3\] RUN echo first; echo .*\.\.\. +\d+\.\ds$", lines[-4]), running
    assert lines[-3:] == [" => => # second", " => => # third", " => => # fourth"], running
    # every line fits: each starts as one of the view's lines (a wrapped one would not)
    assert all(line.startswith(("[+] ", " => ")) for line in lines), running
    view = final[final.index("[+] Building") :].split("\n\n", 1)[0].splitlines()
    assert view[0].endswith(" FINISHED") and all(len(line) <= 50 for line in view)
    assert any(line.startswith(" => exporting to oci image format ") for line in view), final
    assert all(line.startswith(("[+] ", " => ")) for line in view), final


@pytest.mark.parametrize("no_color", ["", "1"])
def test_no_color_turns_the_colours_off(tmp_path, state_dir, no_color):
    project = _project(tmp_path, f"FROM {BUSYBOX}\nRUN echo {time.time_ns()}; sleep 2\n")
    with terminal(
        project, state_dir, "build", "--progress", "tty", width=100, height=30, env={"NO_COLOR": no_color}
    ) as term:
        seen = ""
        while not term.done.exists():
            seen += term.screen(escapes=True)
            time.sleep(0.3)
        assert term.wait() == 0
        seen += term.screen(escapes=True)
    assert "[+] Building" in seen
    assert bool(COLOUR.search(seen)) is not bool(no_color)


def test_rawjson_is_what_buildx_prints(tmp_path, state_dir):
    project = _project(
        tmp_path, f"FROM {BUSYBOX}\nRUN echo hello from {time.time_ns()} && echo to stderr >&2\n"
    )
    assert bakec(project, state_dir, "build", "--progress", "plain").returncode == 0
    (project / "app" / "Dockerfile").write_text(
        (project / "app" / "Dockerfile").read_text() + "RUN echo second run\n"
    )
    proc = bakec(project, state_dir, "build", "--progress", "rawjson")
    assert proc.returncode == 0, proc.stderr
    statuses = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert statuses and all(s and set(s) <= {"vertexes", "statuses", "logs", "warnings"} for s in statuses)
    vertexes = [v for s in statuses for v in s.get("vertexes", [])]
    assert all(
        set(v) <= {"digest", "inputs", "name", "started", "completed", "cached", "error"} for v in vertexes
    )
    assert all(v["digest"].startswith("sha256:") and "started" in v for v in vertexes)
    cached = {v["name"] for v in vertexes if v.get("cached")}
    assert any(name.startswith("[2/3] RUN echo hello from") for name in cached), cached
    ran = next(v for v in vertexes if v["name"] == "[3/3] RUN echo second run" and "completed" in v)
    assert "cached" not in ran and ran["inputs"]
    logs = [log for s in statuses for log in s.get("logs", []) if log["vertex"] == ran["digest"]]
    assert b"".join(base64.b64decode(log["data"]) for log in logs) == b"second run\n"
    assert {log["stream"] for log in logs} == {1}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", logs[0]["timestamp"])


def test_buildkit_progress_is_the_default_mode(tmp_path, state_dir):
    project = _project(tmp_path, f"FROM {BUSYBOX}\nRUN echo hi\n")
    proc = bakec(project, state_dir, "build", env={"BUILDKIT_PROGRESS": "rawjson"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith('{"vertexes":[{"digest":"sha256:')
    proc = bakec(project, state_dir, "build", "--progress", "plain", env={"BUILDKIT_PROGRESS": "rawjson"})
    assert proc.stderr.startswith("#1 ")  # the flag wins
    proc = bakec(project, state_dir, "build", env={"BUILDKIT_PROGRESS": "fancy"})
    assert proc.returncode == 2 and "invalid progress mode fancy" in proc.stderr


def test_each_target_is_timed_on_its_own_span(tmp_path, state_dir):
    nonce = time.time_ns()
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN sleep 3 && echo {nonce}\n")
    (tmp_path / "fast").mkdir()
    (tmp_path / "fast" / "Dockerfile").write_text(f"FROM {BUSYBOX}\nRUN echo {nonce}\n")
    (tmp_path / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        group "default" { targets = ["slow", "fast"] }
        target "slow" { context = "slow"
          output = ["type=cacheonly"] }
        target "fast" { context = "fast"
          output = ["type=cacheonly"] }
        """)
    )
    proc = bakec(tmp_path, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    summary = next(e for e in events(proc.stderr) if e["type"] == "summary")
    slow, fast = summary["targets"]["slow"]["seconds"], summary["targets"]["fast"]["seconds"]
    assert slow >= 3 and fast < slow - 2 and summary["seconds"] >= slow, summary
