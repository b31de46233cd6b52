"""SOURCE_DATE_EPOCH and ``rewrite-timestamp=true``: the same inputs give bit-identical images."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import textwrap
from pathlib import Path

from .helpers import (
    BUSYBOX,
    MT_MANIFEST,
    OciArchive,
    cli,
    fresh_state,
    needs_builds,
    registry_json,
    write_project,
)

pytestmark = needs_builds

EPOCH = 1700000000
DOCKERFILE = f"""\
FROM {BUSYBOX}
RUN mkdir -p /work && echo built > /work/out && ln -s out /work/link
COPY new.txt old.txt /ctx/
RUN rm /work/link
"""
BAKE = textwrap.dedent("""\
    target "default" {
      tags = ["example.local/repro:1"]
      output = ["type=oci,dest=out/image.tar,rewrite-timestamp=true",
                "type=docker,dest=out/docker.tar,rewrite-timestamp=true"]
    }
    """)


def _project(root: Path) -> Path:
    project = write_project(root, DOCKERFILE, BAKE, {"new.txt": "new\n", "old.txt": "old\n"})
    os.utime(project / "new.txt", (1800000000, 1800000000))
    os.utime(project / "old.txt", (1600000000, 1600000000))
    return project


def _build(project: Path, state: Path, env: dict[str, str] | None = None, *extra: str) -> dict:
    proc = cli(
        project,
        "build",
        "--state-dir",
        str(state),
        "--progress",
        "plain",
        "--metadata-file",
        "meta.json",
        *extra,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads((project / "meta.json").read_text())["default"]


def test_two_clean_state_dirs_give_bit_identical_images(tmp_path):
    first, second = _project(tmp_path / "a"), _project(tmp_path / "b")
    with fresh_state() as state_a, fresh_state() as state_b:
        # buildx passes the environment's SOURCE_DATE_EPOCH as a build arg; both forms are the same build
        meta_a = _build(first, state_a, {"SOURCE_DATE_EPOCH": str(EPOCH)})
        meta_b = _build(second, state_b, None, "--set", f"*.args.SOURCE_DATE_EPOCH={EPOCH}")
    assert meta_a["containerimage.digest"] == meta_b["containerimage.digest"]
    assert (first / "out" / "image.tar").read_bytes() == (second / "out" / "image.tar").read_bytes()
    assert (first / "out" / "docker.tar").read_bytes() == (second / "out" / "docker.tar").read_bytes()

    archive = OciArchive(first / "out" / "image.tar")
    index = archive.index
    manifest = archive.root()
    config = archive.json(manifest["config"]["digest"])
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert {h["created"] for h in config["history"]} == {"2023-11-14T22:13:20Z"}
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"

    mtimes: dict[str, int] = {}
    for layer in manifest["layers"][1:]:
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive.blob(layer["digest"])))) as tar:
            mtimes.update({m.name: int(m.mtime) for m in tar.getmembers()})
    assert mtimes["ctx/new.txt"] == EPOCH  # newer than the epoch: clamped
    assert mtimes["ctx/old.txt"] == 1600000000  # older: kept
    assert mtimes["work/out"] == EPOCH  # written by RUN during the build
    assert mtimes["work/.wh.link"] == EPOCH  # as BuildKit's whiteouts (the diff's time, clamped)
    assert max(mtimes.values()) == EPOCH


def test_rewrite_timestamp_keeps_the_base_image_layers_as_pulled(tmp_path, busybox_image):
    project = _project(tmp_path / "p")
    with fresh_state() as state:
        _build(project, state, {"SOURCE_DATE_EPOCH": str(EPOCH)})
    archive = OciArchive(project / "out" / "image.tar")
    manifest = archive.root()
    base = registry_json("busybox/manifests/latest", MT_MANIFEST)
    assert manifest["layers"][0]["digest"] == base["layers"][0]["digest"]
    assert len(manifest["layers"]) == 4
