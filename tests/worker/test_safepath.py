"""safepath: paths resolved inside a root, as BuildKit's fs.RootPath (real directories, no mocks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.util import safepath


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "a" / "b").mkdir(parents=True)
    (r / "a" / "b" / "f").write_text("f")
    (r / "etc").mkdir()
    (r / "etc" / "passwd").write_text("inside\n")
    return r


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("", "/"),
        ("/", "/"),
        ("a/b/", "/a/b"),
        ("/a/./b//c", "/a/b/c"),
        ("/a/../../b", "/b"),
        ("../../..", "/"),
        ("/../etc/passwd", "/etc/passwd"),
    ],
)
def test_clean_clamps_at_root(path: str, want: str) -> None:
    assert safepath.clean(path) == want


def test_plain_paths_resolve_below_root(root: Path) -> None:
    assert safepath.resolve(str(root), "/a/b/f") == f"{root}/a/b/f"
    assert safepath.resolve(str(root), "/") == str(root)
    assert safepath.resolve(str(root), "/new/dir") == f"{root}/new/dir"


def test_relative_symlink_escape_is_clamped(root: Path) -> None:
    os.symlink("../../../../../../etc", root / "a" / "x")
    assert safepath.resolve(str(root), "/a/x/passwd") == f"{root}/etc/passwd"


def test_absolute_symlink_is_relative_to_root(root: Path) -> None:
    os.symlink("/etc", root / "abs")
    assert safepath.resolve(str(root), "/abs/passwd") == f"{root}/etc/passwd"


def test_dotdot_after_symlink_is_physical(root: Path) -> None:
    os.symlink("a/b", root / "l")
    # /l is /a/b, so /l/.. is /a (not /)
    assert safepath.resolve(str(root), "/l/../b/f") == f"{root}/a/b/f"


def test_final_symlink_followed_or_not(root: Path) -> None:
    os.symlink("/a/b/f", root / "link")
    assert safepath.resolve(str(root), "/link") == f"{root}/a/b/f"
    assert safepath.resolve(str(root), "/link", follow=False) == f"{root}/link"


def test_dangling_symlink_resolves_to_missing_target(root: Path) -> None:
    os.symlink("/nowhere/x", root / "dangling")
    assert safepath.resolve(str(root), "/dangling") == f"{root}/nowhere/x"


def test_symlink_loop_is_an_error(root: Path) -> None:
    os.symlink("l2", root / "l1")
    os.symlink("l1", root / "l2")
    with pytest.raises(BuildError, match="too many links"):
        safepath.resolve(str(root), "/l1/x")


def test_result_never_leaves_root(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), root / "hostabs")
    os.symlink("../../outside", root / "a" / "up")
    for p in ("/hostabs", "/a/up", "/a/up/x", "/hostabs/../../..", "/a/b/../../../../outside"):
        got = safepath.resolve(str(root), p)
        assert got == str(root) or got.startswith(f"{root}/"), (p, got)


def test_mkdir_all_creates_parents_with_mode_and_owner(root: Path) -> None:
    target = safepath.resolve(str(root), "/n1/n2/n3")
    created = safepath.mkdir_all(str(root), target, 0o755, (7, 8), 1_600_000_000 * 10**9)
    assert created == [f"{root}/n1", f"{root}/n1/n2", f"{root}/n1/n2/n3"]
    for p in created:
        st = os.lstat(p)
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o755, 7, 8)
        assert st.st_mtime_ns == 1_600_000_000 * 10**9
    assert safepath.mkdir_all(str(root), target) == []


def test_mkdir_all_refuses_a_file_in_the_way(root: Path) -> None:
    with pytest.raises(BuildError, match="not a directory"):
        safepath.mkdir_all(str(root), f"{root}/a/b/f/sub")


def test_mkdir_all_through_escaping_symlink_stays_inside(root: Path, tmp_path: Path) -> None:
    os.symlink("../../../../../..", root / "esc")
    target = safepath.resolve(str(root), "/esc/made")
    safepath.mkdir_all(str(root), target)
    assert (root / "made").is_dir()
    assert not (tmp_path / "made").exists()
