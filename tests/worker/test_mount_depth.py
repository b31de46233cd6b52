"""A snapshot deeper than overlayfs allows fails naming the limit, not with the mount command line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakec.errors import BuildError
from bakec.worker.client import Mount
from bakec.worker.mount import mount, unmount

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts overlayfs: needs root")


def _overlay(tmp_path: Path, layers: int) -> tuple[Mount, Path]:
    """An overlay mount laid out as containerd's snapshotter does: snapshots/<id>/{fs,work}."""
    snapshots = tmp_path / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"
    for i in range(1, layers + 2):
        (snapshots / str(i) / "fs").mkdir(parents=True)
    active = snapshots / str(layers + 1)
    (active / "work").mkdir()
    lower = ":".join(str(snapshots / str(i) / "fs") for i in range(layers, 0, -1))
    options = [f"workdir={active / 'work'}", f"upperdir={active / 'fs'}", f"lowerdir={lower}"]
    target = tmp_path / "rootfs"
    target.mkdir()
    return Mount(type="overlay", source="overlay", options=options), target


def test_the_deepest_stage_overlayfs_allows_mounts(tmp_path: Path) -> None:
    m, target = _overlay(tmp_path, 500)
    mount(m, target)
    try:
        assert (target / ".").is_dir()
    finally:
        unmount(target)


def test_one_layer_more_fails_naming_the_limit(tmp_path: Path) -> None:
    m, target = _overlay(tmp_path, 501)
    with pytest.raises(BuildError) as info:
        mount(m, target)
    assert str(info.value) == "too many layers: 501, overlayfs on this kernel allows at most 500"
