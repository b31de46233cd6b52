"""``bakec verify``: a real rebuild without cache (a RUN seen from outside runs again), identical
images pass, a non-reproducible RUN is caught and named with its layer, step and file."""

from __future__ import annotations

import http.server
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import bakec

GOOD = """\
FROM 127.0.0.1:5000/busybox:latest
RUN --network=host wget -q -O /fetched http://127.0.0.1:{port}/hit
RUN echo stable > /stable
"""
BAD = """\
FROM 127.0.0.1:5000/busybox:latest
RUN echo stable > /stable
RUN cat /proc/sys/kernel/random/uuid > /stamp
"""


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits += 1
        body = b"the same bytes every time\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, type[_Counter]]]:
    handler = type("Counter", (_Counter,), {"hits": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], handler
    httpd.shutdown()


def _project(tmp: Path, port: int) -> Path:
    (tmp / "good.Dockerfile").write_text(GOOD.format(port=port))
    (tmp / "bad.Dockerfile").write_text(BAD)
    (tmp / "docker-bake.hcl").write_text(
        textwrap.dedent("""\
        target "_common" {
          args = { SOURCE_DATE_EPOCH = "1700000000" }
        }
        target "good" {
          inherits = ["_common"]
          dockerfile = "good.Dockerfile"
          entitlements = ["network.host"]
          output = ["type=oci,dest=good.tar,rewrite-timestamp=true"]
        }
        target "bad" {
          inherits = ["_common"]
          dockerfile = "bad.Dockerfile"
          output = ["type=oci,dest=bad.tar,rewrite-timestamp=true"]
        }
        """)
    )
    return tmp


def test_verify_rebuilds_and_finds_a_non_reproducible_run(tmp_path, state_dir, server):
    port, counter = server
    project = _project(tmp_path, port)
    built = bakec(project, state_dir, "build", "--allow", "network.host", "good", "bad")
    assert built.returncode == 0, built.stderr
    hits = counter.hits
    assert hits >= 1

    ok = bakec(project, state_dir, "verify", "--state-dir", str(state_dir), "--allow", "network.host", "good")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout == "1 image identical to the last build\n"
    assert counter.hits == hits + 1  # the RUN really ran again, though the cache had it

    bad = bakec(project, state_dir, "verify", "--state-dir", str(state_dir), "bad")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0] == "bad (linux/amd64): layer 3 of 3 differs"
    assert lines[1].startswith("  made by ") and "RUN cat /proc/sys/kernel/random/uuid > /stamp" in lines[1]
    assert lines[2].startswith("  /stamp: content sha256:")
    assert lines[-1] == "1 of 1 images differ from the last build"


def test_verify_needs_a_recorded_build(tmp_path, server):
    project = _project(tmp_path, server[0])
    proc = bakec(project, tmp_path / "state", "verify", "--state-dir", str(tmp_path / "state"), "bad")
    assert proc.returncode == 1
    assert "no recorded build of bad in" in proc.stderr
