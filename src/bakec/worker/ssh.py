"""SSH agent forwarding for ``RUN --mount=type=ssh``.

Bake's ``ssh`` entries name agent sources by id: ``default`` (``SSH_AUTH_SOCK``), a socket
path, or private key files. Key files are loaded into a private ``ssh-agent`` that bakec
starts on first use and stops at the end of the build (or when bakec dies), so keys stay in
that agent's memory only.

Inside a RUN the agent appears as a socket that bakec creates (its mode, uid and gid are
the mount's, as in BuildKit) and that relays every connection to the real agent socket;
the user's own socket is never bind-mounted or chmod-ed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec.errors import BuildError, EnvironmentProblem
from bakec.worker.secrets import scoped

_SUN_PATH_MAX = 107


@dataclass(frozen=True)
class AgentSource:
    """One ssh id: an agent socket, or key files to load into a private agent."""

    socket: str = ""
    keys: tuple[str, ...] = ()


@dataclass
class SshForwards:
    """The ssh ids each target ("scope") forwards; :meth:`socket` gives a host agent socket for one."""

    sources: dict[tuple[str, str], AgentSource] = field(default_factory=dict)
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    _agents: dict[tuple[str, ...], _Agent] = field(default_factory=dict, repr=False)  # by key files
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_targets(
        cls,
        targets: Mapping[str, Iterable[Mapping[str, Any]]],
        environ: Mapping[str, str],
        cwd: str,
        scratch: Path | None = None,
    ) -> SshForwards:
        """Sources from each target's ``ssh`` entries (``{"id": ..., "paths": [...]}``), validated by the spec layer."""
        forwards = cls(scratch=scratch or Path(tempfile.gettempdir()))
        for scope, entries in targets.items():
            for entry in entries:
                sid = entry.get("id") or "default"
                if (scope, sid) in forwards.sources:
                    continue
                paths = [p for p in entry.get("paths") or [] if p]
                full = [os.path.join(cwd, p) for p in paths]
                if not paths:
                    agent = environ.get("SSH_AUTH_SOCK", "")
                    if agent:
                        forwards.sources[scope, sid] = AgentSource(socket=agent)
                elif len(full) == 1 and _is_socket(full[0]):
                    forwards.sources[scope, sid] = AgentSource(socket=full[0])
                else:
                    forwards.sources[scope, sid] = AgentSource(keys=tuple(full))
        return forwards

    @classmethod
    def from_entries(
        cls,
        entries: Iterable[Mapping[str, Any]],
        environ: Mapping[str, str],
        cwd: str,
        scratch: Path | None = None,
    ) -> SshForwards:
        """One set of entries for every mount (scope "")."""
        return cls.from_targets({"": entries}, environ, cwd, scratch)

    def missing_error(self, sid: str, scope: str = "") -> BuildError:
        """BuildKit's error for a required ssh mount whose id the target does not forward."""
        scopes = {s for s, _ in self.sources}
        if not (scope in scopes if scope else scopes):  # the target forwards no ssh at all
            return BuildError(f'no SSH key "{sid}" forwarded from the client')
        return BuildError(f"unset ssh forward key {sid}")

    def socket(self, sid: str, scope: str = "", scratch: Path | None = None) -> str | None:
        """The host agent socket for ``sid`` in ``scope`` (starting a private agent if needed), or None.

        A private agent's socket directory goes in ``scratch`` (default: :attr:`scratch`); the
        executor passes its per-process directory, which the crash sweep clears.
        """
        source = scoped(self.sources, sid, scope)
        if source is None:
            return None
        if source.socket:
            return source.socket
        with self._lock:
            if source.keys not in self._agents:
                self._agents[source.keys] = self._start_agent(sid, source.keys, scratch or self.scratch)
            return self._agents[source.keys].socket

    def _start_agent(self, sid: str, keys: tuple[str, ...], scratch: Path) -> _Agent:
        if shutil.which("ssh-agent") is None or shutil.which("ssh-add") is None:
            raise EnvironmentProblem(
                f"ssh {sid}: forwarding key files needs ssh-agent and ssh-add (apt-get install openssh-client)"
            )
        directory = _short_dir(scratch, "ssh")
        sock = os.path.join(directory, "agent.sock")
        # The agent runs _WATCHER as its command (so the agent is the watcher's child): it
        # prints the agent's pid once the socket listens, then stops and reaps the agent when
        # its stdin, a pipe from bakec, closes -- on close(), or when bakec dies, even killed.
        watcher = subprocess.Popen(
            ["ssh-agent", "-a", sock, sys.executable, "-I", "-c", _WATCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert watcher.stdout is not None and watcher.stderr is not None
        line = watcher.stdout.readline().strip()
        agent = _Agent(watcher, int(line) if line.isdigit() else 0, sock, directory)
        if not agent.pid or not _is_socket(sock):
            detail = agent.stop()
            raise BuildError(f"ssh {sid}: ssh-agent did not start", detail)
        for key in keys:
            # through stdin ("-"): ssh-add refuses key files readable by others, Go's agent does not
            try:
                with open(key, "rb") as handle:
                    data = handle.read()
            except OSError as err:
                agent.stop()
                raise BuildError(f"ssh {sid}: cannot read {key}: {err.strerror}") from None
            added = subprocess.run(
                ["ssh-add", "-q", "-"],
                check=False,
                env={"SSH_AUTH_SOCK": sock, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                input=data,
                capture_output=True,
            )
            if added.returncode != 0:
                agent.stop()
                raise BuildError(
                    f"ssh {sid}: loading {key} failed", added.stderr.decode(errors="replace").strip()
                )
        return agent

    def close(self) -> None:
        """Stop the private agents this build started."""
        with self._lock:
            for agent in self._agents.values():
                agent.stop()
            self._agents.clear()


_WATCHER = """\
import os, signal, sys
pid = int(os.environ["SSH_AGENT_PID"])
print(pid, flush=True)
sys.stdin.buffer.read()
os.kill(pid, signal.SIGTERM)
os.waitpid(pid, 0)
"""


@dataclass
class _Agent:
    """A private ssh-agent (``pid``) and the watcher process it runs as its command."""

    watcher: subprocess.Popen[bytes]
    pid: int
    socket: str
    directory: str

    def stop(self) -> str:
        """Stop the agent (the watcher sees its stdin close) and return what the watcher wrote to stderr."""
        assert self.watcher.stdin is not None and self.watcher.stderr is not None
        self.watcher.stdin.close()
        try:
            self.watcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.watcher.kill()
            self.watcher.wait()
        detail = self.watcher.stderr.read().decode(errors="replace").strip()
        for stream in (self.watcher.stdout, self.watcher.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        return detail


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _short_dir(base: Path, prefix: str) -> str:
    """A private (0700) directory whose socket paths fit in ``sun_path``."""
    base.mkdir(parents=True, exist_ok=True)
    parent = str(base) if len(str(base)) + 30 < _SUN_PATH_MAX else tempfile.gettempdir()
    return tempfile.mkdtemp(prefix=prefix, dir=parent)


class SocketRelay:
    """A listening Unix socket at ``path`` whose connections are relayed to ``upstream``.

    One thread serves every connection with a selector; ``close()`` stops it and
    removes the socket file.
    """

    def __init__(self, path: str, upstream: str, *, mode: int = 0o600, uid: int = 0, gid: int = 0) -> None:
        self.path = path
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        self._listener.listen(16)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._serve, name="bakec-ssh-relay", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        peers: dict[socket.socket, socket.socket] = {}
        try:
            while True:
                for key, _ in self._selector.select():
                    sock = key.fileobj
                    if sock is self._wake_r:
                        return
                    if sock is self._listener:
                        self._accept(peers)
                        continue
                    assert isinstance(sock, socket.socket)
                    self._pump(sock, peers)
        finally:
            for sock in list(peers):
                sock.close()
            self._selector.close()

    def _accept(self, peers: dict[socket.socket, socket.socket]) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            upstream.close()
            return
        for sock in (client, upstream):
            sock.setblocking(True)
        peers[client], peers[upstream] = upstream, client
        self._selector.register(client, selectors.EVENT_READ, None)
        self._selector.register(upstream, selectors.EVENT_READ, None)

    def _pump(self, sock: socket.socket, peers: dict[socket.socket, socket.socket]) -> None:
        peer = peers.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(1 << 16)
            if data:
                peer.sendall(data)
                return
        except OSError:
            pass
        for s in (sock, peer):  # one side closed: close the pair
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s)
            peers.pop(s, None)
            s.close()

    def close(self) -> None:
        """Stop relaying (open connections are closed) and remove the socket file."""
        self._wake_w.send(b"x")
        self._thread.join()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


@contextlib.contextmanager
def relay(path: str, upstream: str, *, mode: int, uid: int, gid: int) -> Iterator[SocketRelay]:
    """A :class:`SocketRelay` for the duration of the block."""
    r = SocketRelay(path, upstream, mode=mode, uid=uid, gid=gid)
    try:
        yield r
    finally:
        r.close()


__all__ = ["AgentSource", "SocketRelay", "SshForwards", "relay"]
