"""``bakec.lock`` on the loopback registry: a lock keeps a build on the digest it pinned when the tag moves.

Each test pushes its own ``127.0.0.1:5000/locktest-<id>/base:1`` (busybox:latest itself is never
touched), moves that tag with a bakec build, and checks what the locked build really used: the
files of its output. ``ADD <url>`` pins are checked against a file served on loopback that changes;
git pins are tested with the git servers of tests/build/test_remote.py, in that module.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.build.helpers import BUSYBOX, REGISTRY, bakec
from tests.conftest import manifest_digest


@pytest.fixture
def base(state_dir: Path, tmp_path: Path) -> str:
    """A test-only base tag, first pointing at busybox:latest."""
    repo = f"locktest-{uuid.uuid4().hex[:10]}/base"
    subprocess.run(
        [
            "skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
            f"docker://{BUSYBOX}", f"docker://{REGISTRY}/{repo}:1",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"{REGISTRY}/{repo}:1"


def _move_tag(ref: str, state: Path, tmp: Path) -> str:
    """Push an image with ``/moved`` to ``ref`` (built by bakec on busybox); its new manifest digest."""
    src = tmp / "mover"
    src.mkdir()
    (src / "moved").write_text("moved\n")
    (src / "Dockerfile").write_text(f"FROM {BUSYBOX}\nCOPY moved /moved\n")
    (src / "docker-bake.hcl").write_text(
        f'target "mover" {{\n  tags = ["{ref}"]\n  output = ["type=registry"]\n}}\n'
    )
    proc = bakec(src, state, "build", "mover", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    repo, _, tag = ref.removeprefix(REGISTRY + "/").rpartition(":")
    digest = manifest_digest(repo, tag)
    assert digest
    return digest


def _project(tmp: Path, base: str) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "Dockerfile").write_text(f"FROM {base} AS root\nCOPY hello /hello\n")
    (proj / "hello").write_text("hi\n")
    (proj / "docker-bake.hcl").write_text('target "app" {\n  output = ["type=local,dest=out"]\n}\n')
    return proj


def test_lock_pins_the_base_and_a_moved_tag_is_drift(base: str, state_dir: Path, tmp_path: Path) -> None:
    proj = _project(tmp_path, base)
    repo = base.removeprefix(REGISTRY + "/").rpartition(":")[0]
    first = manifest_digest(repo, "1")

    proc = bakec(proj, state_dir, "lock", "app")
    assert proc.returncode == 0, proc.stderr
    text = (proj / "bakec.lock").read_text()
    lock = json.loads(text)
    assert text.endswith("}\n") and text == json.dumps(lock, indent=2, sort_keys=True) + "\n"
    pin = lock["images"][base]
    assert list(pin["platforms"].values()) == [first]
    # busybox:latest is an index: the lock records it and the platform's manifest
    assert pin["index"] == "" or pin["index"].startswith("sha256:")
    assert bakec(proj, state_dir, "lock", "--check", "--remote", "app").returncode == 0

    moved = _move_tag(base, state_dir, tmp_path)
    assert moved != first

    # the locked build still starts from the pinned image: no /moved in its output
    proc = bakec(proj, state_dir, "build", "app", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (proj / "out" / "hello").read_text() == "hi\n"
    assert not (proj / "out" / "moved").exists()

    proc = bakec(proj, state_dir, "lock", "--check", "app")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # offline: every reference is still pinned
    proc = bakec(proj, state_dir, "lock", "--check", "--remote", "app")
    assert proc.returncode == 1
    assert f"~ image {base} (linux/amd64): pinned {first}, now {moved}" in proc.stdout

    proc = bakec(proj, state_dir, "lock", "app", "--update", base)
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads((proj / "bakec.lock").read_text())["images"][base]["platforms"].values()) == [
        moved
    ]
    proc = bakec(proj, state_dir, "build", "app", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (proj / "out" / "moved").read_text() == "moved\n"


def test_frozen_names_the_missing_reference_and_check_lists_an_added_from(
    base: str, state_dir: Path, tmp_path: Path
) -> None:
    proj = _project(tmp_path, base)
    assert bakec(proj, state_dir, "lock", "app").returncode == 0
    before = (proj / "bakec.lock").read_bytes()
    assert bakec(proj, state_dir, "lock", "app").returncode == 0
    assert (proj / "bakec.lock").read_bytes() == before  # stable

    (proj / "Dockerfile").write_text(
        f"FROM {BUSYBOX} AS tools\nFROM {base} AS root\nCOPY --from=tools /bin/busybox /bb\n"
    )
    proc = bakec(proj, state_dir, "lock", "--check", "app")
    assert proc.returncode == 1
    assert proc.stdout == (
        "bakec.lock is out of date:\n"
        f"  + image {BUSYBOX} (linux/amd64): not pinned (needed by target app, stage tools)\n"
    )

    proc = bakec(proj, state_dir, "build", "app", "--frozen", "--progress", "plain")
    assert proc.returncode != 0
    assert f"image {BUSYBOX} (linux/amd64) (needed by target app, stage tools)" in proc.stderr
    assert not (proj / "out").exists()  # failed before building

    # removing the stage again is drift the other way
    (proj / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    proc = bakec(proj, state_dir, "lock", "--check", "app")
    assert proc.returncode == 1
    assert f"  - image {base} (linux/amd64): pinned but no longer needed\n" in proc.stdout


def test_print_is_byte_identical_with_and_without_a_lock(base: str, state_dir: Path, tmp_path: Path) -> None:
    proj = _project(tmp_path, base)
    without = bakec(proj, state_dir, "build", "--print", "app")
    assert bakec(proj, state_dir, "lock", "app").returncode == 0
    with_lock = bakec(proj, state_dir, "build", "--print", "app")
    assert without.returncode == with_lock.returncode == 0
    assert with_lock.stdout == without.stdout


def test_lock_sits_next_to_the_first_file(base: str, state_dir: Path, tmp_path: Path) -> None:
    proj = _project(tmp_path, base)
    sub = proj / "defs"
    sub.mkdir()
    (sub / "one.hcl").write_text('target "app" {\n  context = "."\n}\n')
    (proj / "two.hcl").write_text('target "app" {\n  output = ["type=local,dest=out"]\n}\n')
    proc = bakec(proj, state_dir, "lock", "-f", "defs/one.hcl", "-f", "two.hcl", "app")
    assert proc.returncode == 0, proc.stderr
    assert base in json.loads((sub / "bakec.lock").read_text())["images"]
    assert not (proj / "bakec.lock").exists()


class _Served(http.server.BaseHTTPRequestHandler):
    """Serves ``body`` at every path; a test replaces it to change what the URL serves."""

    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, type[_Served]]]:
    """A loopback web server's file URL (unique per test, so never a cache hit) and its handler."""
    handler = type("Served", (_Served,), {"body": b"one\n"})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{uuid.uuid4().hex[:8]}/tool.txt", handler
    httpd.shutdown()
    httpd.server_close()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_build_verifies_add_url_against_its_pin(served, state_dir: Path, tmp_path: Path) -> None:
    url, handler = served
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "Dockerfile").write_text(f"FROM scratch\nADD {url} /tool.txt\n")
    (proj / "docker-bake.hcl").write_text('target "app" {\n  output = ["type=local,dest=out"]\n}\n')
    assert bakec(proj, state_dir, "lock", "app").returncode == 0
    assert json.loads((proj / "bakec.lock").read_text())["http"] == {url: _sha256(b"one\n")}

    handler.body = b"two\n"
    old, new = _sha256(b"one\n"), _sha256(b"two\n")
    proc = bakec(proj, state_dir, "build", "app", "--progress", "plain")
    assert proc.returncode != 0
    assert url in proc.stderr
    assert f"digest mismatch {new}: {old}" in proc.stderr
    assert not (proj / "out").exists()

    proc = bakec(proj, state_dir, "lock", "--check", "--remote", "app")
    assert proc.returncode == 1
    assert f"  ~ http {url}: pinned {old}, now {new}\n" in proc.stdout

    assert bakec(proj, state_dir, "lock", "app", "--update", url).returncode == 0
    proc = bakec(proj, state_dir, "build", "app", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (proj / "out" / "tool.txt").read_bytes() == b"two\n"


def test_a_fleet_plan_takes_base_images_from_the_lock(base: str, state_dir: Path, tmp_path: Path) -> None:
    proj = _project(tmp_path, base)
    repo = base.removeprefix(REGISTRY + "/").rpartition(":")[0]
    first = manifest_digest(repo, "1")
    assert bakec(proj, state_dir, "lock", "app").returncode == 0
    moved = _move_tag(base, state_dir, tmp_path)
    assert moved != first

    plan = ("plan", "app", "--shards", "1", "--cache-repo", f"{REGISTRY}/locktest/cache")
    locked = bakec(proj, state_dir, *plan)
    assert locked.returncode == 0, locked.stderr
    images = json.loads(locked.stdout)["base_images"]
    assert images["resolver"] == "lock"
    assert [(i["ref"], i["digest"]) for i in images["images"]] == [(base, first)]

    (proj / "bakec.lock").unlink()  # without the lock the plan asks the registry: the moved tag
    unlocked = json.loads(bakec(proj, state_dir, *plan).stdout)["base_images"]
    assert unlocked["resolver"] == "registry"
    assert [(i["ref"], i["digest"]) for i in unlocked["images"]] == [(base, moved)]
