"""SIGTERM / Ctrl-C during a RUN, and ``--keep-going`` with one failing target."""

from __future__ import annotations

import json
import signal
import textwrap
from pathlib import Path

from .helpers import (
    BUSYBOX,
    cli,
    events,
    fresh_state,
    mounts_under,
    needs_builds,
    runc_containers,
    spawn,
    write_project,
)

pytestmark = needs_builds

SLOW = f"""\
FROM {BUSYBOX}
ARG SECONDS=30
RUN echo start && sleep $SECONDS && echo slept > /slept
"""
SLOW_BAKE = textwrap.dedent("""\
    target "default" {
      output = ["type=local,dest=out"]
    }
    """)


def _leases(state: Path) -> list[str]:
    from bakec.worker.daemon import Daemon

    with Daemon(state).connect() as client:
        return [lease.id for lease in client.list_leases() if lease.id.startswith("bakec-")]


def test_sigterm_kills_the_running_step_releases_the_lease_and_exits_non_zero(tmp_path):
    project = write_project(tmp_path / "p", SLOW, SLOW_BAKE)
    with fresh_state() as state:
        proc = spawn(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert proc.stderr is not None
        run_vertex = None
        for line in proc.stderr:
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("type") == "log" and "start" in event.get("data", ""):
                run_vertex = event["id"]
                proc.send_signal(signal.SIGTERM)  # the RUN's process is in its container now
                break
        assert run_vertex is not None
        rest = proc.stderr.read()
        proc.wait(timeout=120)  # a safety net only: the sleep alone is 30 s
        assert proc.returncode == 143
        assert "ERROR: terminated" in rest
        states = [e["state"] for e in events(rest) if e.get("type") == "vertex" and e["id"] == run_vertex]
        assert "done" not in states  # killed, not waited for
        assert not (project / "out" / "slept").exists()
        assert runc_containers(state) == []
        assert _leases(state) == []
        assert not any(path.is_dir() for path in (state / "runs").iterdir())
        assert mounts_under(state) == []

        again = cli(
            project,
            "build",
            "--state-dir",
            str(state),
            "--progress",
            "plain",
            "--set",
            "default.args.SECONDS=0",
        )
        assert again.returncode == 0, again.stderr
        assert (project / "out" / "slept").read_text() == "slept\n"


def test_sigint_exits_130_and_the_next_build_runs_the_step_again(tmp_path):
    project = write_project(tmp_path / "p", SLOW, SLOW_BAKE)
    with fresh_state() as state:
        proc = spawn(
            project,
            "build",
            "--state-dir",
            str(state),
            "--progress",
            "bakec-json",
            "--set",
            "default.args.SECONDS=20",
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if '"type": "log"' in line and "start" in line:
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.stderr.read()
        proc.wait(timeout=120)
        assert proc.returncode == 130
        assert "ERROR: interrupted" in rest
        assert runc_containers(state) == []
        again = cli(
            project,
            "build",
            "--state-dir",
            str(state),
            "--progress",
            "bakec-json",
            "--set",
            "default.args.SECONDS=0",
        )
        assert again.returncode == 0, again.stderr


FAILING = f"""\
FROM {BUSYBOX} AS ok
RUN echo fine > /fine
FROM {BUSYBOX} AS bad
RUN echo failing && exit 3
"""
KEEP_GOING_BAKE = textwrap.dedent("""\
    target "ok" {
      target = "ok"
      output = ["type=local,dest=out/ok"]
    }
    target "bad" {
      target = "bad"
      output = ["type=local,dest=out/bad"]
    }
    """)


def test_keep_going_writes_the_other_targets_output_and_reports_both(tmp_path):
    project = write_project(tmp_path / "p", FAILING, KEEP_GOING_BAKE)
    with fresh_state() as state:
        proc = cli(
            project,
            "build",
            "--keep-going",
            "bad",
            "ok",
            "--state-dir",
            str(state),
            "--progress",
            "bakec-json",
        )
        assert proc.returncode == 1
        assert "did not complete successfully: exit code: 3" in proc.stderr
        assert "ERROR: target bad: failed to solve: " in proc.stderr
        assert (project / "out" / "ok" / "fine").read_text() == "fine\n"
        assert not (project / "out" / "bad").exists()
        summary = [e for e in events(proc.stderr) if e.get("type") == "summary"]
        assert len(summary) == 1
        assert {name: t["state"] for name, t in summary[0]["targets"].items()} == {
            "ok": "done",
            "bad": "failed",
        }

        plain = cli(
            project, "build", "--keep-going", "bad", "ok", "--state-dir", str(state), "--progress", "plain"
        )
        assert plain.returncode == 1
        table = plain.stderr[plain.stderr.index("TARGET") :].splitlines()
        assert [line.split()[:2] for line in table[1:3]] == [["bad", "failed"], ["ok", "done"]]
