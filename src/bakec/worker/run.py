"""Executors: run one process in a container on a snapshot's mounts.

Both executors share the preparation (user lookup in the rootfs, our OCI spec, generated
/etc/hosts and resolv.conf) and the cleanup (mount stubs runc created in the upper dir).
They differ in who starts runc:

- :class:`ContainerdExecutor`: containerd's task API (container record, FIFOs, shim).
- :class:`bakec.worker.runc.RuncExecutor`: ``runc run`` on the overlay we mount ourselves,
  as BuildKit's OCI worker does; containerd still owns content, snapshots and leases.

The caller owns the snapshot (Prepare before, Commit or Remove after).
"""

from __future__ import annotations

import os
import select
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec.errors import BuildError
from bakec.worker import rootfs
from bakec.worker.cancel import Cancel
from bakec.worker.client import Client, ContainerdError, Mount, runc_options
from bakec.worker.entitlements import Entitlements
from bakec.worker.leftovers import run_id
from bakec.worker.mount import mount, unmount
from bakec.worker.network import NetworkProvider, resolv_conf
from bakec.worker.owner import owner_label
from bakec.worker.paths import DaemonPaths
from bakec.worker.runtime_spec import (
    DEFAULT_HOSTNAME,
    Network,
    ProcessSpec,
    Rlimit,
    Security,
    SpecMount,
    build_spec,
    spec_json,
)

OutputCallback = Callable[[int, bytes], None]
"""Called with (1 or 2, chunk) as stdout/stderr output arrives."""

KEPT_STUBS = frozenset({"/dev", "/proc", "/sys"})
"""Mount targets runc creates that BuildKit leaves in the layer (the others are removed again)."""


