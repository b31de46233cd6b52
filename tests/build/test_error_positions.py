"""A failed build step is reported at its Dockerfile line, with the target, as buildx does."""

from __future__ import annotations

import textwrap

from tests.build.helpers import BUSYBOX, bakec, write_project

BAKE = textwrap.dedent("""\
    target "api" {
      context = "services/api"
      output = ["type=local,dest=out/api"]
    }
    target "web" {
      context = "services/web"
      platforms = ["linux/amd64", "linux/arm64"]
      output = ["type=local,dest=out/web"]
    }
    """)


def _monorepo(root, api: str, web: str = f"FROM {BUSYBOX}\n"):
    return write_project(
        root,
        "",
        BAKE,
        {"services/api/Dockerfile": api, "services/web/Dockerfile": web, "services/api/a": "a"},
    )


def test_a_failing_run_names_the_target_and_points_at_its_line(tmp_path, state_dir):
    project = _monorepo(tmp_path, f"FROM {BUSYBOX}\nCOPY a /a\nRUN echo failing && exit 3\nRUN true\n")
    proc = bakec(project, state_dir, "build", "--progress", "plain", "api")
    assert proc.returncode == 1, proc.stderr
    tail = proc.stderr.strip().splitlines()[-8:]
    assert tail == [
        "services/api/Dockerfile:3",
        "--------------------",
        f"   1 |     FROM {BUSYBOX}",
        "   2 |     COPY a /a",
        "   3 | >>> RUN echo failing && exit 3",
        "   4 |     RUN true",
        "--------------------",
        'ERROR: target api: failed to solve: process "/bin/sh -c echo failing && exit 3" '
        "did not complete successfully: exit code: 3",
    ]
    assert not (project / "out" / "api").exists()


def test_a_missing_copy_source_names_the_platform_of_a_multi_platform_target(tmp_path, state_dir):
    project = _monorepo(tmp_path, f"FROM {BUSYBOX}\n", f"FROM {BUSYBOX}\nCOPY nothere /x\n")
    proc = bakec(project, state_dir, "build", "--progress", "plain", "web")
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-6:-2] == [
        "services/web/Dockerfile:2",
        "--------------------",
        f"   1 |     FROM {BUSYBOX}",
        "   2 | >>> COPY nothere /x",
    ]
    assert lines[-1].startswith("ERROR: target web (linux/")
    assert lines[-1].endswith('"/nothere": not found')
