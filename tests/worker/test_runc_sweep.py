"""The crash sweep of runc bundles: what a killed bakec left mounted is unmounted before removal."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bakec.worker.leftovers import sweep
from bakec.worker.paths import DaemonPaths

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


def test_sweep_unmounts_a_bind_mounted_rootfs_of_a_dead_owner_before_removing_its_run_dir(
    tmp_path: Path,
) -> None:
    # A RUN on a snapshot with no parent gets a bind mount from the same disk, which
    # os.path.ismount does not see; removing the run dir must not empty the snapshot.
    paths = DaemonPaths(tmp_path / "state")
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "kept").write_text("layer content")
    run_dir = paths.runs_dir / "bakec-dead"
    (run_dir / "rootfs").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"annotations": {"bakec.owner": "999999999:1"}}))
    subprocess.run(["mount", "--bind", str(snapshot), str(run_dir / "rootfs")], check=True)
    try:
        sweep(paths)
    finally:
        if (run_dir / "rootfs").is_dir():  # the sweep failed: leave no mount behind
            subprocess.run(["umount", str(run_dir / "rootfs")], check=False, capture_output=True)
    assert not run_dir.exists()
    assert (snapshot / "kept").read_text() == "layer content"


def test_a_run_dir_killed_before_its_bundle_was_written_is_swept_by_the_owner_in_its_name(
    tmp_path: Path,
) -> None:
    from bakec.worker.leftovers import run_id

    paths = DaemonPaths(tmp_path / "state")
    dead = paths.runs_dir / "bakec-999999999-1-0123456789ab"  # run_id() of a process that is gone
    live = paths.runs_dir / run_id()
    for run_dir in (dead, live):
        run_dir.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(run_dir)], check=True)
        (run_dir / "hosts").write_text("127.0.0.1 localhost\n")  # no config.json yet
    try:
        sweep(paths)
        assert not dead.exists()
        assert (live / "hosts").exists() and os.path.ismount(live)  # ours: a RUN being prepared
    finally:
        for run_dir in (dead, live):
            subprocess.run(["umount", str(run_dir)], check=False, capture_output=True)
