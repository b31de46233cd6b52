"""``bakec lock`` for ``ADD <url>`` sources: no registry, a local web server."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A web server on loopback serving ``tmp_path/www``: (base URL, directory)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(www))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", www
    finally:
        server.shutdown()
        server.server_close()


def _bakec(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        check=False,
    )


def test_add_url_is_pinned_to_its_sha256_and_a_change_is_drift(served, tmp_path: Path) -> None:
    url, www = served
    (www / "tool.txt").write_bytes(b"v1\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "Dockerfile").write_text(
        f"FROM scratch\nADD {url}/tool.txt /tool\nADD --checksum=sha256:{'0' * 64} {url}/pinned /p\n"
    )
    (proj / "docker-bake.hcl").write_text('target "app" {}\n')

    proc = _bakec(proj, "lock", "app")
    assert proc.returncode == 0, proc.stderr
    lock = json.loads((proj / "bakec.lock").read_text())
    # the URL with --checksum pins itself and is left out
    assert lock["http"] == {f"{url}/tool.txt": "sha256:" + hashlib.sha256(b"v1\n").hexdigest()}
    assert lock["images"] == {}

    (www / "tool.txt").write_bytes(b"v2\n")
    assert _bakec(proj, "lock", "--check", "app").returncode == 0  # offline: nothing added or removed
    old, new = (hashlib.sha256(data).hexdigest() for data in (b"v1\n", b"v2\n"))
    proc = _bakec(proj, "lock", "--check", "--remote", "app")
    assert proc.returncode == 1
    assert proc.stdout == (
        f"bakec.lock is out of date:\n  ~ http {url}/tool.txt: pinned sha256:{old}, now sha256:{new}\n"
    )
    assert _bakec(proj, "lock", "app", "--update").returncode == 0
    lock = json.loads((proj / "bakec.lock").read_text())
    assert lock["http"][f"{url}/tool.txt"] == f"sha256:{new}"


def test_check_without_a_lockfile_says_so(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "docker-bake.hcl").write_text('target "app" {}\n')
    proc = _bakec(tmp_path, "lock", "--check", "app")
    assert proc.returncode != 0
    assert f"no lockfile at {tmp_path / 'bakec.lock'}" in proc.stderr
