"""Helpers to replay conformance cases' COPY/ADD steps with bakec.fs.fileops on real directories.

A case's ``context/`` is copied to a scratch directory and normalised the way the
corpus README says, and the result of the steps is walked like ``expected-fs.json``
(the corpus rules live in tests/conformance/dockerfile_oracle.py, shared with the
executor-level corpus test tests/conformance/test_dockerfile_build.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conformance.dockerfile_oracle import (
    BUSYBOX_APPLETS,
    COMPARED,
    CORPUS,
    expected_fs,
    expected_layers,
    fs_result,
    make_context,
    walk,
)


def case_dir(prefix: str) -> Path:
    (found,) = CORPUS.glob(prefix + "-*")
    return found


def busybox_root(dest: Path) -> Path:
    """The corpus base image's filesystem: /bin with busybox and its applet links."""
    root = dest / "rootfs"
    (root / "bin").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "bin", 0o755)
    bb = root / "bin" / "busybox"
    src = Path("/bin/busybox")
    bb.write_bytes(src.read_bytes() if src.exists() else b"busybox stand-in\n")
    os.chmod(bb, 0o755)
    for applet in BUSYBOX_APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    return root


def run_stubs(root: Path) -> None:
    """What every RUN leaves behind on the busybox base: runc's /dev, /proc and /sys."""
    for name in ("dev", "proc", "sys"):
        p = root / name
        if not p.exists():
            p.mkdir()
            os.chmod(p, 0o755)


def layer_paths(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """Paths a layer between two walks would hold: new or changed entries (dir mtimes count)."""
    out = []
    for path in sorted(after):
        a = after[path]
        b = before.get(path)
        if b is None or any(a.get(k) != b.get(k) for k in COMPARED + ("_mtime",)):
            out.append(path)
    return out


# -- the cases ------------------------------------------------------------------------------

from bakec.dockerfile.dockerignore import read_patterns  # noqa: E402
from bakec.errors import BuildError  # noqa: E402
from bakec.fs import fileops  # noqa: E402
from bakec.fs.fileops import Source  # noqa: E402
from bakec.ops import Copy, Mkdir  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="file operations set owners: needs root")


def _cp(src: str, dest: str, **kw: Any) -> Copy:
    return Copy(0, src, dest, **kw)


class Build:
    """One stage replayed step by step: a root, the case's context, and per-step layer paths."""

    def __init__(self, tmp: Path, case: Path, *, base: bool = False, ignore: tuple[str, ...] = ()) -> None:
        self.case = case
        self.ctx = make_context(case, tmp)
        self.source = Source(str(self.ctx), local=True, ignore=ignore, name="context")
        if base:
            self.root = busybox_root(tmp)
            self.base: dict[str, dict[str, Any]] | None = walk(self.root)
        else:
            self.root = tmp / "rootfs"
            self.root.mkdir()
            self.base = None
        self.layers: list[list[str]] = []

    def step(self, *actions: Any, sources: tuple[Any, ...] | None = None) -> None:
        before = walk(self.root)
        fileops.apply(str(self.root), actions, sources if sources is not None else (self.source,))
        self.layers.append(layer_paths(before, walk(self.root)))

    def run(self, fn: Any) -> None:
        """A RUN step, emulated in Python (the corpus RUNs only write files)."""
        before = walk(self.root)
        fn(self.root)
        run_stubs(self.root)
        self.layers.append(layer_paths(before, walk(self.root)))

    def check(self) -> None:
        assert fs_result(self.root, self.base) == expected_fs(self.case)
        want = [[e["path"] for e in layer] for layer in expected_layers(self.case)]
        assert self.layers == want


def test_001_scratch_copy_file(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("001"))
    b.step(_cp("hello.txt", "/hello.txt"))
    b.check()


def test_002_copy_dir_contents(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("002"))
    b.step(_cp("dir", "/a"))
    b.step(_cp("dir/", "/b/"))
    b.step(_cp("dir/sub", "/c/sub"))
    b.check()


