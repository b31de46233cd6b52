"""``bakec prune`` end to end: cache rows, snapshots and blobs go; the next build runs again."""

from __future__ import annotations

import re
import sqlite3
import textwrap
from pathlib import Path

from .helpers import BUSYBOX, cli, fresh_state, instruction, needs_builds, spawn, vertices, write_project

pytestmark = needs_builds

DOCKERFILE = f"""\
FROM {BUSYBOX}
RUN echo one > /one && dd if=/dev/zero of=/blob bs=1024 count=300 2>/dev/null
COPY app.txt /app.txt
RUN cat /app.txt > /copy
"""

BAKE = textwrap.dedent("""\
    target "default" {
      output = ["type=cacheonly"]
    }
    """)

STEPS = ("RUN echo one", "COPY app.txt", "RUN cat /app.txt")


def _rows(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state / "cache.db") as db:
        return db.execute("SELECT key, kind FROM results").fetchall()


def _snapshots(state: Path) -> list[str]:
    from bakec.worker.daemon import Daemon

    with Daemon(state).connect() as client:
        return sorted(s.name for s in client.list_snapshots() if s.name.startswith("bakec/"))


def _blobs(state: Path) -> list[str]:
    return sorted(p.name for p in (state / "content" / "blobs" / "sha256").iterdir())


def _ran(stderr: str) -> list[str]:
    """The steps of DOCKERFILE (as named in STEPS) that ran."""
    return [
        step for name in vertices(stderr, "started") for step in STEPS if instruction(name).startswith(step)
    ]


