"""Two bakec processes on one state dir share a stage: its step runs once, both images carry its layer."""

from __future__ import annotations

import io
import json
import signal
import tarfile
import textwrap
import time
from pathlib import Path

from .helpers import BUSYBOX, events, fresh_state, instruction, needs_builds, spawn, write_project

pytestmark = needs_builds

STAMP = "RUN date +%s%N > /stamp; sleep 3"
DOCKERFILE = f"""\
FROM {BUSYBOX} AS shared
{STAMP}

FROM shared AS a
RUN echo a > /a

FROM shared AS b
RUN echo b > /b
"""
BAKE = textwrap.dedent("""\
    target "a" {
      target = "a"
      output = ["type=oci,dest=a.tar"]
    }
    target "b" {
      target = "b"
      output = ["type=oci,dest=b.tar"]
    }
    """)


def _layers(archive: Path) -> list[bytes]:
    """The layer blobs of a single-platform OCI archive, base first."""
    with tarfile.open(archive) as tf:

        def member(name: str) -> bytes:
            f = tf.extractfile(name)
            assert f is not None
            return f.read()

        def blob(digest: str) -> bytes:
            return member("blobs/sha256/" + digest.split(":")[1])

        index = json.loads(member("index.json"))
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        return [blob(layer["digest"]) for layer in manifest["layers"]]


def _file_in_layer(layer: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        f = tf.extractfile(name)
        assert f is not None
        return f.read()


def _stamp_runs(stderr: str) -> int:
    return sum(
        1
        for e in events(stderr)
        if e.get("type") == "vertex" and e["state"] == "started" and instruction(e["name"]) == STAMP
    )


def test_a_stage_two_processes_need_is_built_once(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE)
    with fresh_state() as state:
        procs = [
            spawn(project, "build", name, "--state-dir", str(state), "--progress", "bakec-json")
            for name in ("a", "b")
        ]
        outputs = [p.communicate(timeout=300) for p in procs]
        for proc, (_, stderr) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, stderr
        assert [_stamp_runs(stderr) for _, stderr in outputs] in ([1, 0], [0, 1])
        layers_a, layers_b = _layers(project / "a.tar"), _layers(project / "b.tar")
        assert layers_a[1] == layers_b[1]  # the stamp step's layer, byte for byte
        assert _file_in_layer(layers_a[1], "stamp") == _file_in_layer(layers_b[1], "stamp")


def test_a_build_killed_holding_a_step_does_not_block_the_next(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE)
    with fresh_state() as state:
        first = spawn(project, "build", "a", "--state-dir", str(state), "--progress", "bakec-json")
        assert first.stderr is not None
        try:
            for line in first.stderr:
                if line.startswith("{") and instruction(json.loads(line).get("name", "")) == STAMP:
                    first.send_signal(signal.SIGKILL)  # while it holds the step's lock
                    break
        finally:
            first.kill()
            first.wait()
        started = time.monotonic()
        second = spawn(project, "build", "b", "--state-dir", str(state), "--progress", "bakec-json")
        _, stderr = second.communicate(timeout=120)
        assert second.returncode == 0, stderr
        assert _stamp_runs(stderr) == 1
        assert time.monotonic() - started < 60
