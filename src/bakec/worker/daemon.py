"""bakec's embedded containerd: one private daemon per state dir, started once and reused.

Layout of a state dir (the socket stays short because unix socket paths are limited):

    <state>/c.sock, t.sock      containerd's gRPC and ttrpc sockets
    <state>/containerd/         config.toml, root/ (content, snapshots, metadata),
                                state/ (task bundles), containerd.log, pid, lock
    <state>/runc/               runc's state: <namespace>/ for the shim (its option ``root``),
                                direct/ for runc run by the hybrid executor
    <state>/runs/<container>/   per-RUN files: stdio FIFOs, hosts, resolv.conf, bundle

containerd 1.6 still writes outside the state dir: the runc shims put their sockets in
``/run/containerd/s/`` (named by a hash of the address, so daemons do not collide), and
``/run/containerd/`` itself is created. See README.md beside this file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import EnvironmentProblem
from bakec.state import resolve_state_dir  # also re-exported: part of the worker API
from bakec.worker import idle
from bakec.worker.client import LEASE_PREFIX, NAMESPACE, OWNER_LABEL, Client, ContainerdError, owner_alive
from bakec.worker.leftovers import sweep as sweep_leftovers
from bakec.worker.paths import DaemonPaths

MIN_VERSION = (1, 6)
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Plugins a build never uses; opt would otherwise write to /opt/containerd. The v1 linux
# runtime must stay: the 1.6 tasks service refuses to load without it.
_DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.internal.v1.tracing",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
)

_REQUIRED_BINARIES = (
    ("containerd", "containerd"),
    ("containerd-shim-runc-v2", "containerd"),
    ("runc", "runc"),
)


def check_environment() -> None:
    """Raise :class:`EnvironmentProblem` unless we are root and containerd and runc are installed."""
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "bakec must run as root",
            "overlay snapshots, runc and cgroups need root; rootless mode is not supported",
        )
    for binary, package in _REQUIRED_BINARIES:
        if shutil.which(binary) is None:
            raise EnvironmentProblem(
                f"{binary} not found on PATH", f"install it with: apt-get install {package}"
            )


@dataclass(frozen=True)
class DaemonStatus:
    """What ``bakec daemon status`` prints."""

    state_dir: Path
    address: str
    running: bool
    pid: int | None = None
    version: str = ""
    started: float | None = None  # Unix time
    idle_deadline: float | None = None  # when the idle watcher stops it (None: never, or no watcher)
    watcher_pid: int | None = None
    builds: tuple[int, ...] = ()  # pids of the builds running on this state dir


def config_toml(paths: DaemonPaths) -> str:
    """The minimal containerd config: private root, state and sockets, unused plugins off."""
    disabled = ", ".join(f'"{p}"' for p in _DISABLED_PLUGINS)
    return (
        "version = 2\n"
        f'root = "{paths.base / "root"}"\n'
        f'state = "{paths.base / "state"}"\n'
        f"disabled_plugins = [{disabled}]\n"
        "\n[grpc]\n"
        f'  address = "{paths.socket}"\n'
        "\n[ttrpc]\n"
        f'  address = "{paths.ttrpc_socket}"\n'
        "\n[debug]\n"
        '  level = "warn"\n'
    )


class Daemon:
    """The embedded containerd of one state dir."""

    def __init__(self, state_dir: Path | str) -> None:
        self.paths = DaemonPaths(Path(state_dir).absolute())

    @property
    def address(self) -> str:
        return str(self.paths.socket)

    def connect(self, namespace: str = NAMESPACE) -> Client:
        return Client(self.address, namespace)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # A second containerd on the same root blocks silently on the bolt DB lock (no
        # socket, no error), so only one process may decide to start it.
        self.paths.base.mkdir(parents=True, exist_ok=True)
        with open(self.paths.lock_file, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def pid(self) -> int | None:
        """The pid of our containerd if it is alive (and not a zombie)."""
        try:
            pid = int(self.paths.pid_file.read_text())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # A stale pid file may name a reused pid: check it is containerd on our config.
        if not _alive(pid) or os.fsencode(self.paths.config) not in cmdline:
            return None
        return pid

    def _answers(self, timeout: float = 1.0) -> str | None:
        if not self.paths.socket.exists():
            return None
        with Client(self.address) as client:
            try:
                return client.version(timeout=timeout)[0]
            except ContainerdError:
                return None

    def ensure(self) -> Client:
        """Start the daemon or reuse the running one; sweep stale tasks and leases; return a client."""
        check_environment()
        self.paths.check_socket_length()
        with self._locked():
            if self._answers() is None:
                pid = self.pid()
                if pid is not None:
                    # Alive but not answering: still starting (another process raced us) or wedged.
                    self._wait_ready(pid)
                else:
                    self._start()
            self._watch_idle()
        client = self.connect()
        version = client.version()[0]
        if tuple(int(x) for x in version.split(".")[:2] if x.isdigit()) < MIN_VERSION:
            raise EnvironmentProblem(
                f"containerd {version} is too old", "bakec needs containerd 1.6 or newer"
            )
        sweep(client, self.paths)
        return client

    def _watch_idle(self) -> None:
        """Mark the daemon used now, and make sure its idle watcher runs (unless BAKEC_DAEMON_IDLE=0)."""
        idle.touch(self.paths.last_use)
        seconds = idle.idle_timeout()
        if seconds > 0 and idle.watcher(self.paths) is None:
            idle.spawn_watcher(self.paths, seconds)

    def _start(self) -> None:
        paths = self.paths
        for d in (paths.base / "root", paths.base / "state", paths.runc_root, paths.runs_dir):
            d.mkdir(parents=True, exist_ok=True)
        for sock in (paths.socket, paths.ttrpc_socket):
            sock.unlink(missing_ok=True)
        paths.config.write_text(config_toml(paths))
        containerd = shutil.which("containerd")
        assert containerd is not None  # check_environment ran
        log_fd = os.open(paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        try:
            # posix_spawn + setsid: detached from our session and safe in a threaded process
            # (gRPC runs threads), with no Popen object to warn about a still-running child.
            pid = os.posix_spawn(
                containerd,
                [containerd, "--config", str(paths.config)],
                {k: v for k, v in os.environ.items() if not k.startswith("NOTIFY_SOCKET")},
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, null_fd, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
                setsid=True,
            )
        finally:
            os.close(log_fd)
            os.close(null_fd)
        paths.pid_file.write_text(f"{pid}\n")
        self._wait_ready(pid)

    def _wait_ready(self, pid: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        # Wait for the socket file first: a refused first connect costs ~1 s of gRPC backoff.
        while not self.paths.socket.exists():
            if not _alive(pid):
                raise EnvironmentProblem("containerd exited during startup", _log_tail(self.paths.log))
            if time.monotonic() > deadline:
                raise EnvironmentProblem(
                    "containerd did not create its socket in time", _log_tail(self.paths.log)
                )
            time.sleep(0.002)
        with Client(self.address) as client:
            try:
                client.wait_ready(deadline)
            except ContainerdError as err:
                raise EnvironmentProblem(
                    "containerd does not answer", f"{err}; {_log_tail(self.paths.log)}"
                ) from None

    def status(self) -> DaemonStatus:
        """Whether the daemon runs and answers: its pid, version, start, idle deadline and builds."""
        version = self._answers() or ""
        pid = self.pid()
        if not version or pid is None:
            return DaemonStatus(self.paths.state_dir, self.address, bool(version), pid, version)
        try:
            started: float | None = self.paths.pid_file.stat().st_mtime
        except OSError:
            started = None
        watcher = idle.watcher(self.paths)
        deadline = None
        if watcher is not None:
            deadline = (idle.last_use(self.paths) or time.time()) + watcher[1]
        return DaemonStatus(
            self.paths.state_dir,
            self.address,
            True,
            pid,
            version,
            started,
            deadline,
            watcher[0] if watcher else None,
            tuple(idle.builds_running(self.paths)),
        )

    def stop(self) -> bool:
        """Kill bakec's tasks, drop its leases, and stop the daemon; False if it was not running."""
        with self._locked():
            pid = self.pid()
            if self._answers() is not None:
                with self.connect() as client:
                    sweep(client, self.paths, everything=True)
            if pid is None:
                return False
            os.kill(pid, signal.SIGTERM)
            if not _wait_exit(pid, STOP_TIMEOUT):
                os.kill(pid, signal.SIGKILL)
                _wait_exit(pid, STOP_TIMEOUT)
            self.paths.pid_file.unlink(missing_ok=True)
            for sock in (self.paths.socket, self.paths.ttrpc_socket):
                sock.unlink(missing_ok=True)
            return True


