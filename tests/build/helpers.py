"""Helpers for the end-to-end builds: the CLI of this checkout, fresh state dirs, bakec-json events.

The session's shared ``state_dir`` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "127.0.0.1:5000"
BUSYBOX = f"{REGISTRY}/busybox:latest"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"

# for modules whose tests make their own state dirs (fresh_state): the shared state_dir fixture's
# checks (root, containerd, runc: skip, or fail under CI) and the base images it makes sure of
needs_builds = pytest.mark.usefixtures("state_dir")


def cli_env(cwd: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the CLI runs with: this checkout's sources first, nothing else inherited."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONPATH": str(REPO / "src"),  # this checkout's code, whatever pip installed
        **(extra or {}),
    }


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``bakec ARGS`` in ``cwd`` and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd,
        env=cli_env(cwd, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bakec(
    cwd: Path, state: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the bakec CLI as a user would, in ``cwd``; ``build`` runs on the state dir ``state``.

    Pushed images get no default provenance here (``BUILDX_NO_DEFAULT_ATTESTATIONS=1``, as
    buildx allows), so tests about pushing see bare manifests; test_attestations.py passes
    ``env={"BUILDX_NO_DEFAULT_ATTESTATIONS": ""}`` to test the default itself.
    """
    if args and args[0] == "build":
        args = (*args, "--state-dir", str(state))
    return cli(cwd, *args, env={"BUILDX_NO_DEFAULT_ATTESTATIONS": "1", **(env or {})}, timeout=timeout)


def spawn(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``bakec ARGS`` in ``cwd`` with its stderr readable line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "bakec.cli.main", *args],
        cwd=cwd,
        env=cli_env(cwd, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def events(stderr: str) -> list[dict]:
    """The bakec-json progress events in a run's stderr."""
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def instruction(name: str) -> str:
    """A vertex name without buildx's ``[target platform stage n/m]`` prefix: ``RUN make``."""
    return name.split("] ", 1)[1] if name.startswith("[") and "] " in name else name


def vertices(stderr: str, state: str) -> list[str]:
    """Names of the vertices that reached ``state`` (``started``, ``cached``, ...)."""
    return [e["name"] for e in events(stderr) if e.get("type") == "vertex" and e["state"] == state]


@contextmanager
def fresh_state() -> Iterator[Path]:
    """A new, empty state dir (its own embedded containerd), stopped and removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="bks", dir="/tmp"))
    try:
        yield state
    finally:
        from bakec.worker.daemon import Daemon

        Daemon(state).stop()
        shutil.rmtree(state, ignore_errors=True)


def write_project(root: Path, dockerfile: str, bake: str, files: dict[str, str] | None = None) -> Path:
    """A build context with a Dockerfile, a docker-bake.hcl and ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "docker-bake.hcl").write_text(bake)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def mounts_under(state: Path) -> list[str]:
    """Mount points inside ``state``, leaving out the pooled network namespaces (kept by design)."""
    prefix, pool = str(state) + "/", str(state / "net") + "/"
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    return [p for p in points if p.startswith(prefix) and not p.startswith(pool)]


def runc_containers(state: Path) -> list[str]:
    """Containers runc knows under the state dir (containerd's tasks and bakec's direct runs)."""
    out = []
    for root in (state / "runc", state / "runc" / "direct"):
        if root.is_dir():
            listing = subprocess.run(
                ["runc", "--root", str(root), "list", "-q"], capture_output=True, text=True, check=True
            )
            out += listing.stdout.split()
    return out


def registry_get(path: str, accept: str) -> bytes:
    """The body of ``GET http://127.0.0.1:5000/v2/PATH`` (a manifest or a blob) with ``Accept: accept``."""
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def registry_json(path: str, accept: str) -> dict:
    """:func:`registry_get` parsed as JSON."""
    return json.loads(registry_get(path, accept))


class OciArchive:
    """An OCI layout tarball (an ``oci`` or ``docker`` output) read into memory."""

    def __init__(self, path: Path) -> None:
        with tarfile.open(path) as tar:
            self.files: dict[str, bytes] = {
                m.name: tar.extractfile(m).read()
                for m in tar.getmembers()
                if m.isfile()  # type: ignore[union-attr]
            }
        self.index: dict = json.loads(self.files["index.json"])

    def blob(self, digest: str) -> bytes:
        """The bytes of the blob ``sha256:...``."""
        return self.files["blobs/sha256/" + digest.split(":", 1)[1]]

    def json(self, digest: str) -> dict:
        """The blob ``sha256:...`` parsed as JSON (a manifest, an index or a config)."""
        return json.loads(self.blob(digest))

    def root(self) -> dict:
        """What index.json's first entry points to: the image manifest, or the index of several platforms."""
        return self.json(self.index["manifests"][0]["digest"])
