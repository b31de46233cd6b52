"""A build SIGKILLed mid-way leaves no half-written cache entry; the rebuild gives the same images."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (
    BUSYBOX,
    cli,
    events,
    fresh_state,
    instruction,
    mounts_under,
    needs_builds,
    runc_containers,
    spawn,
    write_project,
)

pytestmark = needs_builds

EPOCH = "1700000000"
DOCKERFILE = f"""\
FROM {BUSYBOX}
ARG NAME
RUN echo "one $NAME" > /one
RUN sleep 2 && echo "two $NAME" > /two && dd if=/dev/zero of=/two.bin bs=1024 count=64 2>/dev/null
COPY ctx.txt /ctx.txt
RUN cat /one /two /ctx.txt > /all
"""
BAKE = textwrap.dedent("""\
    group "default" {
      targets = ["a", "b"]
    }
    target "a" {
      args = { NAME = "a" }
      output = ["type=oci,dest=out/a.tar,rewrite-timestamp=true"]
    }
    target "b" {
      args = { NAME = "b" }
      output = ["type=oci,dest=out/b.tar,rewrite-timestamp=true"]
    }
    """)
ENV = {"SOURCE_DATE_EPOCH": EPOCH}


def _project(root: Path) -> Path:
    return write_project(root, DOCKERFILE, BAKE, {"ctx.txt": "context\n"})


def _digests(project: Path) -> dict[str, str]:
    meta = json.loads((project / "meta.json").read_text())
    return {name: m["containerimage.digest"] for name, m in meta.items()}


def _build(project: Path, state: Path) -> subprocess.CompletedProcess:
    proc = cli(
        project,
        "build",
        "--state-dir",
        str(state),
        "--progress",
        "bakec-json",
        "--metadata-file",
        "meta.json",
        env=ENV,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _kill_on(project: Path, state: Path, trigger: tuple[str, str]) -> list[dict]:
    """Start a build and SIGKILL it on the first vertex event ``(state, name prefix)``; the events seen."""
    proc = spawn(project, "build", "--state-dir", str(state), "--progress", "bakec-json", env=ENV)
    seen = []
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            seen.append(event)
            if (
                event.get("type") == "vertex"
                and (event["state"], instruction(event["name"])[: len(trigger[1])]) == trigger
            ):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return seen


def _entries_complete(state: Path) -> int:
    """Check every cache row's snapshot and blobs exist; the number of rows."""
    from bakec.worker.client import NotFoundError
    from bakec.worker.daemon import Daemon

    with sqlite3.connect(state / "cache.db") as db:
        rows = db.execute("SELECT key, meta FROM results").fetchall()
    with Daemon(state).connect() as client:
        for key, meta in rows:
            record = json.loads(meta)
            if record["snapshot"]:
                try:
                    client.stat_snapshot(record["snapshot"])
                except NotFoundError:
                    raise AssertionError(f"cache entry {key} names a missing snapshot") from None
            for digest, *_ in record["layers"]:
                assert (state / "content" / "blobs" / "sha256" / digest.split(":")[1]).exists(), key
    return len(rows)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(project, state dir) of the build never killed, made once: every resumed build must give its images."""
    project = _project(tmp_path_factory.mktemp("clean"))
    with fresh_state() as state:
        _build(project, state)
        yield project, state


@pytest.mark.parametrize(
    "trigger",
    [("done", "RUN"), ("started", "RUN sleep"), ("done", "COPY")],
    ids=["after-first-run", "during-a-run", "after-a-copy"],
)
def test_a_killed_build_resumes_and_gives_the_images_of_an_uninterrupted_one(
    tmp_path, trigger, uninterrupted
):
    killed_project, (clean_project, clean_state) = _project(tmp_path / "killed"), uninterrupted
    with fresh_state() as state:
        seen = _kill_on(killed_project, state, trigger)
        assert not any(e.get("type") == "summary" for e in seen)
        ran_first = next(
            e["digest"]
            for e in seen
            if e.get("type") == "vertex" and e["state"] == "done" and instruction(e["name"]).startswith("RUN")
        )
        assert _entries_complete(state) >= 2  # the base image and the RUN that finished, at least

        resumed = _build(killed_project, state)
        assert runc_containers(state) == []
        assert list((state / "runs").iterdir()) == []  # bundles and rootfs mounts of the killed run swept
        assert mounts_under(state) == []
        vertex_events = [e for e in events(resumed.stderr) if e.get("type") == "vertex"]
        cached = {e["digest"] for e in vertex_events if e["state"] == "cached"}
        ran = {e["digest"] for e in vertex_events if e["state"] == "started"}
        assert ran_first in cached and ran_first not in ran  # its entry survived the kill and is reused
        assert ran  # the steps the kill cut short run now

        assert _digests(killed_project) == _digests(clean_project)
        for name in ("a", "b"):
            assert (killed_project / "out" / f"{name}.tar").read_bytes() == (
                clean_project / "out" / f"{name}.tar"
            ).read_bytes()
        assert _entries_complete(state) == _entries_complete(clean_state)


SECRET_RUN = f"""\
FROM {BUSYBOX}
RUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=ENVTOK sh -c 'test -s /run/secrets/tok && test -n "$ENVTOK" && echo ready; sleep 120'
"""


def _files_on_disk_containing(root: Path, needles: list[bytes], *, cross_mounts: bool) -> list[str]:
    """Files under ``root`` holding any of ``needles``; without ``cross_mounts``, only those on root's filesystem."""
    device = root.stat().st_dev
    found = []
    for directory, dirs, files in os.walk(root):
        if not cross_mounts:
            dirs[:] = [d for d in dirs if os.lstat(os.path.join(directory, d)).st_dev == device]
        for name in files:
            path = os.path.join(directory, name)
            try:
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                data = Path(path).read_bytes()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                found.append(path)
    return found


