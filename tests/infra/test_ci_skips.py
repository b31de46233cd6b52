"""Under CI a skip in tests/build, tests/conformance or tests/worker fails the run (tests/ci_skips.py).

Run for real: pytest in a subprocess on a scratch tree whose conftest registers the hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ci_skips import ALLOWED_SKIPS, STRICT_DIRS

TESTS = Path(__file__).resolve().parents[1]

SKIPPING = """
import pytest

def test_needs_a_tool():
    pytest.skip("the tool is not installed")

@pytest.mark.skipif(True, reason="never on this machine")
def test_marked():
    pass

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests" / "worker").mkdir(parents=True, exist_ok=True)
    (tmp_path / "tests" / "bake").mkdir(exist_ok=True)
    (tmp_path / "tests" / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nfrom ci_skips import pytest_runtest_makereport\n"
    )
    (tmp_path / "tests" / "worker" / "test_strict.py").write_text(SKIPPING)
    (tmp_path / "tests" / "bake" / "test_lenient.py").write_text(SKIPPING)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_skips_under_ci_fail_in_strict_dirs_only(tmp_path: Path) -> None:
    proc = _run(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    # the skip in the test body fails its call, the skipif mark its setup (an error); bake/ keeps its skips
    assert proc.stdout.strip().splitlines()[-1].startswith("1 failed, 2 skipped, 2 xfailed, 1 error in")
    assert (
        "tests/worker/test_strict.py::test_needs_a_tool was skipped under CI (Skipped: the tool is not installed)"
        in proc.stdout
    )
    assert (
        "tests/worker/test_strict.py::test_marked was skipped under CI (Skipped: never on this machine)"
        in proc.stdout
    )


def test_skips_stay_skips_outside_ci(tmp_path: Path) -> None:
    for ci in (None, "false"):
        proc = _run(tmp_path, ci)
        assert proc.returncode == 0, proc.stdout
        assert "4 skipped, 2 xfailed" in proc.stdout.strip().splitlines()[-1]


def test_allowed_skips_name_tests_of_the_strict_dirs_with_a_reason() -> None:
    for nodeid, reason in ALLOWED_SKIPS.items():
        assert nodeid.startswith(STRICT_DIRS) and "[" not in nodeid and reason.strip(), nodeid
        path, _, name = nodeid.partition("::")
        assert f"def {name}(" in (TESTS.parent / path).read_text(), f"{nodeid} names no test"