def sweep(client: Client, paths: DaemonPaths, *, everything: bool = False) -> None:
    """Remove tasks, containers, direct runc containers and ``bakec-*`` leases whose owner is gone.

    After a crash (even of containerd) shims and their processes survive, and the
    restarted daemon re-attaches to them, so they can be killed and deleted here.
    ``everything`` also takes those of live processes (``bakec daemon stop``).
    """
    containers = {c.id: c for c in client.list_containers()}

    def stale(labels: Mapping[str, str]) -> bool:
        return everything or not owner_alive(labels.get(OWNER_LABEL, ""))

    for task in client.list_tasks():
        container = containers.get(task.id)
        if container is not None and not stale(container.labels):
            continue
        try:
            client.kill_task(task.id)
        except ContainerdError:
            pass  # already stopped
        try:
            client.wait_task(task.id, timeout=10)
            client.delete_task(task.id)
        except ContainerdError:
            pass  # raced with its owner, or gone
    for cid, container in containers.items():
        if stale(container.labels):
            try:
                client.delete_container(cid)
            except ContainerdError:
                pass
            shutil.rmtree(paths.runs_dir / cid, ignore_errors=True)
    sweep_leftovers(paths, everything=everything)
    leases = [
        lease for lease in client.list_leases() if lease.id.startswith(LEASE_PREFIX) and stale(lease.labels)
    ]
    for i, lease in enumerate(leases):
        # One garbage collection at the end is enough.
        client.delete_lease(lease.id, sync=i == len(leases) - 1)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: its parent (or init) reaps it


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count; our own zombie child gets reaped)."""
    _reap(pid)
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.01)
    return False


def _log_tail(log: Path, lines: int = 5) -> str:
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"see {log}"
    return f"containerd log ({log}): " + " | ".join(tail)


def open_client(address: str | None = None, state_dir: str | None = None) -> Client:
    """A client for ``--builder``/``BAKEC_CONTAINERD_ADDRESS`` if set, else for the embedded daemon."""
    address = address or os.environ.get("BAKEC_CONTAINERD_ADDRESS")
    if address:
        client = Client(address)
        try:
            client.version(timeout=5)
        except ContainerdError as err:
            raise EnvironmentProblem(f"cannot reach containerd at {address}", str(err)) from None
        return client
    return Daemon(resolve_state_dir(state_dir)).ensure()
