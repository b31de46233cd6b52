"""`bakec build` end to end on the embedded containerd, runc and the loopback registry."""

from __future__ import annotations

import json
import subprocess
import tarfile
import textwrap
from pathlib import Path

from .helpers import bakec, events

DOCKERFILE = """\
FROM 127.0.0.1:5000/busybox:latest
ARG GREETING
RUN echo hello > /hello && mkdir -p /data && echo "$GREETING" > /data/greeting
COPY app/ /app/
ENV GREETING=hi
CMD ["cat", "/hello"]
"""


def _project(tmp: Path, outputs: str, dockerfile: str = DOCKERFILE) -> Path:
    (tmp / "app").mkdir(parents=True, exist_ok=True)
    (tmp / "app" / "main.txt").write_text("main\n")
    (tmp / "Dockerfile").write_text(dockerfile)
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent(f"""\
        target "default" {{
          tags = ["example.local/app:1"]
          args = {{ GREETING = "from-args" }}
          output = [{outputs}]
        }}
        """)
    )
    return tmp


def test_build_writes_an_oci_image_skopeo_accepts_and_a_local_filesystem(tmp_path, state_dir):
    project = _project(tmp_path, '"type=oci,dest=out/app.tar", "type=local,dest=out/rootfs"')
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    inspect = subprocess.run(
        ["skopeo", "inspect", "--config", f"oci-archive:{project / 'out/app.tar'}"],
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(inspect.stdout)
    assert config["config"]["Cmd"] == ["cat", "/hello"]
    assert "GREETING=hi" in config["config"]["Env"]
    assert len(config["rootfs"]["diff_ids"]) == 3  # busybox + RUN + COPY
    # BuildKit's exporter adds one entry for the base layer, which has no history, at the end
    assert [h["created_by"] for h in config["history"] if not h.get("empty_layer")] == [
        'RUN |1 GREETING=from-args /bin/sh -c echo hello > /hello && mkdir -p /data && echo "$GREETING" > /data/greeting'
        " # buildkit",
        "COPY app/ /app/ # buildkit",
        "[3/3] COPY app/ /app/",
    ]
    rootfs = project / "out" / "rootfs"
    assert (rootfs / "hello").read_text() == "hello\n"
    assert (rootfs / "data" / "greeting").read_text() == "from-args\n"
    assert (rootfs / "app" / "main.txt").read_text() == "main\n"
    with tarfile.open(project / "out" / "app.tar") as tar:
        names = tar.getnames()
    assert "oci-layout" in names and "index.json" in names


def test_second_build_runs_nothing(tmp_path, state_dir):
    project = _project(tmp_path, '"type=oci,dest=out/app.tar"')
    first = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert first.returncode == 0, first.stderr
    second = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert second.returncode == 0, second.stderr
    started = [
        e
        for e in events(second.stderr)
        if e.get("type") == "vertex"
        and e["state"] == "started"
        and e["name"].split("] ", 1)[-1].startswith(("RUN", "COPY"))
    ]
    assert started == []
    cached = [e for e in events(second.stderr) if e.get("type") == "vertex" and e["state"] == "cached"]
    assert len(cached) >= 2


def test_changing_a_context_file_reruns_only_the_copy(tmp_path, state_dir):
    project = _project(tmp_path, '"type=cacheonly"')
    assert bakec(project, state_dir, "build").returncode == 0
    (project / "app" / "main.txt").write_text("changed\n")
    proc = bakec(project, state_dir, "build", "--progress", "bakec-json")
    assert proc.returncode == 0, proc.stderr
    ran = [e["name"] for e in events(proc.stderr) if e.get("type") == "vertex" and e["state"] == "started"]
    assert any("COPY app/ /app/" in name for name in ran)
    assert not any(" RUN " in f" {name}" for name in ran)


def test_failing_run_reports_the_exit_code(tmp_path, state_dir):
    dockerfile = "FROM 127.0.0.1:5000/busybox:latest\nRUN echo before && exit 3\n"
    project = _project(tmp_path, '"type=cacheonly"', dockerfile)
    proc = bakec(project, state_dir, "build", "--progress", "plain")
    assert proc.returncode == 1
    assert "did not complete successfully: exit code: 3" in proc.stderr
    assert "Traceback" not in proc.stderr
