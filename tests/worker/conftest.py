"""Fixtures for the worker tests, all on a REAL containerd and runc (no mocks).

The session gets a private embedded daemon in a short state dir under /tmp, stopped
(and its dir removed) at the end. Tests that need it are skipped, with the reason,
only when not root or when containerd/runc are not installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakec.worker.client import Client, Descriptor
from bakec.worker.daemon import Daemon

from .busybox_layer import BUSYBOX, LAYER_MEDIA_TYPE, busybox_layer


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "worker tests need root (containerd, overlayfs, runc)"
    for binary, package in (("containerd", "containerd"), ("runc", "runc")):
        if shutil.which(binary) is None:
            return f"{binary} not installed (apt-get install {package})"
    if not BUSYBOX.exists():
        return "/bin/busybox missing (apt-get install busybox-static)"
    return None


MISSING = _missing()
requires_containerd = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def short_state_dir() -> Path:
    """A fresh state dir whose socket paths stay far below the 107-byte limit."""
    return Path(tempfile.mkdtemp(prefix="bk", dir="/tmp"))


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    if MISSING:
        pytest.skip(MISSING)
    state = short_state_dir()
    d = Daemon(state)
    try:
        d.ensure().close()
        yield d
    finally:
        d.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Client]:
    """A client bound to a lease that is deleted (sync) after the test."""
    with daemon.connect() as c, c.lease() as leased:
        yield leased


@pytest.fixture(scope="session")
def base_snapshot(daemon: Daemon) -> Iterator[str]:
    """Committed snapshot (named by its diffID) of the busybox layer, unpacked via Diff.Apply."""
    with daemon.connect() as c, c.lease() as lc:
        blob = busybox_layer()
        digest = lc.write_content(f"layer-{uuid.uuid4().hex}", blob)
        key = f"extract-{uuid.uuid4().hex}"
        mounts = lc.prepare(key)
        applied = lc.apply(Descriptor(media_type=LAYER_MEDIA_TYPE, digest=digest, size=len(blob)), mounts)
        lc.commit(applied.digest, key)
        yield applied.digest