def test_003_copy_wildcards(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("003"))
    b.step(_cp("*.txt", "/txt/"))
    b.step(_cp("file?.md", "/q/"))
    b.step(_cp("[ab].dat", "/cls/"))
    b.step(_cp("sub/*/leaf.txt", "/deep/"))
    b.step(_cp("*.nomatch", "/none/"))
    b.check()


def test_004_copy_dest_rules(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("004"))
    b.step(_cp("a.txt", "/renamed"))
    b.step(_cp("a.txt", "/newdir/"))
    b.step(_cp("a.txt", "/multi/"), _cp("b.txt", "/multi/"))
    b.step(_cp("a.txt", "/deep/er/path/file"))
    b.step(Mkdir("/w", 0o755, "", True))
    b.step(_cp("a.txt", "/w/rel.txt"))
    b.step(_cp("b.txt", "/w/."))
    b.step(_cp("../a.txt", "/outside.txt"))
    b.step(_cp("a.txt", "/dst/"))
    b.step(_cp("a.txt", "/argdst/json form.txt"))
    b.check()


def test_005_copy_context_modes(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("005"))
    b.step(_cp(".", "/ctx/"))
    b.step(_cp("empty", "/emptycopy"))
    b.check()


def test_006_copy_context_ownership(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("006"))
    b.step(_cp("owned.txt", "/owned.txt"))
    b.step(_cp("owned.txt", "/owned42.txt", owner="42"))
    b.step(_cp("owned.txt", "/owned42-43.txt", owner="42:43"))
    b.check()


def test_007_copy_symlinks(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("007"))
    b.step(_cp("dir", "/d/"))
    b.step(_cp("top-link.txt", "/followed.txt"))
    b.step(_cp("linkdir", "/viadirlink/"))
    b.check()


def test_008_copy_hardlinks(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("008"))
    b.step(_cp("h", "/h/"))
    b.step(_cp("h/one.txt", "/single.txt"))
    b.check()


