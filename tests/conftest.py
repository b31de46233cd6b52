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

Markers
-------
``e2e``            tests that need root, containerd, runc or the registry. Set
                   here, in :func:`pytest_collection_modifyitems`, by directory,
                   module and fixture (see :data:`E2E_PATHS`,
                   :data:`E2E_FIXTURES`), never by hand in a test module, so a new
                   test under ``tests/build`` or one asking for ``state_dir`` is
                   marked without anyone remembering to. ``pytest -m "not e2e"``
                   runs the rest without root and without starting any daemon.
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

# The session's daemons serve long-lived clients that hold no build lock: no idle stop under
# them (tests/worker/test_cli_daemon.py sets its own idle time to test the watcher).
os.environ.setdefault("BAKEC_DAEMON_IDLE", "0")

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


# Paths (relative to tests/) whose every test needs root, containerd, runc or the registry.
E2E_PATHS: tuple[str, ...] = (
    "build/",  # end-to-end builds on an embedded containerd
    "fleet/test_fleet_run.py",  # shards and publish, each on its own embedded containerd
    "infra/",  # the machine's registry and base images
    "conformance/test_dockerfile_build.py",  # the Dockerfile corpus through the real executor
    "export/",  # layers with whiteout devices and owners (mknod, chown), skopeo
    "worker/test_fileops.py",  # file operations set owners
    "worker/test_fileops_corpus.py",
    "worker/test_layers.py",  # overlay mounts
    "worker/test_runc_sweep.py",  # bind mounts
    "worker/test_run.py",  # containerd and runc
    "worker/test_store.py",
    "worker/test_network.py",
    "cli/test_install.py",  # builds a wheel and installs it and its dependencies from PyPI
)

# Single tests that need root (mounts, chown), by node id below tests/ (parameters left out).
E2E_TESTS: frozenset[str] = frozenset(
    {
        "worker/test_mount_sources.py::test_cache_sharing_modes",
        "worker/test_mount_sources.py::test_fresh_cache_dir_gets_mode_and_owner_once",
        "worker/test_mount_sources.py::test_key_files_are_served_by_a_private_agent_through_a_relay",
        "worker/test_mount_sources.py::test_overlay_with_whiteouts_shows_the_context_as_sent",
        "worker/test_mount_sources.py::test_sweep_unmounts_what_a_dead_process_left_and_keeps_live_ones",
        "worker/test_safepath.py::test_mkdir_all_creates_parents_with_mode_and_owner",
        "cli/test_doctor.py::test_doctor_finds_everything_building_needs",
    }
)

# Fixtures that start or reach a daemon (asked for directly or through another fixture).
E2E_FIXTURES: frozenset[str] = frozenset(
    {"registry", "busybox_image", "state_dir", "daemon", "base_snapshot"}
)


def _needs_containerd_mark(item: pytest.Item) -> bool:
    """The test carries tests/worker's ``requires_containerd`` skip mark (a daemon made in the test body)."""
    decorator = getattr(getattr(item, "module", None), "requires_containerd", None)
    mark = getattr(decorator, "mark", None)
    return mark is not None and any(m == mark for m in item.iter_markers("skipif"))


def is_e2e(item: pytest.Item) -> bool:
    """Whether the test needs root, containerd, runc or the registry."""
    path = Path(str(item.path)).resolve()
    relative = path.relative_to(REPO / "tests").as_posix() if path.is_relative_to(REPO / "tests") else ""
    if relative and relative.startswith(E2E_PATHS):
        return True
    if f"{relative}::{item.name.split('[')[0]}" in E2E_TESTS:
        return True
    if E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    return _needs_containerd_mark(item)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_e2e(item):
            item.add_marker(pytest.mark.e2e)
