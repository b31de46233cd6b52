"""The embedded containerd: state dir choice, start, reuse, stop, sweep, clear errors."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from bakec.errors import EnvironmentProblem
from bakec.worker import daemon as daemon_mod
from bakec.worker.client import OWNER_LABEL, Client, NotFoundError, runc_options
from bakec.worker.daemon import Daemon, DaemonPaths, check_environment, config_toml, resolve_state_dir, sweep
from bakec.worker.runtime_spec import ProcessSpec, build_spec, spec_json

from .conftest import requires_containerd, short_state_dir

DEAD_OWNER = "999999999:1"


def test_state_dir_precedence() -> None:
    env = {"BAKEC_STATE_DIR": "/b", "XDG_STATE_HOME": "/x"}
    assert resolve_state_dir("/cli", env) == Path("/cli")
    assert resolve_state_dir(None, env) == Path("/b")
    assert resolve_state_dir(None, {"XDG_STATE_HOME": "/x"}) == Path("/x/bakec")
    if os.geteuid() == 0:
        assert resolve_state_dir(None, {}) == Path("/var/lib/bakec")


def test_too_long_socket_path_fails_clearly() -> None:
    paths = DaemonPaths(Path("/tmp/" + "d" * 100))
    with pytest.raises(EnvironmentProblem, match="too long for a unix socket"):
        paths.check_socket_length()


def test_missing_runc_names_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda b: None if b == "runc" else real_which(b) or "/x")
    with pytest.raises(EnvironmentProblem, match="apt-get install runc"):
        check_environment()


def test_not_root_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="must run as root") as info:
        check_environment()
    assert info.value.exit_code == 3


def test_config_is_private_and_minimal() -> None:
    text = config_toml(DaemonPaths(Path("/s")))
    assert 'root = "/s/containerd/root"' in text
    assert 'address = "/s/c.sock"' in text
    assert '"io.containerd.grpc.v1.cri"' in text and '"io.containerd.internal.v1.opt"' in text
    # The 1.6 tasks service needs the v1 linux runtime plugin.
    assert "io.containerd.runtime.v1.linux" not in text


@requires_containerd
def test_start_reuse_status_stop() -> None:
    state = short_state_dir()
    d = Daemon(state)
    try:
        d.ensure().close()
        status = d.status()
        assert status.running and status.pid and status.version.startswith("1.")
        assert (state / "containerd" / "config.toml").exists()

        # A second process (another Daemon object) reuses the running daemon.
        Daemon(state).ensure().close()
        assert d.status().pid == status.pid

        assert d.stop() is True
        after = d.status()
        assert not after.running and after.pid is None
        assert not (state / "c.sock").exists()
        assert not Path(f"/proc/{status.pid}").exists() or _is_zombie(status.pid)
        assert d.stop() is False

        # It starts again on the same root.
        d.ensure().close()
        assert d.status().running
    finally:
        d.stop()
        shutil.rmtree(state, ignore_errors=True)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


@requires_containerd
def test_sweep_removes_stale_leases_only(daemon: Daemon) -> None:
    with daemon.connect() as c:
        stale = c.create_lease(labels={OWNER_LABEL: DEAD_OWNER})
        live = c.create_lease()
        sweep(c, daemon.paths)
        ids = {lease.id for lease in c.list_leases()}
        assert stale not in ids and live in ids
        c.delete_lease(live)


@requires_containerd
def test_sweep_kills_tasks_of_dead_owners(daemon: Daemon, base_snapshot: str) -> None:
    with daemon.connect() as c, c.lease() as lc:
        key = "sweep-test"
        mounts = lc.prepare(key, base_snapshot)
        cid = "bakec-sweep-test"
        spec = build_spec(cid, ProcessSpec(["sleep", "100"]))
        lc.create_container(cid, spec_json(spec), labels={OWNER_LABEL: DEAD_OWNER})
        lc.create_task(cid, mounts, options=runc_options(str(daemon.paths.runc_root)))
        lc.start_task(cid)
        assert lc.get_task(cid).status == 2  # RUNNING

        sweep(c, daemon.paths)
        with pytest.raises(NotFoundError):
            c.get_task(cid)
        with pytest.raises(NotFoundError):
            c.get_container(cid)
        lc.remove_snapshot(key)


@requires_containerd
def test_runc_state_stays_in_state_dir(daemon: Daemon) -> None:
    # runc's state goes to <state>/runc (runc shim option `root`), not /run/containerd/runc;
    # only the shim sockets still live in /run/containerd/s.
    assert (daemon.paths.runc_root).is_dir()
    assert not Path("/run/containerd/runc/bakec").exists()


def test_open_client_uses_given_address_or_fails_clearly() -> None:
    with pytest.raises(EnvironmentProblem, match="cannot reach containerd"):
        daemon_mod.open_client(address="/tmp/bakec-no-such.sock")


def test_client_errors_are_bakec_errors() -> None:
    from bakec.errors import BakecError

    with Client("/tmp/bakec-no-such.sock", timeout=0.2) as c, pytest.raises(BakecError):
        c.version(timeout=0.2)


@requires_containerd
def test_sweep_kills_direct_runc_containers_of_dead_owners(daemon: Daemon, base_snapshot: str) -> None:
    import json
    import subprocess

    from bakec.worker.mount import mount

    with daemon.connect() as c, c.lease() as lc:
        key = "sweep-direct"
        mounts = lc.prepare(key, base_snapshot)
        cid = "bakec-sweep-direct"
        bundle = daemon.paths.runs_dir / cid
        (bundle / "rootfs").mkdir(parents=True)
        spec = build_spec(cid, ProcessSpec(["sleep", "100"]), annotations={"bakec.owner": DEAD_OWNER})
        (bundle / "config.json").write_text(json.dumps(spec))
        mount(mounts[0], bundle / "rootfs")
        root = str(daemon.paths.direct_runc_root)
        subprocess.run(
            ["runc", "--root", root, "run", "-d", "--bundle", str(bundle), cid],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert (
            json.loads(
                subprocess.run(
                    ["runc", "--root", root, "state", cid], capture_output=True, check=False
                ).stdout
            )["status"]
            == "running"
        )

        sweep(c, daemon.paths)
        assert (
            subprocess.run(
                ["runc", "--root", root, "state", cid], capture_output=True, check=False
            ).returncode
            != 0
        )
        assert not bundle.exists()
        assert str(bundle) not in Path("/proc/self/mountinfo").read_text()
        lc.remove_snapshot(key)


@requires_containerd
def test_restart_after_kill_9() -> None:
    import signal

    state = short_state_dir()
    d = Daemon(state)
    try:
        d.ensure().close()
        pid = d.status().pid
        assert pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while d.status().running and time.monotonic() < deadline:
            time.sleep(0.01)
        # The stale socket is replaced and the same root is reused.
        d.ensure().close()
        status = d.status()
        assert status.running and status.pid != pid
    finally:
        d.stop()
        shutil.rmtree(state, ignore_errors=True)