def test_prune_all_removes_every_entry_and_the_next_build_runs_every_step(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        first = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert first.returncode == 0, first.stderr
        assert sorted(_ran(first.stderr)) == sorted(STEPS)
        again = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert _ran(again.stderr) == []
        assert len(_rows(state)) == 4  # FROM, RUN, COPY, RUN
        assert any(name.startswith("bakec/op/") for name in _snapshots(state))

        pruned = cli(project, "prune", "--all", "--state-dir", str(state))
        assert pruned.returncode == 0, pruned.stderr
        lines = pruned.stdout.splitlines()
        assert lines[0].split() == ["ID", "RECLAIMABLE", "SIZE", "LAST", "ACCESSED"]
        assert len([line for line in lines if line.startswith("sha256:")]) == 4
        total = re.fullmatch(r"Total:\t([\d.]+)(B|kB|MB)", lines[-1])
        assert total is not None and total.group(2) == "MB"  # the busybox layer and the 300 KiB RUN at least
        assert _rows(state) == []
        assert _snapshots(state) == []
        assert _blobs(state) == []

        rebuilt = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert sorted(_ran(rebuilt.stderr)) == sorted(STEPS)
        assert vertices(rebuilt.stderr, "cached") == []


def test_prune_without_all_keeps_base_images_and_what_fits_in_keep_storage(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        assert cli(project, "build", "--state-dir", str(state)).returncode == 0
        kept = cli(project, "prune", "--keep-storage", "1GB", "--state-dir", str(state))
        assert kept.returncode == 0, kept.stderr
        assert kept.stdout == "Total:\t0B\n"
        assert len(_rows(state)) == 4

        pruned = cli(project, "prune", "--state-dir", str(state))
        assert pruned.returncode == 0, pruned.stderr
        assert len([line for line in pruned.stdout.splitlines() if line.startswith("sha256:")]) == 3
        assert [kind for _, kind in _rows(state)] == ["image"]
        assert [name for name in _snapshots(state) if name.startswith("bakec/op/")] == []
        assert len(_blobs(state)) == 1  # busybox's layer

        rebuilt = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert sorted(_ran(rebuilt.stderr)) == sorted(STEPS)
        assert [
            name for name in vertices(rebuilt.stderr, "cached") if instruction(name).startswith("FROM")
        ] != []


def test_prune_removes_snapshots_a_no_cache_rerun_left_unreferenced(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        assert cli(project, "build", "--state-dir", str(state)).returncode == 0
        before = _snapshots(state)
        rerun = cli(project, "build", "--no-cache", "--state-dir", str(state), "--progress", "bakec-json")
        assert rerun.returncode == 0, rerun.stderr
        assert sorted(_ran(rerun.stderr)) == sorted(STEPS)
        after = _snapshots(state)
        assert len([n for n in after if n.startswith("bakec/op/")]) == 2 * len(
            [n for n in before if n.startswith("bakec/op/")]
        )
        pruned = cli(project, "prune", "--keep-storage", "1GB", "--state-dir", str(state))
        assert pruned.returncode == 0, pruned.stderr
        assert _snapshots(state) != after
        assert len(_snapshots(state)) == len(before)
        cached = cli(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert _ran(cached.stderr) == []


def test_prune_spares_entries_used_recently_or_within_keep_storage(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        assert cli(project, "build", "--state-dir", str(state)).returncode == 0
        recent = cli(project, "prune", "--all", "--filter", "until=1h", "--state-dir", str(state))
        assert recent.returncode == 0, recent.stderr
        assert recent.stdout == "Total:\t0B\n"
        kept = cli(project, "prune", "--all", "--keep-storage", "1GB", "--state-dir", str(state))
        assert kept.stdout == "Total:\t0B\n"
        assert len(_rows(state)) == 4
        everything = cli(project, "prune", "--all", "--filter", "until=0s", "--state-dir", str(state))
        assert len([line for line in everything.stdout.splitlines() if line.startswith("sha256:")]) == 4
        assert _rows(state) == []


def test_prune_waits_for_a_running_build_on_the_same_state_dir(tmp_path):
    slow = DOCKERFILE + "RUN sleep 2 && echo slow > /slow\n"
    project = write_project(tmp_path / "p", slow, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        build = spawn(project, "build", "--state-dir", str(state), "--progress", "bakec-json")
        assert build.stderr is not None
        for line in build.stderr:
            if '"state": "started"' in line and "RUN sleep 2" in line:
                break
        pruned = cli(project, "prune", "--all", "--state-dir", str(state))
        rest = build.stderr.read()
        assert build.wait() == 0, rest
        assert pruned.returncode == 0, pruned.stderr
        assert pruned.stderr == "waiting for running builds to finish...\n"
        # it pruned what the build had just completed, not entries from under it
        assert len([line for line in pruned.stdout.splitlines() if line.startswith("sha256:")]) == 5
        assert _rows(state) == []


def test_prune_rejects_a_bad_filter(tmp_path):
    proc = cli(tmp_path, "prune", "--filter", "until=soon", "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert "invalid filter 'until=soon'" in proc.stderr
    proc = cli(tmp_path, "prune", "--filter", "type=regular", "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 2


def test_prune_rejects_a_bad_size(tmp_path):
    proc = cli(tmp_path, "prune", "--keep-storage", "lots", "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 2
    assert "invalid argument 'lots' for \"--keep-storage\" flag" in proc.stderr


def test_du_lists_every_record_and_prune_dry_run_removes_nothing(tmp_path):
    project = write_project(tmp_path / "p", DOCKERFILE, BAKE, {"app.txt": "app\n"})
    with fresh_state() as state:
        built = cli(project, "build", "--state-dir", str(state), "--progress", "rawjson")
        assert built.returncode == 0, built.stderr
        rows, snapshots, blobs = _rows(state), _snapshots(state), _blobs(state)

        du = cli(project, "du", "--state-dir", str(state))
        assert du.returncode == 0, du.stderr
        lines = du.stdout.splitlines()
        assert lines[0].split() == ["ID", "RECLAIMABLE", "SIZE", "LAST", "ACCESSED"]
        listed = {line.split()[0]: line.split()[1] for line in lines if line.startswith("sha256:")}
        assert sorted(listed) == sorted(key for key, _ in rows)
        kinds = dict(rows)
        assert {key: kinds[key] == "image" for key in listed} == {k: v == "false" for k, v in listed.items()}
        assert re.fullmatch(r"Total:\s+[\d.]+MB", lines[-1])
        assert re.fullmatch(r"Reclaimable:\s+[\d.]+(B|kB|MB)", lines[-2])

        verbose = cli(project, "du", "--verbose", "--state-dir", str(state)).stdout
        assert re.search(r"^Description:    \[\d/4\] RUN echo one > /one", verbose, re.MULTILINE)
        assert verbose.count("Targets:        default\n") == 4

        dry = cli(project, "prune", "--all", "--dry-run", "--state-dir", str(state))
        assert dry.returncode == 0, dry.stderr
        assert len([line for line in dry.stdout.splitlines() if line.startswith("sha256:")]) == 4
        assert dry.stdout.splitlines()[-1].endswith("(dry run: nothing was removed)")
        assert (_rows(state), _snapshots(state), _blobs(state)) == (rows, snapshots, blobs)
        after = cli(project, "du", "--state-dir", str(state)).stdout.splitlines()
        assert [line.split()[:3] for line in after] == [line.split()[:3] for line in lines]  # not the age