@dataclass(frozen=True)
class RunRequest:
    """One process to run; ``user`` is a Dockerfile USER value, resolved in the rootfs."""

    args: Sequence[str]
    env: Sequence[str] = ()
    cwd: str = "/"
    user: str = ""
    hostname: str = DEFAULT_HOSTNAME
    mounts: Sequence[SpecMount] = ()
    network: Network = "none"
    """``default`` (CNI bridge, else the host's), ``none`` or ``host`` (needs ``network.host``)."""
    security: Security = "sandbox"
    """``insecure`` (needs ``security.insecure``) grants every capability, as BuildKit's insecure mode."""
    extra_hosts: Sequence[tuple[str, str]] = ()
    shm_size: int = 64 << 20
    rlimits: Sequence[Rlimit] | None = None
    private: bool = False
    """The spec carries secret values (``RUN --mount=type=secret,env=``): keep the run dir on a tmpfs."""


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    stdout: bytes
    stderr: bytes
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds per phase, for benchmarks."""


class Executor:
    """Shared preparation and cleanup; subclasses implement :meth:`_execute`.

    ``allow`` holds the entitlements the build was granted (``--allow``); ``network`` the
    namespaces for ``default`` RUNs (by default, the state dir's pool).
    """

    private_specs = True
    """Whether a spec can stay off the disk (``RunRequest.private``): the bundle is on a tmpfs."""

    def __init__(
        self,
        client: Client,
        paths: DaemonPaths,
        *,
        allow: Entitlements | None = None,
        network: NetworkProvider | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        self.client = client
        self.paths = paths
        self.allow = allow or Entitlements()
        self.network = network or NetworkProvider(paths.state_dir)
        self.cancel = cancel or Cancel()  # Ctrl-C / SIGTERM: kill what runs, start nothing more

    def run(
        self, mounts: Sequence[Mount], request: RunRequest, on_output: OutputCallback | None = None
    ) -> RunResult:
        """Run ``request`` with ``mounts`` (an active snapshot's) as the root filesystem.

        Returns the exit code and captured output; a process that cannot be started at all
        (unknown user, missing executable) raises :class:`BuildError`, as does a network or
        security mode whose entitlement was not granted.
        """
        self.allow.check_exec(request.network, request.security)
        if request.private and not self.private_specs:
            raise BuildError(
                f"{type(self).__name__} cannot run a step that uses secrets "
                "(containerd would store the spec); use the runc executor"
            )
        clock = Clock()
        cid = run_id()
        lay = rootfs.layers(mounts)
        uid, gid, gids = rootfs.resolve_user(lay, request.user)
        run_dir = self.paths.runs_dir / cid
        sandbox = self.network.acquire(request.network)
        try:
            run_dir.mkdir(parents=True)
            if request.private:
                _mount_tmpfs(run_dir)
            spec_mounts = [*_etc_mounts(run_dir, request, sandbox.mode), *request.mounts]
            process = ProcessSpec(request.args, request.env, request.cwd, uid, gid, gids)
            if request.rlimits is not None:
                process = ProcessSpec(request.args, request.env, request.cwd, uid, gid, gids, request.rlimits)
            spec = build_spec(
                cid,
                process,
                hostname=request.hostname,
                mounts=spec_mounts,
                network=sandbox.mode,
                netns=sandbox.netns,
                security=request.security,
                shm_size=request.shm_size,
                annotations={"bakec.owner": owner_label()},
            )
            # runc creates missing mount targets in the rootfs; note them to remove afterwards.
            # /dev, /proc and /sys stay, as they do in BuildKit's layers.
            stubs = [
                p
                for p in rootfs.missing_paths(lay, [m["destination"] for m in spec["mounts"]])
                if p not in KEPT_STUBS
            ]
            clock.lap("prepare")
            exit_code, out, err = self._execute(cid, mounts, spec, run_dir, on_output, clock)
        finally:
            # An insecure RUN (CAP_NET_ADMIN) may have reconfigured its namespace: not reused.
            self.network.release(sandbox, reuse=request.security != "insecure")
            if request.private and os.path.ismount(run_dir):
                unmount(run_dir)
            shutil.rmtree(run_dir, ignore_errors=True)
        if lay.upper is not None:
            rootfs.remove_stubs(lay.upper, stubs)
        return RunResult(exit_code, out, err, clock.timings)

    def _execute(
        self,
        cid: str,
        mounts: Sequence[Mount],
        spec: dict[str, Any],
        run_dir: Path,
        on_output: OutputCallback | None,
        clock: Clock,
    ) -> tuple[int, bytes, bytes]:
        raise NotImplementedError


class ContainerdExecutor(Executor):
    """Runs through containerd's task API: one shim per RUN."""

    private_specs = False  # the spec is stored in containerd's metadata database

    def _execute(
        self,
        cid: str,
        mounts: Sequence[Mount],
        spec: dict[str, Any],
        run_dir: Path,
        on_output: OutputCallback | None,
        clock: Clock,
    ) -> tuple[int, bytes, bytes]:
        fifos = [run_dir / "stdout", run_dir / "stderr"]
        for fifo in fifos:
            os.mkfifo(fifo, 0o600)
        # Open the read ends first (non-blocking): the shim opens the write ends in Create.
        fds = [os.open(fifo, os.O_RDONLY | os.O_NONBLOCK) for fifo in fifos]
        try:
            self.client.create_container(cid, spec_json(spec))
            clock.lap("container_create")
            try:
                return self._run_task(cid, mounts, fifos, fds, on_output, clock)
            finally:
                self.client.delete_container(cid)
                clock.lap("container_delete")
        finally:
            for fd in fds:
                os.close(fd)

    def _run_task(
        self,
        cid: str,
        mounts: Sequence[Mount],
        fifos: list[Path],
        fds: list[int],
        on_output: OutputCallback | None,
        clock: Clock,
    ) -> tuple[int, bytes, bytes]:
        client = self.client
        try:
            client.create_task(
                cid,
                mounts,
                stdout=str(fifos[0]),
                stderr=str(fifos[1]),
                options=runc_options(root=str(self.paths.runc_root)),
            )
        except ContainerdError as failure:
            raise BuildError("process did not start", failure.detail or failure.summary) from None
        clock.lap("task_create")
        try:
            client.start_task(cid)
            clock.lap("task_start")
            out, err = drain(fds, on_output)
            clock.lap("drain")
            exit_code = client.wait_task(cid, timeout=None)
            clock.lap("task_wait")
        except BaseException:
            # Ctrl-C or a failed call: never leave the process running.
            try:
                client.kill_task(cid)
                client.wait_task(cid, timeout=10)
            except ContainerdError:
                pass
            raise
        finally:
            client.delete_task(cid)
            clock.lap("task_delete")
        return exit_code, out, err


def _mount_tmpfs(path: Path) -> None:
    mount(Mount(type="tmpfs", source="tmpfs", options=["nosuid", "nodev", "mode=0700", "size=16m"]), path)


def _etc_mounts(run_dir: Path, request: RunRequest, network: Network) -> list[SpecMount]:
    """/etc/hosts and /etc/resolv.conf, generated per run as BuildKit does."""
    hosts = run_dir / "hosts"
    lines = [f"127.0.0.1\tlocalhost {request.hostname}", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{ip}\t{name}" for name, ip in request.extra_hosts]
    hosts.write_text("\n".join(lines) + "\n")
    resolv = run_dir / "resolv.conf"
    try:
        resolv.write_text(resolv_conf(Path("/etc/resolv.conf").read_text(), network))
    except OSError:
        resolv.write_text("")
    return [SpecMount("/etc/hosts", str(hosts)), SpecMount("/etc/resolv.conf", str(resolv))]


def drain(fds: Sequence[int], on_output: OutputCallback | None) -> tuple[bytes, bytes]:
    """Read stdout and stderr (FIFOs or pipes) until their writers close."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    stream = {fd: i + 1 for i, fd in enumerate(fds)}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    while open_fds:
        for fd, events in poller.poll():
            data = b""
            if events & select.POLLIN:
                data = os.read(fd, 1 << 16)
                if data:
                    chunks[fd].append(data)
                    if on_output is not None:
                        on_output(stream[fd], data)
            # On a FIFO, POLLHUP comes only after a writer connected and all writers closed.
            if not data and events & (select.POLLHUP | select.POLLERR):
                poller.unregister(fd)
                open_fds.discard(fd)
    return b"".join(chunks[fds[0]]), b"".join(chunks[fds[1]])


class Clock:
    """Milliseconds spent in each named phase."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = (now - self.last) * 1000
        self.last = now
