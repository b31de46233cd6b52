"""The repository's copies of the corpora, schemas and workload generator against ../shared.

../shared (beside the checkout, or $BAKEC_SHARED_DIR) is where new conformance cases
arrive: when it is there, any file that differs, is missing from the copy or exists only
in the copy fails ``test_copies_equal_shared`` with the list, so a new case is noticed
and pulled in with ``scripts/sync-shared``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from corpus import MIRRORED, REPO, SHARED, drift

SYNC = REPO / "scripts" / "sync-shared"


@pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"no ../shared beside the checkout ({SHARED}): nothing to compare"
)
def test_copies_equal_shared() -> None:
    differences = drift()
    assert not differences, (
        f"the repository's copies differ from {SHARED} (run scripts/sync-shared):\n"
        + "\n".join(map(str, differences))
    )


def _scratch(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny shared/ and a repository whose copies of it are equal."""
    shared, repo = tmp_path / "shared", tmp_path / "repo"
    for copy_rel, source_rel in MIRRORED:
        for root, rel in ((shared, source_rel), (repo, copy_rel)):
            if rel.endswith(".py"):
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text("print('workloads')\n")
            else:
                (root / rel / "001-case").mkdir(parents=True)
                (root / rel / "001-case" / "case.json").write_text("{}\n")
                (root / rel / "README.md").write_text("# corpus\n")
    return shared, repo


def _sync(shared: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SYNC), "--shared", str(shared), "--repo", str(repo), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_drift_lists_missing_changed_and_extra_files(tmp_path: Path) -> None:
    shared, repo = _scratch(tmp_path)
    assert drift(repo, shared) == []
    (shared / "conformance" / "002-new").mkdir()
    (shared / "conformance" / "002-new" / "case.json").write_text("{}\n")
    (shared / "bench" / "gen_workloads.py").write_text("print('more workloads')\n")
    (repo / "tests/data/schemas/001-case/stale.json").write_text("{}\n")
    assert list(map(str, drift(repo, shared))) == [
        "missing tests/data/conformance/002-new/case.json",
        "extra tests/data/schemas/001-case/stale.json",
        "differs bench/gen_workloads.py",
    ]


def test_own_cases_are_not_drift_and_sync_keeps_them(tmp_path: Path) -> None:
    shared, repo = _scratch(tmp_path)
    own = repo / "tests/data/conformance/420-own"
    own.mkdir()
    (own / "case.json").write_text('{"origin": "bakec"}\n')
    (own / "expected.json").write_text("{}\n")
    stray = repo / "tests/data/conformance/421-stray"
    stray.mkdir()
    (stray / "case.json").write_text("{}\n")
    assert list(map(str, drift(repo, shared))) == ["extra tests/data/conformance/421-stray/case.json"]
    assert _sync(shared, repo).stdout.splitlines() == ["removed tests/data/conformance/421-stray/case.json"]
    assert (own / "expected.json").exists()


def test_sync_script_makes_the_copies_equal_to_shared(tmp_path: Path) -> None:
    shared, repo = _scratch(tmp_path)
    (shared / "conformance" / "002-new").mkdir()
    (shared / "conformance" / "002-new" / "case.json").write_text('{"new": true}\n')
    (shared / "conformance" / "002-new" / "case.json").chmod(0o444)  # as ../shared's files are
    (shared / "schemas" / "README.md").write_text("# schemas, revised\n")
    (repo / "tests/data/conformance/003-gone").mkdir()
    (repo / "tests/data/conformance/003-gone/case.json").write_text("{}\n")

    check = _sync(shared, repo, "--check")
    assert (check.returncode, check.stdout.splitlines()) == (
        1,
        [
            "missing tests/data/conformance/002-new/case.json",
            "extra tests/data/conformance/003-gone/case.json",
            "differs tests/data/schemas/README.md",
        ],
    )
    synced = _sync(shared, repo)
    assert (synced.returncode, synced.stdout.splitlines()) == (
        0,
        [
            "added tests/data/conformance/002-new/case.json",
            "removed tests/data/conformance/003-gone/case.json",
            "updated tests/data/schemas/README.md",
        ],
    ), synced.stderr
    assert (repo / "tests/data/conformance/002-new/case.json").read_text() == '{"new": true}\n'
    assert (repo / "tests/data/schemas/README.md").read_text() == "# schemas, revised\n"
    assert not (repo / "tests/data/conformance/003-gone").exists()
    assert drift(repo, shared) == []
    assert _sync(shared, repo).stdout == ""


def test_cases_made_in_the_repository_are_not_drift(tmp_path: Path) -> None:
    shared, repo = _scratch(tmp_path)
    own = repo / "tests/data/conformance/dockerfile/106-own"
    (own / "context").mkdir(parents=True)
    (own / "case.json").write_text('{"origin": "bakec"}\n')
    (own / "context" / "Dockerfile").write_text("FROM scratch\n")
    stray = repo / "tests/data/conformance/dockerfile/107-stray"
    stray.mkdir()
    (stray / "case.json").write_text("{}\n")
    assert list(map(str, drift(repo, shared))) == [
        "extra tests/data/conformance/dockerfile/107-stray/case.json"
    ]
    assert _sync(shared, repo).returncode == 0
    assert (own / "context" / "Dockerfile").is_file() and not stray.exists()
