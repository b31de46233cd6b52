"""``--containerd-address``: building on a containerd bakec did not start."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bakec.worker.client import NAMESPACE
from bakec.worker.daemon import Daemon
from bakec.worker.paths import DaemonPaths

from .helpers import BUSYBOX, cli, fresh_state, write_project


def test_a_build_on_an_external_containerd_starts_no_daemon_of_its_own(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        f"FROM {BUSYBOX}\nRUN echo external > /where\n",
        'target "default" {\n  tags = ["bakec-test/external:1"]\n  output = ["type=image"]\n}\n',
    )
    with fresh_state() as external, fresh_state() as own:
        Daemon(external).ensure().close()  # "someone else's" containerd, already running
        address = str(DaemonPaths(external).socket)
        built = cli(project, "build", "--state-dir", str(own), "--containerd-address", address)
        assert built.returncode == 0, built.stderr
        assert not (own / "containerd").exists()  # no embedded daemon was started
        images = subprocess.run(
            ["ctr", "--address", address, "-n", NAMESPACE, "images", "ls", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert "docker.io/bakec-test/external:1" in images


def test_an_unreachable_containerd_address_is_an_environment_error(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        f"FROM {BUSYBOX}\nRUN true\n",
        'target "default" {\n  output = ["type=cacheonly"]\n}\n',
    )
    with fresh_state() as own:
        built = cli(
            project, "build", "--state-dir", str(own), "--containerd-address", str(tmp_path / "none.sock")
        )
    assert built.returncode == 3, built.stderr
    assert f"cannot reach containerd at {tmp_path / 'none.sock'}" in built.stderr
