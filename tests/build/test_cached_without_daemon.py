"""A fully cached build needs no containerd: it is not started, contacted or even imported.

Each test has a private state dir (its own embedded containerd), so stopping that daemon
does not disturb the session's.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import bakec, events, fresh_state

BASE = "FROM 127.0.0.1:5000/busybox:latest\n"


@pytest.fixture
def private_state(state_dir) -> Iterator[Path]:
    """A state dir of its own (``state_dir`` only for its skip checks): these tests stop its daemon."""
    with fresh_state() as state:
        yield state


def _project(tmp: Path, dockerfile: str, outputs: str) -> Path:
    (tmp / "app").mkdir(parents=True, exist_ok=True)
    (tmp / "app" / "main.txt").write_text("main\n")
    (tmp / "Dockerfile").write_text(dockerfile)
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          output = [{outputs}]
        }}
        """)
    )
    return tmp


def _status(state: Path) -> str:
    proc = bakec(state, state, "daemon", "status", "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    return next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("status:"))


def test_no_op_rebuild_runs_without_the_daemon(tmp_path, private_state):
    dockerfile = BASE + "RUN echo built > /built\nCOPY app/ /app/\n"
    project = _project(tmp_path, dockerfile, '"type=local,dest=out/rootfs", "type=oci,dest=out/app.tar"')
    first = bakec(project, private_state, "build", "--progress", "plain")
    assert first.returncode == 0, first.stderr
    shutil.rmtree(project / "out")
    stopped = bakec(project, private_state, "daemon", "stop", "--state-dir", str(private_state))
    assert stopped.stdout == "stopped\n"

    again = bakec(
        project, private_state, "build", "--progress", "bakec-json", env={"PYTHONPROFILEIMPORTTIME": "1"}
    )
    assert again.returncode == 0, again.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in again.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "bakec.graph.build" in imported
    assert not {m for m in imported if m.split(".")[0] == "grpc" or m == "bakec.worker.client"}
    states = {e["name"]: e["state"] for e in events(again.stderr) if e.get("type") == "vertex"}
    assert [name for name, state in states.items() if state not in ("cached", "done")] == []
    assert all(state == "cached" for name, state in states.items() if "RUN" in name or "COPY" in name), states
    assert _status(private_state) == "stopped"
    rootfs = project / "out" / "rootfs"
    assert (rootfs / "built").read_text() == "built\n"
    assert (rootfs / "app" / "main.txt").read_text() == "main\n"
    assert (project / "out" / "app.tar").stat().st_size > 0


def test_an_op_that_runs_starts_the_daemon_again(tmp_path, private_state):
    project = _project(tmp_path, BASE + "RUN echo one > /one\n", '"type=local,dest=out"')
    assert bakec(project, private_state, "build").returncode == 0
    bakec(project, private_state, "daemon", "stop", "--state-dir", str(private_state))
    (project / "Dockerfile").write_text(BASE + "RUN echo one > /one\nRUN cat /one > /two\n")
    proc = bakec(project, private_state, "build")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "two").read_text() == "one\n"
    assert _status(private_state) == "running"


@pytest.mark.parametrize("lose_base", [False, True], ids=["op", "op-and-base"])
def test_a_cached_snapshot_containerd_lost_is_made_again_from_its_layers(tmp_path, private_state, lose_base):
    from bakec.worker.daemon import Daemon

    project = _project(
        tmp_path, BASE + "RUN echo one > /one && mkdir /d && echo x > /d/x\n", '"type=cacheonly"'
    )
    assert bakec(project, private_state, "build").returncode == 0
    with Daemon(private_state).connect() as client:
        lost = [s.name for s in client.list_snapshots() if s.name.startswith("bakec/op/")]
        assert len(lost) == 1
        client.remove_snapshot(lost[0])
        if lose_base:
            for snapshot in client.list_snapshots():
                if snapshot.name.startswith("bakec/chain/"):
                    client.remove_snapshot(snapshot.name)

    (project / "Dockerfile").write_text(
        BASE + "RUN echo one > /one && mkdir /d && echo x > /d/x\nRUN cat /one /d/x > /two\n"
    )
    (project / "docker-bake.hcl").write_text('target "default" {\n  output = ["type=local,dest=out"]\n}\n')
    proc = bakec(project, private_state, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    assert (project / "out" / "two").read_text() == "one\nx\n"
    with Daemon(private_state).connect() as client:
        assert client.stat_snapshot(lost[0]).name == lost[0]


def test_missing_containerd_is_still_an_environment_error_when_an_op_needs_it(tmp_path, private_state):
    project = _project(tmp_path, BASE + "RUN echo one > /one\n", '"type=cacheonly"')
    proc = bakec(
        project, private_state, "build", "--progress", "quiet", env={"PATH": str(tmp_path / "empty")}
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "ERROR: containerd not found on PATH; install it with: apt-get install containerd"
    )
