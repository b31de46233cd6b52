"""Every corpus case through the frontend alone: image config, history, platform, layers.

Cases that must build are compared with ``expected-config.json`` (config,
history with ``{BASE_DIGEST}``, platform, layer_count, author). Cases that must
fail are split: parse/plan-time failures (including the context preflight of
COPY sources) must raise an error containing ``expected-error.txt``; failures
that only execution can see (exit codes, secrets, downloads) are listed and
skipped here.

Every other case must pass: only those listed in tests/known_failures.py
(``dockerfile-config``) may fail, and ``test_summary`` fails on any other failure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from dockerfile_support import BASE_DIGEST, CORPUS, busybox_images

from bakec.dockerfile import DockerfileError, NamedContext, compile
from bakec.dockerfile.context import check_context_sources
from known_failures import expected_to_fail, unexpected

# Failures BuildKit reports while executing, not while converting the Dockerfile. They are
# checked through the executor by tests/conformance/test_dockerfile_build.py, not here.
EXECUTION_TIME_FAILURES = {
    "093-fail-run-exit-code": "needs a container run",
    "094-fail-secret-required": "needs the session's secrets",
    "099-fail-add-checksum-mismatch": "needs the HTTP download",
    "107-fail-link-chown-name": "the name's lookup fails in the file op",
    "108-fail-scratch-chown-name": "the name's lookup fails in the file op",
}


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())


def _prepared_context(case_dir: Path, case: dict, into: Path) -> Path:
    """A scratch copy of context/ with the case's context_setup applied (chown skipped)."""
    ctx = into / "context"
    shutil.copytree(case_dir / "context", ctx, symlinks=True)
    for op, *args in case.get("context_setup", []):
        target = ctx / args[-1] if op in ("symlink", "hardlink") else ctx / args[0]
        if op == "chmod":
            target.chmod(int(args[1], 8))
        elif op == "mkdir":
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(int(args[1], 8))
        elif op == "symlink":
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(args[0], target)
        elif op == "hardlink":
            os.link(ctx / args[0], target)
        elif op == "write":
            target.write_text(args[1])
    return ctx


def _compile_case(case_dir: Path):
    """The plan, followed by the context preflight (missing or ignored COPY sources)."""
    case = json.loads((case_dir / "case.json").read_text())
    plan = _plan_case(case_dir, case)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = _prepared_context(case_dir, case, Path(tmp))
        check_context_sources(plan, ctx, ctx / case.get("dockerfile", "Dockerfile"))
    return plan


def _plan_case(case_dir: Path, case: dict):
    dockerfile = case_dir / "context" / case.get("dockerfile", "Dockerfile")
    contexts = {
        name: NamedContext("local", str(case_dir / rel)) for name, rel in case.get("contexts", {}).items()
    }
    return compile(
        dockerfile.read_text(),
        build_args=case.get("build_args", {}),
        target=case.get("target", ""),
        platform=case.get("platform"),
        named_contexts=contexts,
        base_image_configs=busybox_images(),
        entitlements=frozenset(case.get("allow", [])),
        filename=dockerfile.name,
    )


def _actual(plan) -> dict:
    got = plan.expected_config()
    for entry in got["history"]:
        entry["created_by"] = entry["created_by"].replace(BASE_DIGEST, "{BASE_DIGEST}")
    return got


CASES = _cases()
PLAN_CASES = [c for c in CASES if c.name not in EXECUTION_TIME_FAILURES]


def check_case(case_dir: Path) -> tuple[bool | None, str]:
    """(True/False, detail) for a case; None when it can only fail at execution time."""
    case = json.loads((case_dir / "case.json").read_text())
    name = case_dir.name
    if case.get("expect_error"):
        if name in EXECUTION_TIME_FAILURES:
            return None, EXECUTION_TIME_FAILURES[name]
        phrase = (case_dir / "expected-error.txt").read_text().strip()
        try:
            _compile_case(case_dir)
        except DockerfileError as exc:
            if phrase in str(exc):
                return True, ""
            return False, f"{exc!s} does not contain {phrase!r}"
        return False, f"expected an error containing {phrase!r}"
    expected = json.loads((case_dir / "expected-config.json").read_text())
    got = _actual(_compile_case(case_dir))
    keys = ["config", "history", "layer_count", "platform", "author"]
    if "created" in got:
        keys += ["created", "history_created"]
    want = {k: expected[k] for k in keys if k in expected}
    have = {k: got.get(k) for k in want}
    if have == want:
        return True, ""
    diff = {k: (have[k], want[k]) for k in want if have[k] != want[k]}
    return False, json.dumps(diff, indent=1)


@pytest.mark.parametrize("case_dir", PLAN_CASES, ids=[c.name for c in PLAN_CASES])
def test_case(case_dir: Path) -> None:
    ok, detail = check_case(case_dir)
    known = expected_to_fail("dockerfile-config", case_dir.name)
    if known and not ok:
        pytest.xfail(known)
    assert not known, "passes now: remove it from tests/known_failures.py"
    assert ok, detail


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the pass counts over the whole corpus; fails on any failure not listed as known."""
    assert CASES, f"no cases in {CORPUS}"
    assert set(EXECUTION_TIME_FAILURES) <= {c.name for c in CASES}, "an execution-time case left the corpus"
    counts = {"build": [0, 0], "plan-fail": [0, 0]}
    skipped = 0
    failing: dict[str, str] = {}
    for case_dir in CASES:
        expect_error = json.loads((case_dir / "case.json").read_text()).get("expect_error")
        try:
            ok, detail = check_case(case_dir)
        except Exception as exc:  # noqa: BLE001 - reported in the summary
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if ok is None:
            skipped += 1
            continue
        bucket = counts["plan-fail" if expect_error else "build"]
        bucket[1] += 1
        bucket[0] += bool(ok)
        if not ok:
            failing[case_dir.name] = (detail.splitlines() or [""])[0]
    with capsys.disabled():
        print(
            f"\nconformance config: {counts['build'][0]}/{counts['build'][1]} builds match expected-config.json; "
            f"{counts['plan-fail'][0]}/{counts['plan-fail'][1]} plan-time failures match expected-error.txt; "
            f"{skipped} execution-time failures left to the executor corpus (tests/conformance)"
            + (f"; failing: {', '.join(failing)}" if failing else "")
        )
    problems = unexpected(
        "dockerfile-config", [c.name for c in CASES if c.name not in EXECUTION_TIME_FAILURES], failing
    )
    assert not problems, "dockerfile config conformance:\n" + "\n".join(problems)
