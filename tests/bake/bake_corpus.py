"""Running the bake conformance corpora (tests/data/conformance/{bake,realworld}) through bakec.

Each case runs the real CLI entry point in a scratch copy of its folder, with
a minimal environment (PATH, HOME, DOCKER_CONFIG and the case's env), exactly
as the corpus READMEs describe, and its output is compared as JSON.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from corpus import conformance


@dataclass
class Outcome:
    name: str
    passed: bool
    reason: str = ""


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``bakec`` in-process with a replaced environment and working directory."""
    from bakec.cli.main import main

    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue(), err.getvalue()


def _mask(data, path: str):
    """Mask the value at a dotted path; ``*`` matches any key, and keys may contain dots."""
    if not path:
        return "<volatile>"
    if isinstance(data, dict):
        for key in list(data):
            if path == key or path.startswith(key + "."):
                data[key] = _mask(data[key], path[len(key) + 1 :])
            elif path == "*" or path.startswith("*."):
                data[key] = _mask(data[key], path[2:])
    return data


def run_case(case_dir: Path, corpus: str) -> Outcome:
    spec = json.loads((case_dir / "case.json").read_text())
    args = list(spec.get("args", []))
    if corpus == "bake" and spec.get("print", True):
        args = ["--print", *args]
    scratch = Path(tempfile.mkdtemp(prefix="bakec-case-"))
    try:
        work = scratch / "case"
        shutil.copytree(case_dir, work, symlinks=True)
        home = scratch / "home"
        (home / ".docker").mkdir(parents=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "DOCKER_CONFIG": str(home / ".docker"),
            "BAKEC_STATE_DIR": str(scratch / "state"),
        }  # bakec's parse cache stays in the scratch dir
        env.update(spec.get("env", {}))
        if os.environ.get("BAKEC_DEBUG"):
            env["BAKEC_DEBUG"] = "1"
        code, stdout, stderr = run_cli(["build", *args], work, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if "Traceback" in stderr or "internal error" in stderr:
        return Outcome(case_dir.name, False, "traceback: " + stderr.strip().splitlines()[-1])
    if spec.get("expect_error"):
        phrase = spec.get("error_contains", "")
        if code == 0:
            return Outcome(case_dir.name, False, "succeeded but an error was expected")
        if phrase not in stderr:
            return Outcome(case_dir.name, False, f"error lacks {phrase!r}: {stderr.strip()[-300:]}")
        return Outcome(case_dir.name, True)
    if code != 0:
        return Outcome(case_dir.name, False, f"exit {code}: {stderr.strip()[-300:]}")
    if (case_dir / "expected.txt").exists():
        expected_lines = [line.rstrip() for line in (case_dir / "expected.txt").read_text().splitlines()]
        got_lines = [line.rstrip() for line in stdout.splitlines()]
        squash = lambda lines: [" ".join(line.split()) for line in lines]  # noqa: E731 - column padding may differ
        if squash(expected_lines) != squash(got_lines):
            return Outcome(case_dir.name, False, f"table differs:\n{stdout}")
        return Outcome(case_dir.name, True)
    expected = json.loads((case_dir / "expected.json").read_text())
    try:
        got = json.loads(stdout)
    except json.JSONDecodeError:
        return Outcome(case_dir.name, False, f"stdout is not JSON: {stdout[:200]!r}")
    for volatile in spec.get("volatile", []):
        expected = _mask(expected, volatile)
        got = _mask(got, volatile)
    compare = spec.get("compare", {})
    for group in compare.get("unordered_group_targets", []):
        for data in (expected, got):
            if group in data.get("group", {}):
                data["group"][group]["targets"] = sorted(data["group"][group]["targets"])
    if got != expected:
        return Outcome(case_dir.name, False, "output differs: " + _first_difference(expected, got))
    if stdout != (case_dir / "expected.json").read_text() and not spec.get("volatile"):
        return Outcome(case_dir.name, True, "equal as JSON, not byte-identical")
    return Outcome(case_dir.name, True)


def _first_difference(expected, got, path: str = "") -> str:
    if type(expected) is not type(got):
        return f"{path or '/'}: expected {json.dumps(expected)[:200]}, got {json.dumps(got)[:200]}"
    if isinstance(expected, dict):
        for key in sorted(set(expected) | set(got)):
            if key not in got:
                return f"{path}/{key}: missing"
            if key not in expected:
                return f"{path}/{key}: unexpected {json.dumps(got[key])[:200]}"
            if expected[key] != got[key]:
                return _first_difference(expected[key], got[key], f"{path}/{key}")
    if isinstance(expected, list) and len(expected) == len(got):
        for i, (a, b) in enumerate(zip(expected, got, strict=False)):
            if a != b:
                return _first_difference(a, b, f"{path}/{i}")
    return f"{path or '/'}: expected {json.dumps(expected)[:300]}, got {json.dumps(got)[:300]}"


def run_corpus(corpus: str) -> list[Outcome]:
    root = conformance(corpus)
    cases = sorted(p for p in root.iterdir() if (p / "case.json").exists())
    assert cases, f"no cases in {root}"
    return [run_case(case, corpus) for case in cases]
