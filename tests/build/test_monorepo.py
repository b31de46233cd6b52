"""The 25-target monorepo workload: shared steps run once, a second build runs nothing.

Counted twice, independently: from bakec's bakec-json events, and from containerd's own
snapshot metadata (every executed RUN/COPY commits exactly one ``bakec/op/<digest>``
snapshot, so their number is the number of unique operations that ran).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from corpus import GEN_WORKLOADS

from .helpers import bakec, vertices


def _op_snapshots(state: Path) -> set[str]:
    from bakec.worker.client import Client

    client = Client(str(state / "c.sock"))
    try:
        return {s.name for s in client.list_snapshots() if s.name.startswith("bakec/op/")}
    finally:
        client.close()


def test_monorepo_runs_shared_steps_once_and_then_nothing(tmp_path, state_dir):
    subprocess.run(
        [sys.executable, str(GEN_WORKLOADS), str(tmp_path), "--base", "127.0.0.1:5000/busybox:latest"],
        check=True,
        capture_output=True,
    )
    project = tmp_path / "monorepo"
    before = _op_snapshots(state_dir) if (state_dir / "c.sock").exists() else set()
    first = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert first.returncode == 0, first.stderr[-3000:]
    ran = vertices(first.stderr, "started")
    # several targets: each name carries the first target that has the step (buildx bake's prefix)
    dd = [n for n in ran if "busybox dd if=/dev/zero" in n]
    assert len(dd) == 1 and dd[0].startswith("[base 2/3] RUN mkdir -p /opt/tools && "), dd
    deps = sorted(n.split("] ", 1)[0] + "]" for n in ran if "echo deps-" in n)
    assert deps == ["[api-dev-slim deps 1/2]", "[api-prod-slim deps 1/2]"], deps
    tars = [n for n in ran if "busybox tar -cf /app.tar /src" in n]
    assert (
        len(tars) == 24 and len({n.split(" ", 1)[0] for n in tars}) == 24
    )  # one per app target, named after it
    assert all(n.split(" ", 2)[1] == "build" for n in tars), tars[:3]
    created = _op_snapshots(state_dir) - before
    executed = [n for n in ran if " RUN " in f" {n} " or " COPY " in f" {n} "]
    assert len(created) == len(executed)
    assert len(list((project / "out").glob("*.tar"))) == 24
    second = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert second.returncode == 0, second.stderr[-3000:]
    again = [n for n in vertices(second.stderr, "started") if "RUN" in n or "COPY" in n]
    assert again == [], (again[:5], second.stderr[:3000])
    assert _op_snapshots(state_dir) - before == created