def _users(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\ngrp:x:2002:\n")


def test_010_copy_chown_names(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("010"), base=True)
    b.run(_users)
    b.step(_cp("a.txt", "/byname", owner="app"))
    b.step(_cp("a.txt", "/bynames", owner="app:grp"))
    b.step(_cp("a.txt", "/numeric", owner="1001:2002"))
    b.step(_cp("a.txt", "/uidonly", owner="77"))
    b.step(_cp("dir", "/dirchown/", owner="app:2002"))
    b.step(_cp("a.txt", "/added", owner="5:6", unpack=True))
    b.check()


def test_011_copy_chmod(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("011"))
    b.step(_cp("a.txt", "/o640", mode="0640"))
    b.step(_cp("dir", "/d755/", mode="755"))
    b.step(_cp("a.txt", "/plusx", mode="+x"))
    b.step(_cp("dir", "/sym/", mode="u=rwX,go=rX"))
    b.step(_cp("a.txt", "/gequ", mode="g=u"))
    b.step(_cp("a.txt", "/argmode", mode="600"))
    b.check()


def test_012_copy_link(tmp_path: Path) -> None:
    """--link: each copy runs on an empty root (its layer is exactly that root), then merges on top."""
    case = case_dir("012")
    b = Build(tmp_path, case, base=True)
    layers = expected_layers(case)

    def linked(n: int, action: Copy) -> None:
        scratch = tmp_path / f"link{n}"
        scratch.mkdir()
        fileops.apply(str(scratch), [action], [b.source])
        got = [
            {k: v for k, v in e.items() if not k.startswith("_")}
            for e in sorted(walk(scratch).values(), key=lambda e: e["path"])
        ]
        assert got == layers[n]
        # the merge: the linked root laid over the stage, owners and modes as they are
        b.step(Copy(0, "/", "/", follow_symlinks=False), sources=(Source(str(scratch)),))

    linked(0, _cp("a.txt", "/linked/a.txt"))
    linked(1, _cp("dir", "/linkeddir/"))
    # with --chmod BuildKit does not use a merge: a plain copy onto the stage
    b.step(_cp("a.txt", "/bin/", owner="3:4", mode="700"))
    b.run(lambda root: (root / "after-link").write_text("done\n"))
    assert fs_result(b.root, b.base) == expected_fs(case)
    assert b.layers[2:] == [[e["path"] for e in layer] for layer in layers[2:]]


def test_013_copy_parents(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("013"))
    b.step(_cp("x/a.txt", "/p1/", parents=True), _cp("y/a.txt", "/p1/", parents=True))
    b.step(_cp("./x/./sub/*.txt", "/p2/", parents=True))
    b.step(_cp("src/**/*.go", "/p3/", parents=True))
    b.check()


def test_014_copy_exclude(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("014"))
    b.step(_cp(".", "/all/", exclude=("*.txt",)))
    b.step(_cp("dir", "/d/", exclude=("*.md", "skip*")))
    b.step(_cp("logs", "/logs/", exclude=("*.log",), unpack=True))
    b.check()


def test_018_add_local_tar(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("018"))
    for src, dest in (
        ("plain.tar", "/x/"),
        ("archive.tar.gz", "/gz/"),
        ("archive.tar.bz2", "/bz/"),
        ("archive.tar.xz", "/xz/"),
        ("disguised.bin", "/disguised/"),
        ("notatar.tar", "/nt/"),
    ):
        b.step(_cp(src, dest, unpack=True))
    b.step(_cp("plain.tar", "/copied/"))
    b.step(_cp("plain.tar", "/asdir", unpack=True))
    b.step(_cp("dir", "/plaindir/", unpack=True))
    b.check()


def _ignore(ctx_case: Path, name: str = ".dockerignore") -> tuple[str, ...]:
    return tuple(read_patterns((ctx_case / "context" / name).read_text()))


def test_020_dockerignore(tmp_path: Path) -> None:
    case = case_dir("020")
    b = Build(tmp_path, case, ignore=_ignore(case))
    b.step(_cp(".", "/ctx/"))
    b.check()


def test_021_dockerignore_per_dockerfile(tmp_path: Path) -> None:
    case = case_dir("021")
    b = Build(tmp_path, case, ignore=_ignore(case, "build/app.Dockerfile.dockerignore"))
    b.step(_cp(".", "/ctx/"))
    b.check()


def test_022_dockerignore_excludes_dockerfile(tmp_path: Path) -> None:
    case = case_dir("022")
    b = Build(tmp_path, case, ignore=_ignore(case))
    b.step(_cp(".", "/ctx/"))
    b.check()


def _064_run(root: Path) -> None:
    (root / "d").mkdir()
    (root / "d" / "old").write_text("old\n")
    (root / "f").write_text("old\n")
    os.symlink("/d", root / "dlink")


def test_064_copy_onto_existing(tmp_path: Path) -> None:
    b = Build(tmp_path, case_dir("064"), base=True)
    b.run(_064_run)
    b.step(_cp("a.txt", "/f"))
    b.step(_cp("a.txt", "/bin/echo"))
    b.step(_cp("a.txt", "/dlink/"))
    b.step(_cp("dir", "/d/"))
    b.check()


@pytest.mark.parametrize(("prefix", "src"), [("091", "missing.txt"), ("092", "secret.txt")])
def test_091_092_missing_source_fails(tmp_path: Path, prefix: str, src: str) -> None:
    case = case_dir(prefix)
    ignore = _ignore(case) if (case / "context" / ".dockerignore").exists() else ()
    b = Build(tmp_path, case, ignore=ignore)
    with pytest.raises(BuildError) as err:
        b.step(_cp(src, "/"))
    assert (case / "expected-error.txt").read_text().strip() in str(err.value)


def test_105_invalid_chmod_fails(tmp_path: Path) -> None:
    case = case_dir("105")
    b = Build(tmp_path, case)
    with pytest.raises(BuildError) as err:
        b.step(_cp("a.txt", "/", mode="999"))
    assert (case / "expected-error.txt").read_text().strip() in str(err.value)
