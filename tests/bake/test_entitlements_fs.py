"""fs.read / fs.write entitlements: buildx's path rules (bake/entitlements_test.go) on a real filesystem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakec.bake.entitlements_fs import check, existing_prefix, granted_by_overrides, missing, requested, shown
from bakec.bake.model import Target
from bakec.errors import BuildError
from bakec.worker.entitlements import Entitlements, grant


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "link-to-file").symlink_to(tmp_path / "file")
    (tmp_path / "link-to-dir").symlink_to(tmp_path / "dir")
    (tmp_path / "dir" / "escape").symlink_to("../../aa")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("file", ("file", "")),
        ("dir", ("dir", "")),
        ("link-to-file", ("file", "")),
        ("link-to-dir", ("dir", "")),
        ("nonexistent/path/file.txt", ("", "nonexistent/path/file.txt")),
        ("link-to-dir/new/x", ("dir", "new/x")),
        ("dir/../file", ("file", "")),
    ],
)
def test_existing_prefix_follows_symlinks_up_to_the_first_missing_part(
    tree: Path, path: str, expected
) -> None:  # type: ignore[no-untyped-def]
    existing, rest = existing_prefix(str(tree / path))
    assert (existing, rest) == (
        str(tree / expected[0]).rstrip("/") if expected[0] else str(tree),
        expected[1],
    )
    assert existing_prefix("/") == ("/", "")


def test_a_file_in_the_middle_of_a_path_is_an_error(tree: Path) -> None:
    with pytest.raises(BuildError, match="not a directory"):
        existing_prefix(str(tree / "file" / "below"))


def test_missing_paths_as_buildx_validates_them(tree: Path) -> None:
    cwd = str(tree / "dir")
    # a secret under an allowed directory is covered; a symlink escaping it is not
    assert missing([str(tree)], [str(tree / "file")], cwd) == []
    assert missing([cwd], [str(tree / "dir" / "escape")], cwd) == [str(tree.parent)]
    assert missing(["/"], [str(tree / "dir" / "escape")], cwd) == []
    assert missing(["*"], ["/etc/hostname"], cwd) == []
    # only a subpath of a directory the build writes was allowed: the directory is still needed
    assert missing([str(tree / "dir" / "not" / "exists")], [str(tree / "dir")], cwd) == [cwd]
    # a dest that does not exist yet needs its nearest existing parent
    assert missing([str(tree / "dir" / "not" / "exists")], [str(tree / "dir" / "not" / "exists")], cwd) == [
        cwd
    ]
    assert missing([cwd], [str(tree / "dir" / "not" / "exists")], cwd) == []
    # paths under another missing path are left out; whole components only
    assert missing([], [str(tree / "dir"), str(tree / "dir" / "x"), str(tree / "file")], "/") == [
        str(tree / "dir"),
        str(tree / "file"),
    ]
    (tree / "dirx").mkdir()
    assert missing([str(tree / "dir")], [str(tree / "dirx")], cwd) == [str(tree / "dirx")]


def test_paths_are_shown_relative_when_at_most_one_level_up(tree: Path) -> None:
    cwd = tree / "dir"
    assert shown([str(tree / "file"), str(cwd / "a"), "/etc"], str(cwd)) == ["../file", "a", "/etc"]


def test_requested_paths_of_a_target() -> None:
    target = Target(
        "t",
        context="../ctx",
        dockerfile="Dockerfile.app",
        contexts={
            "a": "../named",
            "b": "docker-image://alpine",
            "c": "target:other",
            "d": "cwd://here",
            "e": "https://github.com/o/r.git",
        },
        secret=[{"id": "s", "src": "/run/secret"}, {"id": "e", "env": "E"}],
        ssh=[{"id": "default"}, {"id": "k", "paths": ["/keys/id"]}],
        cache_from=[{"type": "local", "src": "../cache"}, {"type": "registry", "ref": "r/x"}],
        cache_to=[{"type": "local", "dest": "../cache-out"}],
        output=[
            {"type": "local", "dest": "../out"},
            {"type": "tar", "dest": "-"},
            {"type": "oci", "dest": "i.tar"},
            {"type": "docker"},
            {"type": "image", "name": "x"},
        ],
    )
    got = requested({"t": target}, "/w")
    assert got.read == {
        "/ctx",
        "/ctx/Dockerfile.app",
        "/named",
        "/w/here",
        "/run/secret",
        "/keys/id",
        "/cache",
    }
    assert got.write == {"/cache-out", "/out", "/w/i.tar"}
    remote = Target("t", context="https://github.com/o/r.git", dockerfile="cwd://Dockerfile")
    assert requested({"t": remote}, "/w").read == {"/w/Dockerfile"}


def test_set_values_grant_the_paths_they_name() -> None:
    read, write, names = granted_by_overrides(
        [
            "*.output=type=local,dest=../o",
            "*.cache-to=type=local,dest=../c",
            "*.cache-from=type=local,src=../f",
            "*.secrets=id=s,src=/s",
            "*.ssh=k=/key",
            "*.entitlements=network.host",
            "*.tags=x",
        ],
        {},
    )
    assert (read, write, names) == (["../f", "/s", "/key"], ["../o", "../c"], ["network.host"])


def test_check_lists_what_the_working_directory_and_allow_leave_out(tree: Path) -> None:
    cwd = tree / "dir"
    target = Target("t", context="..", dockerfile="Dockerfile", output=[{"type": "local", "dest": "out"}])
    verdict = check({"t": target}, [], [], env={}, cwd=str(cwd))
    assert (verdict.read, verdict.write, verdict.enforced, verdict.hint) == ([".."], [], True, True)
    assert check({"t": target}, [str(tree)], [], env={}, cwd=str(cwd)).read == []
    off = check({"t": target}, [], [], env={"BUILDX_BAKE_ENTITLEMENTS_FS": "false"}, cwd=str(cwd))
    assert (off.enforced, off.hint) == (False, False)
    remote = check({"t": target}, [], [], env={"BAKE_ALLOW_REMOTE_FS_ACCESS": "1"}, cwd=str(cwd), remote=True)
    assert (remote.enforced, remote.hint) == (False, True)
    with pytest.raises(BuildError, match='failed to parse BUILDX_BAKE_ENTITLEMENTS_FS value "maybe"'):
        check({"t": target}, [], [], env={"BUILDX_BAKE_ENTITLEMENTS_FS": "maybe"}, cwd=str(cwd))


def test_grant_prints_buildx_summary_for_paths() -> None:
    printed: list[str] = []
    with pytest.raises(BuildError, match="additional privileges requested"):
        grant(
            ["network.host"],
            Entitlements(),
            fs_read=["../ctx", "../shared"],
            fs_write=["../shared", "/out"],
            fs_hint=True,
            argv=["bakec", "build", "app"],
            out=printed.append,
        )
    assert printed == [
        (
            "Your build is requesting privileges for following possibly insecure capabilities:\n"
            "\n"
            " - Running build containers that can access host network\n"
            " - Read and write access to path ../shared\n"
            " - Read access to path ../ctx\n"
            " - Write access to path /out\n"
            "\n"
            'Pass "--allow=network.host --allow=fs=../shared --allow=fs.read=../ctx --allow=fs.write=/out" '
            "to grant requested privileges.\n"
            "\n"
            "Your full command with requested privileges:\n"
            "\n"
            "bakec build --allow=network.host --allow=fs=../shared --allow=fs.read=../ctx --allow=fs.write=/out app\n"
            "\n"
            "To disable filesystem entitlements checks, you can set BUILDX_BAKE_ENTITLEMENTS_FS=0 .\n"
            "\n"
        )
    ]


def test_with_fs_checks_off_missing_paths_are_listed_but_do_not_fail() -> None:
    printed: list[str] = []
    grant([], Entitlements(), fs_read=["../ctx"], fs_checks=False, out=printed.append)
    assert " - Read access to path ../ctx\n" in printed[0]
    with pytest.raises(BuildError):  # a privileged entitlement still fails, paths or not
        grant(["security.insecure"], Entitlements(), fs_read=["../ctx"], fs_checks=False, out=printed.append)


def test_allow_accepts_buildx_keys() -> None:
    assert Entitlements.parse(["fs=*", "buildx.local.delete"]) == Entitlements(
        fs_read=("*",), fs_write=("*",)
    )
    assert Entitlements().granting(["network.host"]).network_host


def test_the_working_directory_symlinked_is_still_allowed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    cwd = str(tmp_path / "alias")
    target = Target("t", context=".", dockerfile="Dockerfile", output=[{"type": "local", "dest": "out"}])
    verdict = check({"t": target}, [], [], env={}, cwd=cwd)
    assert (verdict.read, verdict.write) == ([], [])
    assert os.path.realpath(cwd) == str(tmp_path / "real")


def test_set_output_dest_grants_itself_once_it_exists(tmp_path: Path) -> None:
    # buildx appends a --set dest to the allowed write paths, and a requested path counts as its
    # nearest existing parent: an existing dest covers itself, a new one still needs its parent
    # (bake/entitlements_test.go NonExistingAllowedPathMatches: "the build also needs to write
    # not/exists directory").
    cwd = tmp_path / "work"
    cwd.mkdir()
    outside = tmp_path / "out"
    outside.mkdir()
    dest = outside / "newdir"
    override = [f"*.output=type=local,dest={dest}"]
    target = Target("t", context=".", dockerfile="Dockerfile", output=[{"type": "local", "dest": str(dest)}])
    new = check({"t": target}, [], [], overrides=override, env={}, cwd=str(cwd))
    assert new.write == ["../out"]  # shown relative to the working directory, as buildx prints it
    dest.mkdir()
    existing = check({"t": target}, [], [], overrides=override, env={}, cwd=str(cwd))
    assert existing.write == []
