"""Session-wide test infrastructure: the local registry, the busybox base image,
the conformance corpora (paths in tests/corpus.py) and the CI rule on skips.

Fixtures
--------
``registry``       the plain-HTTP registry on 127.0.0.1:5000 (started through
                   ``scripts/registry start`` when nothing answers); a
                   :class:`Registry` with ``url``, ``host`` and ``access_log``.
``busybox_image``  the corpus base image ``127.0.0.1:5000/busybox:latest``
                   (pushed by ``scripts/make-base-images`` when missing); a
                   :class:`BaseImage` with ``ref`` and ``digest``.
``state_dir``      a private state dir (own embedded containerd) shared by all
                   build tests of the session.
``conformance_dir`` a callable: ``conformance_dir("dockerfile")`` is the path
                   of ``tests/data/conformance/dockerfile``.

When the registry cannot be started (not root, packages missing) the tests
that need it are skipped, except under CI (``CI`` set), where that is a
failure: CI runs ``scripts/setup`` first, so it must work there. For the same
reason a skipped conformance or end-to-end test (tests/build, tests/conformance,
tests/worker) fails under CI unless tests/ci_skips.py allows it with a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

from ci_skips import in_ci, pytest_runtest_makereport  # noqa: F401 - the hook, registered by name
from corpus import conformance

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"

REGISTRY_HOST = "127.0.0.1:5000"
REGISTRY_URL = f"http://{REGISTRY_HOST}"
REGISTRY_DIR = Path(os.environ.get("BAKEC_TEST_REGISTRY_DIR", "/var/lib/bakec-test-registry"))
BUSYBOX_REF = f"{REGISTRY_HOST}/busybox:latest"
BUSYBOX_ARM64_REF = f"{REGISTRY_HOST}/busybox:arm64"
BUSYBOX_MULTI_REF = f"{REGISTRY_HOST}/busybox-multi:latest"

_LOG_LINE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d+)')  # Apache combined log: method, path, status

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"


class Registry(NamedTuple):
    url: str  # "http://127.0.0.1:5000"
    access_log: Path | None  # Apache combined log; None if the registry is not ours

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def log_offset(self) -> int:
        """Current size of the access log, to read only later lines with :meth:`log_since`."""
        if self.access_log is None:
            return 0
        try:
            return self.access_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> list[str]:
        """Access-log lines written after `offset` (from :meth:`log_offset`)."""
        if self.access_log is None:
            raise RuntimeError("the registry on 127.0.0.1:5000 was not started by scripts/registry")
        with open(self.access_log, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace").splitlines()

    def requests_since(self, offset: int, *repos: str) -> list[tuple[str, str, int]]:
        """(method, path, status) of the requests for ``repos`` logged after ``offset``.

        Skips the test when the registry is not ours (no access log). The registry logs a
        request after answering it, so this waits until the log stops growing.
        """
        if self.access_log is None:
            pytest.skip("the registry on 127.0.0.1:5000 was not started by scripts/registry (no access log)")
        lines: list[str] = []
        for _ in range(40):
            now = self.log_since(offset)
            if lines and now == lines:
                break
            lines = now
            time.sleep(0.025)
        prefixes = tuple(f"/v2/{repo}/" for repo in repos)
        out = []
        for line in lines:
            match = _LOG_LINE.search(line)
            if match and match.group(2).startswith(prefixes):
                out.append((match.group(1), match.group(2), int(match.group(3))))
        return out


class BaseImage(NamedTuple):
    ref: str  # "127.0.0.1:5000/busybox:latest"
    digest: str  # manifest digest, "sha256:..."

    @property
    def pinned(self) -> str:
        return f"{self.ref}@{self.digest}"


def _unavailable(msg: str) -> None:
    if in_ci():
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def registry_answers(timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{REGISTRY_URL}/v2/", timeout=timeout) as resp:
            return resp.status == 200 and resp.read() == b"{}"
    except (OSError, urllib.error.URLError):
        return False


def manifest_digest(repo: str, tag: str) -> str | None:
    """Digest of registry/repo:tag (image manifest or index), None if absent."""
    req = urllib.request.Request(
        f"{REGISTRY_URL}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": f"{MT_MANIFEST}, {MT_INDEX}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def _our_registry() -> bool:
    """True if the running registry was started by scripts/registry (pid file matches)."""
    try:
        pid = int((REGISTRY_DIR / "registry.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return False
    return f"serve {REGISTRY_DIR / 'config.yml'}" in cmdline


def _run_script(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def registry() -> Registry:
    if not registry_answers():
        proc = _run_script("bash", str(SCRIPTS / "registry"), "start", timeout=60)
        if proc.returncode != 0 or not registry_answers(timeout=5):
            _unavailable(
                f"no registry on {REGISTRY_URL} and `scripts/registry start` failed "
                f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]} -- run scripts/setup as root"
            )
    access_log = REGISTRY_DIR / "access.log" if _our_registry() else None
    return Registry(REGISTRY_URL, access_log)


@pytest.fixture(scope="session")
def busybox_image(registry: Registry) -> BaseImage:
    have = [
        manifest_digest("busybox", "latest"),
        manifest_digest("busybox", "arm64"),
        manifest_digest("busybox-multi", "latest"),
    ]
    if None in have:
        proc = _run_script(sys.executable, str(SCRIPTS / "make-base-images"))
        if proc.returncode != 0:
            _unavailable(
                f"base images missing from {registry.url} and scripts/make-base-images failed "
                f"(exit {proc.returncode}): {proc.stderr.strip()[-2000:]} -- run scripts/setup as root"
            )
    digest = manifest_digest("busybox", "latest")
    if digest is None:
        _unavailable(f"{BUSYBOX_REF} is still missing after scripts/make-base-images")
    return BaseImage(BUSYBOX_REF, digest)


@pytest.fixture(scope="session")
def conformance_dir() -> Callable[[str], Path]:
    """``conformance_dir("bake")`` -> Path to tests/data/conformance/bake."""
    return conformance


def _build_missing() -> str | None:
    if os.geteuid() != 0:
        return "builds need root (containerd, overlayfs, runc)"
    for binary, package in (("containerd", "containerd"), ("runc", "runc")):
        if shutil.which(binary) is None:
            return f"{binary} not installed (apt-get install {package})"
    return None


@pytest.fixture(scope="session")
def state_dir(busybox_image) -> Iterator[Path]:
    """A private, short state dir shared by every build test; its embedded containerd is stopped at the end."""
    missing = _build_missing()
    if missing:
        if in_ci():
            pytest.fail(missing)
        pytest.skip(missing)
    state = Path(tempfile.mkdtemp(prefix="bk", dir="/tmp"))
    try:
        yield state
    finally:
        from bakec.worker.daemon import Daemon

        Daemon(state).stop()
        shutil.rmtree(state, ignore_errors=True)
