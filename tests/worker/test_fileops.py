"""fileops on real directories (as root, no mocks): escapes, owners, modes, archives, mkdir/mkfile/rm, speed."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.fs import fileops
from bakec.fs.fileops import Source
from bakec.fs.mode import parse_chmod
from bakec.ops import Copy, Mkdir, Mkfile, Rm
from bakec.util.patternmatch import PatternMatcher, go_match, split_wildcards

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="file operations set owners: needs root")


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "src"
    dst = tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    (src / "a.txt").write_text("a\n")
    return src, dst


def _mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def _owner(p: Path) -> tuple[int, int]:
    st = os.lstat(p)
    return st.st_uid, st.st_gid


# -- escapes ---------------------------------------------------------------------------------


def test_source_symlink_escaping_root_reads_inside_source(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    (src / "etc").mkdir()
    (src / "etc" / "passwd").write_text("source passwd\n")
    (src / "deep").mkdir()
    os.symlink("../../../../../../../etc", src / "deep" / "x")
    fileops.apply(str(dst), [Copy(0, "deep/x/passwd", "/got")], [Source(str(src))])
    assert (dst / "got").read_text() == "source passwd\n"


def test_source_symlink_to_host_path_is_not_followed_outside(
    roots: tuple[Path, Path], tmp_path: Path
) -> None:
    src, dst = roots
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    os.symlink(str(secret), src / "abs")
    with pytest.raises(BuildError, match='"/abs": not found'):
        fileops.apply(str(dst), [Copy(0, "abs", "/got")], [Source(str(src), local=True, name="ctx")])


def test_symlinks_inside_a_copied_dir_stay_links(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    (src / "d").mkdir()
    os.symlink("../../../etc", src / "d" / "x")
    fileops.apply(str(dst), [Copy(0, "d", "/d/")], [Source(str(src))])
    assert os.readlink(dst / "d" / "x") == "../../../etc"


def test_dest_symlink_escaping_root_writes_inside_root(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    os.symlink("../../../../../../../etc", dst / "x")
    fileops.apply(str(dst), [Copy(0, "a.txt", "/x/")], [Source(str(src))])
    assert (dst / "etc" / "a.txt").read_text() == "a\n"
    assert not Path("/etc/a.txt").exists()


def test_dest_absolute_symlink_is_inside_root(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), dst / "abs")
    fileops.apply(str(dst), [Copy(0, "a.txt", "/abs/")], [Source(str(src))])
    assert list(outside.iterdir()) == []
    assert (dst / str(outside).lstrip("/") / "a.txt").exists()


def test_dest_with_dotdot_lands_inside_root(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    fileops.apply(str(dst), [Copy(0, "a.txt", "/a/../../b")], [Source(str(src))])
    assert (dst / "b").read_text() == "a\n"
    assert not (dst.parent / "b").exists()


def test_source_with_dotdot_is_clamped(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    fileops.apply(str(dst), [Copy(0, "../../a.txt", "/c")], [Source(str(src))])
    assert (dst / "c").read_text() == "a\n"


def test_archive_entries_cannot_escape(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("../evil")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    (src / "evil.tar").write_bytes(buf.getvalue())
    with pytest.raises(BuildError, match="outside extraction root"):
        fileops.apply(str(dst), [Copy(0, "evil.tar", "/out/", unpack=True)], [Source(str(src))])
    assert not (tmp_path / "evil").exists()


def test_archive_absolute_hardlink_resolves_inside_root(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        f = tarfile.TarInfo("etc/passwd")
        f.size = 2
        tf.addfile(f, io.BytesIO(b"pw"))
        link = tarfile.TarInfo("b")
        link.type, link.linkname = tarfile.LNKTYPE, "/etc/passwd"
        tf.addfile(link)
    (src / "t.tar").write_bytes(buf.getvalue())
    fileops.apply(str(dst), [Copy(0, "t.tar", "/out/", unpack=True)], [Source(str(src))])
    assert (dst / "out" / "b").read_bytes() == b"pw"
    assert os.stat(dst / "out" / "b").st_ino == os.stat(dst / "out" / "etc" / "passwd").st_ino


def test_archive_hardlink_to_missing_entry_names_the_entry(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("b")
        link.type, link.linkname = tarfile.LNKTYPE, "/etc/passwd"
        tf.addfile(link)
    (src / "t.tar").write_bytes(buf.getvalue())
    with pytest.raises(BuildError) as info:
        fileops.apply(str(dst), [Copy(0, "t.tar", "/out/", unpack=True)], [Source(str(src))])
    assert str(info.value) == 'invalid hardlink "b" -> "/etc/passwd": link target not found in archive'
    assert str(dst) not in str(info.value)


def test_archive_symlink_then_file_through_it_stays_inside(roots: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("up")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        tf.addfile(link)
        f = tarfile.TarInfo("up/etc-file")
        f.size = 2
        tf.addfile(f, io.BytesIO(b"hi"))
    (src / "t.tar").write_bytes(buf.getvalue())
    fileops.apply(str(dst), [Copy(0, "t.tar", "/out/", unpack=True)], [Source(str(src))])
    assert (dst / "out" / "etc-file").read_bytes() == b"hi"


# -- owners and modes -----------------------------------------------------------------------


def test_from_stage_keeps_owners_local_context_resets_them(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    os.lchown(src / "a.txt", 1234, 5678)
    (src / "d").mkdir()
    os.lchown(src / "d", 11, 12)
    os.symlink("a.txt", src / "d" / "l")
    os.lchown(src / "d" / "l", 13, 14)
    fileops.apply(str(dst), [Copy(0, "a.txt", "/stage"), Copy(0, "d", "/sd/")], [Source(str(src))])
    assert _owner(dst / "stage") == (1234, 5678)
    assert _owner(dst / "sd" / "l") == (13, 14)
    fileops.apply(
        str(dst), [Copy(0, "a.txt", "/local"), Copy(0, "d", "/ld/")], [Source(str(src), local=True)]
    )
    assert _owner(dst / "local") == (0, 0)
    assert _owner(dst / "ld" / "l") == (0, 0)


def test_chown_names_from_destination_passwd(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (dst / "etc").mkdir()
    (dst / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\nweb:x:33:34::/var/www:/bin/sh\n")
    (dst / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    # a source /etc/passwd must not be used
    (src / "etc").mkdir()
    (src / "etc" / "passwd").write_text("web:x:1:1::/:/bin/sh\n")
    cases = {
        "web": (33, 34),
        "web:staff": (33, 50),
        "web:7": (33, 7),
        "9": (9, 9),
        "root:staff": (0, 50),
        "nobody": (0, 0),
        "web:nogroup": (33, 34),
        "web:": (33, 0),  # an empty part is id 0 (case 027)
        "5:": (5, 0),
        ":7": (0, 7),
    }
    for spec, want in cases.items():
        assert fileops.resolve_owner(spec, str(dst)) == want, spec


def test_chown_names_without_passwd_are_zero(tmp_path: Path) -> None:
    assert fileops.resolve_owner("app:grp", str(tmp_path)) == (0, 0)
    assert fileops.resolve_owner("5:6", str(tmp_path)) == (5, 6)


def test_chown_names_on_scratch_fail_ids_do_not(roots: tuple[Path, Path]) -> None:
    # a file op on an empty filesystem has no input to look names up in (cases 107, 108)
    src, dst = roots
    for spec in ("app", "1:grp", "app:0"):
        with pytest.raises(BuildError, match=r"^invalid user index: -1$"):
            fileops.apply(str(dst), [Copy(0, "a.txt", "/x", owner=spec)], [Source(str(src))], on_scratch=True)
    for spec in ("root:root", "5:", ":7", "3"):
        fileops.apply(str(dst), [Copy(0, "a.txt", "/x", owner=spec)], [Source(str(src))], on_scratch=True)
    assert _owner(dst / "x") == (3, 3)


def test_chown_applies_to_created_parents(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    fileops.apply(str(dst), [Copy(0, "a.txt", "/p/q/", owner="5:6")], [Source(str(src), local=True)])
    assert _owner(dst / "p") == (5, 6)
    assert _owner(dst / "p" / "q") == (5, 6)
    assert _owner(dst / "p" / "q" / "a.txt") == (5, 6)
    assert _mode(dst / "p") == 0o755


def test_octal_chmod_applies_to_created_parents_symbolic_does_not(roots: tuple[Path, Path]) -> None:
    # fsutil creates the missing parents with the octal mode's permission bits, exactly (buildkitd's
    # umask is 0); a symbolic mode leaves them 0755; existing directories are not touched
    src, dst = roots
    (dst / "old").mkdir(mode=0o755)
    copies = [
        Copy(0, "a.txt", "/n/d/", mode="640"),
        Copy(0, "a.txt", "/w/d/", mode="777"),
        Copy(0, "a.txt", "/u/d/", mode="4755"),
        Copy(0, "a.txt", "/s/d/", mode="u+x,g-w", owner="5:6"),
        Copy(0, "a.txt", "/old/new/", mode="700"),
    ]
    fileops.apply(str(dst), copies, [Source(str(src), local=True)])
    assert [_mode(dst / p) for p in ("n", "n/d", "n/d/a.txt")] == [0o640, 0o640, 0o640]
    assert [_mode(dst / p) for p in ("w", "w/d", "w/d/a.txt")] == [0o777, 0o777, 0o777]
    assert [_mode(dst / p) for p in ("u", "u/d", "u/d/a.txt")] == [0o755, 0o755, 0o4755]
    assert [_mode(dst / p) for p in ("s", "s/d")] == [0o755, 0o755] and _owner(dst / "s" / "d") == (5, 6)
    assert (_mode(dst / "old"), _mode(dst / "old" / "new")) == (0o755, 0o700)


@pytest.mark.parametrize(
    ("spec", "mode", "is_dir", "want"),
    [
        ("755", 0o600, False, 0o755),
        ("0640", 0o755, True, 0o640),
        ("4755", 0o644, False, 0o4755),
        ("+x", 0o644, False, 0o755),
        ("u=rwX,go=rX", 0o700, True, 0o755),
        ("u=rwX,go=rX", 0o600, False, 0o644),
        ("u=rwX,go=rX", 0o744, False, 0o755),
        ("g=u", 0o644, False, 0o664),
        ("go-w", 0o777, False, 0o755),
        ("a=rw", 0o755, False, 0o666),
        ("=rw", 0o755, False, 0o666),  # no umask limits the unqualified form (case 029)
        ("+w", 0o444, False, 0o666),
        ("+rwx", 0o644, False, 0o777),
        ("+X", 0o644, False, 0o644),
        ("+X", 0o644, True, 0o755),
        ("u+s,+t", 0o755, True, 0o5755),
        ("o=u", 0o750, False, 0o757),
        ("u=rwx,go=u-w", 0o000, False, 0o755),
        ("a-x", 0o4755, False, 0o4644),
    ],
)
def test_chmod_forms(spec: str, mode: int, is_dir: bool, want: int) -> None:
    fn = parse_chmod(spec)
    assert fn is not None
    assert fn(mode, is_dir) == want


@pytest.mark.parametrize("spec", ["999", "10000", "8", "u+q", "z=r", "u", "u+x,"])
def test_chmod_invalid(spec: str) -> None:
    with pytest.raises(BuildError, match="invalid chmod parameter"):
        parse_chmod(spec)


def test_octal_chmod_applies_to_dirs_and_files_symbolic_relative(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (src / "d" / "sub").mkdir(parents=True)
    os.chmod(src / "d" / "sub", 0o700)
    (src / "d" / "sub" / "x").write_text("x")
    os.chmod(src / "d" / "sub" / "x", 0o600)
    os.symlink("x", src / "d" / "sub" / "l")
    fileops.apply(
        str(dst), [Copy(0, "d", "/o/", mode="750"), Copy(0, "d", "/s/", mode="go+r")], [Source(str(src))]
    )
    assert (_mode(dst / "o" / "sub"), _mode(dst / "o" / "sub" / "x")) == (0o750, 0o750)
    assert (_mode(dst / "s" / "sub"), _mode(dst / "s" / "sub" / "x")) == (0o744, 0o644)
    assert os.readlink(dst / "o" / "sub" / "l") == "x"


def test_setuid_bits_survive_chown(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    os.chmod(src / "a.txt", 0o6755)
    fileops.apply(str(dst), [Copy(0, "a.txt", "/s", owner="1:2")], [Source(str(src))])
    assert _mode(dst / "s") == 0o6755
    assert _owner(dst / "s") == (1, 2)


# -- metadata -------------------------------------------------------------------------------


def test_times_xattrs_fifos_and_hardlinks_are_kept(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (src / "d").mkdir()
    (src / "d" / "f").write_text("f")
    os.link(src / "d" / "f", src / "d" / "g")
    os.mkfifo(src / "d" / "pipe", 0o640)
    os.utime(src / "d" / "f", ns=(1_500_000_000_123_456_789, 1_600_000_000_987_654_321))
    os.utime(src / "d", ns=(1_400_000_000_000_000_000, 1_400_000_000_000_000_000))
    try:
        os.setxattr(src / "d" / "f", "user.note", b"kept")
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    fileops.apply(str(dst), [Copy(0, "d", "/d"), Copy(0, "d/g", "/single")], [Source(str(src))])
    st = os.lstat(dst / "d" / "f")
    assert st.st_mtime_ns == 1_600_000_000_987_654_321
    assert st.st_ino == os.lstat(dst / "d" / "g").st_ino
    assert os.lstat(dst / "single").st_ino != st.st_ino
    assert os.getxattr(dst / "d" / "f", "user.note") == b"kept"
    assert stat.S_ISFIFO(os.lstat(dst / "d" / "pipe").st_mode)
    assert _mode(dst / "d" / "pipe") == 0o640


def test_nested_dir_times_are_set_after_contents(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (src / "d" / "sub").mkdir(parents=True)
    (src / "d" / "sub" / "f").write_text("f")
    os.utime(src / "d" / "sub", ns=(10**18, 10**18))
    fileops.apply(str(dst), [Copy(0, "d", "/d")], [Source(str(src))])
    assert os.lstat(dst / "d" / "sub").st_mtime_ns == 10**18


def test_timestamp_overrides_times(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    fileops.apply(str(dst), [Copy(0, "a.txt", "/n/a")], [Source(str(src))], timestamp_ns=42 * 10**9)
    assert os.lstat(dst / "n" / "a").st_mtime_ns == 42 * 10**9


def test_copy_replaces_file_but_not_dir(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (dst / "f").write_text("old")
    os.link(dst / "f", dst / "f2")
    fileops.apply(str(dst), [Copy(0, "a.txt", "/f")], [Source(str(src))])
    assert (dst / "f").read_text() == "a\n" and (dst / "f2").read_text() == "old"
    (dst / "dir" / "a.txt").mkdir(parents=True)
    with pytest.raises(BuildError, match="cannot replace to directory"):
        fileops.apply(str(dst), [Copy(0, "a.txt", "/dir/")], [Source(str(src))])


def test_wildcard_without_matches_and_errors(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    fileops.apply(str(dst), [Copy(0, "*.none", "/x/")], [Source(str(src))])
    assert not (dst / "x").exists()
    with pytest.raises(BuildError, match='"/\\*.none": not found'):
        fileops.apply(str(dst), [Copy(0, "*.none", "/x/", allow_empty_wildcard=False)], [Source(str(src))])
    with pytest.raises(BuildError, match='"/nope": not found'):
        fileops.apply(str(dst), [Copy(0, "nope", "/x/")], [Source(str(src), name="ref1")])


def test_parents_without_wildcards_requires_the_path(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    with pytest.raises(BuildError, match='"/x/missing": not found'):
        fileops.apply(str(dst), [Copy(0, "x/missing", "/p/", parents=True)], [Source(str(src))])


def test_dockerignore_hides_sources_and_wildcard_matches(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    (src / "b.log").write_text("b")
    (src / "keep.log").write_text("k")
    source = Source(str(src), local=True, ignore=("*.log", "!keep.log"))
    fileops.apply(str(dst), [Copy(0, "*.log", "/logs/")], [source])
    assert sorted(os.listdir(dst / "logs")) == ["keep.log"]
    with pytest.raises(BuildError, match="not found"):
        fileops.apply(str(dst), [Copy(0, "b.log", "/x")], [source])


def test_zstd_archive_is_extracted(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("z/file")
        info.size, info.mode, info.uid, info.gid = 3, 0o640, 7, 8
        tf.addfile(info, io.BytesIO(b"zst"))
    compressed = subprocess.run(
        ["zstd", "-q", "-c"], input=buf.getvalue(), stdout=subprocess.PIPE, check=True
    ).stdout
    (src / "a.tzst").write_bytes(compressed)
    fileops.apply(str(dst), [Copy(0, "a.tzst", "/u", unpack=True)], [Source(str(src))])
    assert (dst / "u" / "z" / "file").read_bytes() == b"zst"
    assert _owner(dst / "u" / "z" / "file") == (7, 8)
    assert _mode(dst / "u" / "z" / "file") == 0o640
    assert (_mode(dst / "u" / "z"), _owner(dst / "u" / "z")) == (0o755, (0, 0))


def test_add_archive_chown_overrides_archive_owners(roots: tuple[Path, Path]) -> None:
    src, dst = roots
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("f")
        info.size, info.uid, info.gid = 1, 7, 8
        tf.addfile(info, io.BytesIO(b"x"))
    (src / "a.tgz").write_bytes(buf.getvalue())
    fileops.apply(str(dst), [Copy(0, "a.tgz", "/u/", unpack=True, owner="3:4")], [Source(str(src))])
    assert _owner(dst / "u" / "f") == (3, 4)
    # COPY (unpack=False) never extracts
    fileops.apply(str(dst), [Copy(0, "a.tgz", "/c/")], [Source(str(src))])
    assert (dst / "c" / "a.tgz").read_bytes() == buf.getvalue()


# -- mkdir, mkfile, rm, checksum ------------------------------------------------------------


def test_mkdir_with_and_without_parents(tmp_path: Path) -> None:
    fileops.apply(str(tmp_path), [Mkdir("/w/x", 0o755, "3:4", True)])
    assert _owner(tmp_path / "w") == (3, 4) and _mode(tmp_path / "w" / "x") == 0o755
    fileops.apply(str(tmp_path), [Mkdir("/w/x", 0o700, "", False)])  # exists: nothing happens
    assert _mode(tmp_path / "w" / "x") == 0o755
    with pytest.raises(BuildError, match="no such file"):
        fileops.apply(str(tmp_path), [Mkdir("/a/b", 0o755, "", False)])


def test_mkdir_follows_symlinks_inside_root(tmp_path: Path) -> None:
    os.symlink("/real", tmp_path / "wd")
    fileops.apply(str(tmp_path), [Mkdir("/wd/sub", 0o755, "", True)])
    assert (tmp_path / "real" / "sub").is_dir()


def test_mkfile_writes_exact_mode_and_replaces(tmp_path: Path) -> None:
    fileops.apply(str(tmp_path), [Mkfile("/s.sh", "#!/bin/sh\n", 0o777, "5")])
    assert _mode(tmp_path / "s.sh") == 0o777 and _owner(tmp_path / "s.sh") == (5, 5)
    fileops.apply(str(tmp_path), [Mkfile("/s.sh", "new", 0o644)])
    assert (tmp_path / "s.sh").read_text() == "new" and _mode(tmp_path / "s.sh") == 0o644


def test_mkfile_chmod_as_the_heredoc_copy_applies_it(tmp_path: Path) -> None:
    # case 028: an octal --chmod also makes the parents, a symbolic one changes the 0644 file only
    fileops.apply(
        str(tmp_path),
        [Mkfile("/o/d/f", "one", 0o644, "4:5", chmod="700"), Mkfile("/s/d/f", "two", 0o644, chmod="u+x")],
    )
    assert [_mode(tmp_path / p) for p in ("o", "o/d", "o/d/f")] == [0o700, 0o700, 0o700]
    assert _owner(tmp_path / "o" / "d") == (4, 5)
    assert [_mode(tmp_path / p) for p in ("s", "s/d", "s/d/f")] == [0o755, 0o755, 0o744]


def test_rm_entries_wildcards_and_missing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.o").write_text("")
    (tmp_path / "d" / "b.o").write_text("")
    (tmp_path / "keep").write_text("k")
    os.symlink("/keep", tmp_path / "link")
    fileops.apply(str(tmp_path), [Rm("/d/*.o", allow_wildcard=True), Rm("/link")])
    assert os.listdir(tmp_path / "d") == []
    assert (tmp_path / "keep").exists() and not os.path.lexists(tmp_path / "link")
    fileops.apply(str(tmp_path), [Rm("/gone")])
    with pytest.raises(BuildError, match="no such file"):
        fileops.apply(str(tmp_path), [Rm("/gone", allow_not_found=False)])
    fileops.apply(str(tmp_path), [Rm("/d")])
    assert not (tmp_path / "d").exists()


def test_verify_checksum(tmp_path: Path) -> None:
    f = tmp_path / "dl"
    f.write_bytes(b"{}")
    good = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    assert fileops.verify_checksum(str(f), good) == good
    with pytest.raises(BuildError, match="digest mismatch"):
        fileops.verify_checksum(str(f), "sha256:" + "0" * 64)


# -- matching -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "want"),
    [
        ("*.txt", "a.txt", True),
        ("*.txt", "d/a.txt", False),
        ("sub/*/leaf.txt", "sub/x/leaf.txt", True),
        ("file?.md", "fileXX.md", False),
        ("[ab].dat", "c.dat", False),
        ("[^a].dat", "b.dat", True),
        ("[a-c]*", "b1", True),
        ("\\*", "*", True),
        ("[", "[", False),
    ],
)
def test_go_match(pattern: str, name: str, want: bool) -> None:
    assert go_match(pattern, name) is want


def test_split_wildcards() -> None:
    assert split_wildcards("/foo/bar*/baz") == ("/foo", "bar*/baz")
    assert split_wildcards("/a/b") == ("/a/b", "")
    assert split_wildcards("/*.txt") == ("/", "*.txt")


def test_pattern_matcher_parent_results() -> None:
    m = PatternMatcher(["skip*", "!skipme/keep"])
    hit, info = m.matches_with_parent("skipme", None)
    assert hit
    assert m.matches_with_parent("skipme/keep", info)[0] is False
    assert m.matches_with_parent("skipme/other", info)[0] is True
    assert PatternMatcher(["**/*.go"]).matches("a/b/c.go")
    assert not PatternMatcher(["*.md"]).matches("dir/x.md")


# -- a large COPY ---------------------------------------------------------------------------
# (its speed is measured by bench/, never asserted in a test: these cores are shared)


def test_copy_of_20000_files_copies_every_file_and_byte(tmp_path: Path) -> None:
    """A 20,000-file COPY from a local context lands whole."""
    src = tmp_path / "ctx"
    expected_bytes = 0
    for d in range(200):
        sub = src / f"pkg{d:03d}"
        sub.mkdir(parents=True)
        for f in range(100):
            size = f * 37 % 4096
            (sub / f"f{f:03d}.txt").write_bytes(b"x" * size)
            expected_bytes += size
    dst = tmp_path / "root"
    dst.mkdir()
    stats = fileops.apply(str(dst), [Copy(0, ".", "/app/")], [Source(str(src), local=True)])
    assert stats.files == 20_000 and stats.dirs == 200 and stats.bytes == expected_bytes
    assert (dst / "app/pkg199/f099.txt").read_bytes() == b"x" * (99 * 37 % 4096)
    assert sum(1 for _ in (dst / "app").rglob("*.txt")) == 20_000
