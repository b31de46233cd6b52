"""Under CI a skipped conformance or end-to-end test is a failure, unless allowed here with a reason.

CI runs ``scripts/setup`` first, so every tool those tests need is there; a skip in CI
means a test silently stopped running. tests/conftest.py registers the hook below.
"""

from __future__ import annotations

import os

import pytest

# Directories (relative to the repository) whose skips fail a CI run.
STRICT_DIRS = ("tests/build/", "tests/conformance/", "tests/worker/")

# Test ids (without parameters) whose skip is acceptable in CI -> why.
ALLOWED_SKIPS: dict[str, str] = {}


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI`` set, and not to false/0)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def ci_failure(report: pytest.TestReport) -> str | None:
    """Why ``report`` (a skip) fails a CI run, or None when it is not a forbidden skip."""
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return None
    nodeid = report.nodeid
    if not nodeid.startswith(STRICT_DIRS) or nodeid.split("[", 1)[0] in ALLOWED_SKIPS:
        return None
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return (
        f"{nodeid} was skipped under CI ({reason}): conformance and end-to-end tests must run in CI; "
        "fix the machine (scripts/setup) or allow the skip with its reason in tests/ci_skips.py"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ARG001 - hook signature
    """Turns a forbidden skip (see :func:`ci_failure`) into a failure with the reason."""
    report = yield
    failure = ci_failure(report)
    if failure:
        report.outcome = "failed"
        report.longrepr = failure
    return report
