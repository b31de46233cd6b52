"""``bakec doctor``, ``bakec version`` and ``--debug`` on this machine (set up by scripts/setup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bakec._version import __version__


def _bakec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_doctor_finds_everything_building_needs(tmp_path):
    done = _bakec("doctor", "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    for topic in ("root", "overlayfs", "cgroups", "containerd", "runc", "binfmt", "state dir", "disk"):
        assert any(line.startswith(f"[ok  ] {topic}: ") for line in lines), topic
    assert lines[-1].startswith("ready to build")
    assert not (tmp_path / "state").exists()  # doctor only looks


def test_doctor_reports_a_missing_containerd_with_its_fix(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = _bakec("doctor", "--state-dir", str(tmp_path / "state"), env=env)
    assert done.returncode == 1
    out = done.stdout
    assert (
        "[FAIL] containerd: containerd not found on PATH\n       fix: install it with: apt-get install containerd\n"
        in out
    )
    assert "[FAIL] runc: runc not found on PATH\n       fix: install it with: apt-get install runc\n" in out
    assert "problem(s) stop bakec from building" in out.splitlines()[-1]


def test_version_names_bakec_python_containerd_and_runc():
    done = _bakec("version")
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert fields["bakec"].strip() == __version__
    assert fields["python"].strip().startswith(".".join(map(str, sys.version_info[:3])))
    assert fields["containerd"].strip().startswith("1.")
    assert fields["runc"].strip().startswith("1.")
    missing = _bakec("version", env={**os.environ, "PATH": str(Path(sys.executable).parent)})
    assert "containerd: not found on PATH" in missing.stdout


def test_debug_flag_shows_the_traceback_of_an_internal_error(tmp_path):
    # a bug stands in as a failing subcommand: the real dispatch, with build replaced by 1/0
    code = (
        "import sys, bakec.cli.build as b; b.run_build = lambda *a: 1 / 0; "
        "from bakec.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", code, "build"], capture_output=True, text=True, cwd=tmp_path
    )
    assert quiet.returncode == 1
    assert quiet.stderr == (
        "ERROR: internal error: ZeroDivisionError: division by zero (run with --debug for details)\n"
    )
    loud = subprocess.run(
        [sys.executable, "-c", code, "--debug", "build"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "Traceback (most recent call last)" in loud.stderr and "ZeroDivisionError" in loud.stderr
