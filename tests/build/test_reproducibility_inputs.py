"""Which inputs change an image digest and which do not (README "Reproducibility").

Every build here sets SOURCE_DATE_EPOCH and ``rewrite-timestamp=true`` and, unless the case is
about the cache, runs with ``--no-cache`` so each step really runs again: a digest that stays
the same did so because the input does not reach the image, not because a cached layer was
reused.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .helpers import OciArchive, bakec, fresh_state

BUSYBOX = "127.0.0.1:5000/busybox:latest"
EPOCH = 1700000000
DOCKERFILE = f"""\
FROM {BUSYBOX}
ARG USED=one
ARG DECLARED=d
COPY app.txt /app/
COPY . /ctx/
RUN --mount=type=secret,id=tok test -s /run/secrets/tok && cat /app/app.txt > /copy && echo "$USED" > /used
"""
OUTPUT = "type=oci,dest=out/image.tar,rewrite-timestamp=true"
BAKE = f"""\
target "default" {{
  secret = ["id=tok,env=TOK"]
  output = ["{OUTPUT}"]
}}
"""
OLD = 1600000000  # before EPOCH: kept in the layer
NEW = 1800000000  # after EPOCH: clamped to it (app.txt's mtime in the baseline)


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "docker-bake.hcl").write_text(BAKE)
    (root / ".dockerignore").write_text(
        ".cache\nout\nmeta.json\nignored.txt\n"
    )  # .cache: bakec's own, HOME is the project
    (root / "app.txt").write_text("app\n")
    (root / "ignored.txt").write_text("ignored\n")
    for name in ("ignored.txt", "Dockerfile", "docker-bake.hcl", ".dockerignore"):
        os.utime(root / name, (OLD, OLD))
    os.utime(root / "app.txt", (NEW, NEW))
    return root


def _digest(
    project: Path, state: Path, *args: str, env: dict[str, str] | None = None, cached: bool = False
) -> str:
    extra = () if cached else ("--no-cache",)
    proc = bakec(
        project,
        state,
        "build",
        "--progress",
        "quiet",
        "--metadata-file",
        "meta.json",
        *extra,
        *args,
        env={"SOURCE_DATE_EPOCH": str(EPOCH), "TOK": "secret-one", **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((project / "meta.json").read_text())["default"]["containerimage.digest"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, state_dir) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    project = _project(tmp_path_factory.mktemp("repro") / "a")
    return project, _digest(project, state_dir)


def _copy(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, symlinks=True, ignore=shutil.ignore_patterns(".cache", "out", "meta.json"))
    return dest


@dataclass(frozen=True)
class Change:
    """How a case's build differs from the baseline: command-line arguments, environment, cache."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cached: bool = False


def _touch(path: Path, when: int) -> Change:
    os.utime(path, (when, when))
    return Change()


def _write(path: Path, text: str) -> Change:
    path.write_text(text)
    return Change()


SAME: dict[str, Callable[[Path], Change]] = {
    "another absolute path": lambda p: Change(),
    "cached instead of run": lambda p: Change(cached=True),
    "an arg the Dockerfile does not declare": lambda p: Change(("--set", "*.args.UNUSED=anything")),
    "the secret's value": lambda p: Change(env={"TOK": "another-secret-value"}),
    "--max-parallelism": lambda p: Change(("--max-parallelism", "1")),
    "compression-level without force-compression": lambda p: Change(
        ("--set", f"*.output={OUTPUT},compression=gzip,compression-level=1")
    ),
    "a file .dockerignore leaves out": lambda p: _write(p / "ignored.txt", "changed, but ignored\n"),
    "an mtime after the epoch": lambda p: _touch(p / "app.txt", NEW + 12345),
    "the owner of a context file": lambda p: (os.chown(p / "app.txt", 4321, 4321), Change())[1],
}


@pytest.mark.parametrize("case", list(SAME))
def test_inputs_that_do_not_change_the_digest(case, baseline, tmp_path, state_dir):  # type: ignore[no-untyped-def]
    original, digest = baseline
    project = _copy(original, tmp_path / "elsewhere")  # another absolute path every time
    change = SAME[case](project)
    assert _digest(project, state_dir, *change.args, env=change.env, cached=change.cached) == digest


