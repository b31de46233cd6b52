"""Every corpus case through the frontend alone: image config, history, platform, layers.

Cases that must build are compared with ``expected-config.json`` (config,
history with ``{BASE_DIGEST}``, platform, layer_count, author). Cases that must
fail are split: parse/plan-time failures must raise an error containing
``expected-error.txt``; failures that only execution can see (missing context
files, exit codes, secrets, downloads) are listed and skipped here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakec.dockerfile import DockerfileError, NamedContext, compile

from dockerfile_support import BASE_DIGEST, CORPUS, busybox_images

# Failures BuildKit reports while executing, not while converting the Dockerfile.
EXECUTION_TIME_FAILURES = {
    "091-fail-copy-missing-source": "needs the context: the copy source does not exist",
    "092-fail-copy-dockerignored": "needs the context: the copy source is excluded by .dockerignore",
    "093-fail-run-exit-code": "needs a container run",
    "094-fail-secret-required": "needs the session's secrets",
    "099-fail-add-checksum-mismatch": "needs the HTTP download",
}


def _cases() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())


def _compile_case(case_dir: Path):
    case = json.loads((case_dir / "case.json").read_text())
    dockerfile = case_dir / "context" / case.get("dockerfile", "Dockerfile")
    contexts = {name: NamedContext("local", str(case_dir / rel)) for name, rel in case.get("contexts", {}).items()}
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
_RESULTS: dict[str, bool] = {}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"conformance corpus not found at {CORPUS}")
@pytest.mark.parametrize("case_dir", CASES, ids=[c.name for c in CASES])
def test_case(case_dir: Path) -> None:
    case = json.loads((case_dir / "case.json").read_text())
    name = case_dir.name
    if case.get("expect_error"):
        if name in EXECUTION_TIME_FAILURES:
            pytest.skip(f"execution-time failure: {EXECUTION_TIME_FAILURES[name]}")
        phrase = (case_dir / "expected-error.txt").read_text().strip()
        try:
            _compile_case(case_dir)
        except DockerfileError as exc:
            _RESULTS[name] = phrase in str(exc)
            assert phrase in str(exc), f"{exc!s} does not contain {phrase!r}"
            return
        _RESULTS[name] = False
        pytest.fail(f"expected an error containing {phrase!r}")
    expected = json.loads((case_dir / "expected-config.json").read_text())
    got = _actual(_compile_case(case_dir))
    want = {k: expected[k] for k in ("config", "history", "layer_count", "platform") if k in expected}
    if "author" in expected:
        want["author"] = expected["author"]
    have = {k: got.get(k) for k in want}
    _RESULTS[name] = have == want
    assert have == want


def test_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the pass counts (run after the cases, in file order)."""
    if not CASES:
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    build = [c.name for c in CASES if not json.loads((c / "case.json").read_text()).get("expect_error")]
    fail = [c.name for c in CASES if c.name not in build]
    plan_fail = [n for n in fail if n not in EXECUTION_TIME_FAILURES]
    with capsys.disabled():
        ok_build = sum(1 for n in build if _RESULTS.get(n))
        ok_fail = sum(1 for n in plan_fail if _RESULTS.get(n))
        print(f"\nconformance config: {ok_build}/{len(build)} builds match expected-config.json; "
              f"{ok_fail}/{len(plan_fail)} plan-time failures match expected-error.txt; "
              f"{len(fail) - len(plan_fail)} execution-time failures skipped")
