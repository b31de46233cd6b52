"""``bakec plan --format html`` after real builds: each step's time and cache hit, from the build records."""

from __future__ import annotations

import json
import re
import textwrap
import uuid

from bakec.solver import records

from .helpers import BUSYBOX, bakec, cli, needs_builds, write_project

pytestmark = needs_builds

BAKE = textwrap.dedent("""\
    group "default" { targets = ["fast", "slow"] }
    target "fast" {
      target = "fast"
      output = ["type=local,dest=out-fast"]
    }
    target "slow" {
      target = "slow"
      output = ["type=local,dest=out-slow"]
    }
    """)


def _report(project, state) -> dict:
    done = cli(project, "plan", "--format", "html", "--state-dir", str(state))
    assert done.returncode == 0, done.stderr
    data = re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', done.stdout).group(1)
    return json.loads(data)


def test_report_shows_the_last_build_times_cache_hits_and_the_critical_path_by_time(tmp_path, state_dir):
    token = uuid.uuid4().hex  # steps no earlier test of the shared state dir has run
    dockerfile = textwrap.dedent(f"""\
        FROM {BUSYBOX} AS base
        RUN echo {token} > /token
        FROM base AS fast
        RUN echo fast > /a && echo 1 > /b && echo 2 > /c && echo 3 > /d
        FROM base AS slow
        RUN sleep 1.5 && echo slow > /a
        """)
    project = write_project(tmp_path / "p", dockerfile, BAKE)
    done = bakec(project, state_dir, "build", "--progress", "quiet")
    assert done.returncode == 0, done.stderr

    record = next(records.read_records(state_dir))
    for entry in record["ops"].values():
        assert 0 <= entry["start"] <= entry["end"]
    data = _report(project, state_dir)
    steps = {n["step"]: n for n in data["nodes"]}
    slow = steps["[slow 1/1] RUN sleep 1.5 && echo slow > /a"]
    fast = steps["[fast 1/1] RUN echo fast > /a && echo 1 > /b && echo 2 > /c && echo 3 > /d"]
    shared = steps[f"[base 2/2] RUN echo {token} > /token"]
    assert shared["targets"] == [0, 1] and data["targets"] == ["fast", "slow"]
    assert slow["last"]["state"] == fast["last"]["state"] == shared["last"]["state"] == "ran"
    assert slow["last"]["end"] - slow["last"]["start"] >= 1.5
    assert slow["last"]["start"] >= shared["last"]["end"]  # it waited for the step it reads
    # by step count both chains are as long; by time the sleeping one is the critical path
    assert data["critical_by"] == "time" and data["critical"][-1] == slow["id"]
    assert data["critical_seconds"] >= 1.5
    assert shared["src"]["line"] == 2 and shared["src"]["href"].endswith("/p/Dockerfile#L2")

    done = bakec(project, state_dir, "build", "--progress", "quiet")
    assert done.returncode == 0, done.stderr
    again = {n["step"]: n["last"] for n in _report(project, state_dir)["nodes"]}
    assert again[slow["step"]]["state"] == again[shared["step"]]["state"] == "cached"
    assert again[slow["step"]]["time"] > slow["last"]["time"]  # the newest record wins

    missing = cli(project, "plan", "--format", "html", "--state-dir", str(tmp_path / "nothing"))
    assert missing.returncode == 0 and '"critical_by":"steps"' in missing.stdout
    assert "no build records in" in missing.stderr