def test_a_fresh_state_dir_gives_the_same_digest(baseline, tmp_path):  # type: ignore[no-untyped-def]
    original, digest = baseline
    project = _copy(original, tmp_path / "p")
    with fresh_state() as state:
        assert _digest(project, state) == digest


def _chmod(path: Path, mode: int) -> Change:
    path.chmod(mode)
    return Change()


DIFFERENT: dict[str, Callable[[Path], Change]] = {
    "a used arg": lambda p: Change(("--set", "*.args.USED=two")),
    "a declared arg no instruction names": lambda p: Change(("--set", "*.args.DECLARED=other")),
    "a context file's content": lambda p: _write(p / "app.txt", "app, changed\n"),
    "a context file's mode": lambda p: _chmod(p / "app.txt", 0o600),
    "an mtime before the epoch": lambda p: _touch(p / "app.txt", OLD),
    "SOURCE_DATE_EPOCH": lambda p: Change(env={"SOURCE_DATE_EPOCH": str(EPOCH + 1)}),
    "an instruction": lambda p: _write(p / "Dockerfile", DOCKERFILE + "ENV MORE=1\n"),
    "a label": lambda p: Change(("--set", "*.labels.org.example.team=a")),
    "an annotation": lambda p: Change(("--set", "*.annotations=org.example.note=a")),
    "an output annotation": lambda p: Change(("--set", f"*.output={OUTPUT},annotation.org.example.note=a")),
    "compression": lambda p: Change(("--set", f"*.output={OUTPUT},compression=zstd")),
    "compression-level with force-compression": lambda p: Change(
        ("--set", f"*.output={OUTPUT},compression=gzip,compression-level=1,force-compression=true")
    ),
    "oci-mediatypes=false": lambda p: Change(("--set", f"*.output={OUTPUT},oci-mediatypes=false")),
    "without rewrite-timestamp": lambda p: Change(("--set", "*.output=type=oci,dest=out/image.tar")),
}


@pytest.mark.parametrize("case", list(DIFFERENT))
def test_inputs_that_change_the_digest(case, baseline, tmp_path, state_dir):  # type: ignore[no-untyped-def]
    original, digest = baseline
    project = _copy(original, tmp_path / "p")
    change = DIFFERENT[case](project)
    assert _digest(project, state_dir, *change.args, env=change.env) != digest


def test_the_platform_changes_the_digest(tmp_path, state_dir):  # type: ignore[no-untyped-def]
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM 127.0.0.1:5000/busybox-multi:latest\nCOPY app.txt /\n")
    (project / "app.txt").write_text("app\n")
    (project / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        target "default" {
          output = ["type=oci,dest=out/image.tar,rewrite-timestamp=true"]
        }
        """)
    )
    amd64 = _digest(project, state_dir, "--set", "*.platform=linux/amd64")
    arm64 = _digest(project, state_dir, "--set", "*.platform=linux/arm64")
    assert amd64 != arm64


def test_the_machines_files_stay_out_of_run_layers(baseline):  # type: ignore[no-untyped-def]
    """/etc/hosts, /etc/resolv.conf and /etc/hostname are mounted into a RUN, never written to its layer."""
    original, _ = baseline
    archive = OciArchive(original / "out" / "image.tar")
    run_layer = archive.root()["layers"][-1]["digest"]
    with tarfile.open(fileobj=io.BytesIO(archive.blob(run_layer))) as layer:
        names = set(layer.getnames())
    assert {"copy", "used"} <= names
    assert not names & {"etc/hosts", "etc/resolv.conf", "etc/hostname"}


def test_a_targets_annotations_reach_the_manifest_and_the_index(tmp_path, state_dir):  # type: ignore[no-untyped-def]
    project = tmp_path / "p"
    project.mkdir()
    (project / "Dockerfile").write_text(f"FROM {BUSYBOX}\n")
    (project / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        target "default" {
          annotations = ["org.example.team=a", "manifest-descriptor:org.example.desc=b"]
          output = ["type=oci,dest=out/image.tar", "type=local,dest=out/fs"]
        }
        """)
    )
    proc = bakec(project, state_dir, "build", "--progress", "quiet")
    assert proc.returncode == 0, proc.stderr
    archive = OciArchive(project / "out" / "image.tar")
    descriptor, manifest = archive.index["manifests"][0], archive.root()
    assert manifest["annotations"]["org.example.team"] == "a"
    assert descriptor["annotations"]["org.example.desc"] == "b"