@pytest.mark.parametrize("successor", ["cached-build", "prune"])
def test_a_killed_run_leaves_its_secrets_on_no_disk_and_the_next_bakec_sweeps_them(tmp_path, successor):
    file_value = f"bakec-killed-file-{uuid.uuid4().hex}"
    env_value = f"bakec-killed-env-{uuid.uuid4().hex}"
    secrets = 'secret = ["id=tok,src=token.txt", "id=envtok,env=ENV_SOURCE"]'
    project = write_project(
        tmp_path / "secret",
        SECRET_RUN,
        f'target "default" {{\n  {secrets}\n  output = ["type=cacheonly"]\n}}\n',
        {"token.txt": file_value},
    )
    cached = write_project(
        tmp_path / "cached",
        f"FROM {BUSYBOX}\nRUN echo built > /built\n",
        'target "default" {\n  output = ["type=cacheonly"]\n}\n',
    )
    needles = [file_value.encode(), env_value.encode()]
    with fresh_state() as state:
        assert cli(cached, "build", "--state-dir", str(state)).returncode == 0
        proc = spawn(
            project,
            "build",
            "--state-dir",
            str(state),
            "--progress",
            "bakec-json",
            env={"ENV_SOURCE": env_value},
        )
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith("{") and "ready" in json.loads(line).get("data", ""):
                    proc.send_signal(signal.SIGKILL)
                    break
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # the RUN goes on without its build: its secrets are in RAM only (the tmpfs it mounts), never on disk
        assert runc_containers(state) and mounts_under(state)
        assert _files_on_disk_containing(state, needles, cross_mounts=False) == []
        assert not any(needle in Path("/proc/mounts").read_bytes() for needle in needles)

        if successor == "prune":
            pruned = cli(cached, "prune", "--state-dir", str(state))
            assert pruned.returncode == 0, pruned.stderr
        else:  # containerd is not even contacted: the sweep needs runc and mount(2) only
            again = cli(cached, "build", "--state-dir", str(state), "--progress", "bakec-json")
            assert again.returncode == 0, again.stderr
            assert [
                e for e in events(again.stderr) if e.get("type") == "vertex" and e["state"] != "cached"
            ] == []
        assert runc_containers(state) == [] and mounts_under(state) == []
        assert list((state / "runs").iterdir()) == []
        assert _files_on_disk_containing(state, needles, cross_mounts=True) == []


def test_containerd_killed_mid_run_is_an_environment_error(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        f"FROM {BUSYBOX}\nRUN sleep 5 && echo done > /done\n",
        'target "default" {\n  output = ["type=oci,dest=out.tar"]\n}\n',
    )
    from bakec.worker.paths import DaemonPaths

    with fresh_state() as state:
        proc = spawn(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert proc.stderr is not None
        lines = []
        try:
            for line in proc.stderr:
                lines.append(line)
                if not line.startswith("{"):
                    continue
                event = json.loads(line)
                if event.get("type") == "vertex" and (event["state"], instruction(event["name"])) == (
                    "started",
                    "RUN sleep 5 && echo done > /done",
                ):
                    time.sleep(2)  # inside the sleep: the container runs
                    os.kill(int(DaemonPaths(state).pid_file.read_text()), signal.SIGKILL)
                    break
            rest = proc.stderr.read()  # not communicate(): it would skip what the iterator buffered
            proc.wait(timeout=120)
        finally:
            proc.kill()
            proc.wait()
        stderr = "".join(lines) + rest
        assert proc.returncode == 3, stderr
        error = stderr.strip().splitlines()[-1]
        assert error == (
            "ERROR: containerd went away; it exited or was killed; run the command again to restart it"
        )
        assert "StatusCode" not in stderr and "grpc" not in stderr.lower()
