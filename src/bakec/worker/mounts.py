"""Host-side preparation of a RUN's ``--mount`` list, as BuildKit's exec op does it.

:meth:`MountPreparer.prepare` turns an :class:`~bakec.ops.Exec`'s mounts into OCI
mounts (plus environment entries) and registers every cleanup on the caller's
``ExitStack``, so everything is unmounted and removed when the RUN ends, whatever happens:

* ``bind``: a read-only view of a stage, image or named context (``source`` resolved
  inside it, symlinks bounded by its root); ``rw`` gets an overlay whose upper dir is
  thrown away, so the source snapshot never changes. A local context's ``.dockerignore``
  hides entries through whiteouts in such an overlay (:mod:`bakec.worker.contextview`).
* ``cache``: a persistent directory (:mod:`bakec.worker.cachemounts`).
* ``tmpfs``: a tmpfs with ``size``.
* ``secret``: the value is written to a tmpfs that bakec mounts for this RUN only
  (never the disk), with the mount's mode/uid/gid, and/or put in the environment
  (``env=``). A missing secret fails only with ``required=true``.
* ``ssh``: a socket in that tmpfs relaying to the forwarded agent, and ``SSH_AUTH_SOCK``.

runc creates missing mount targets in the rootfs; the executor removes those stubs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec import ops as o
from bakec.errors import BuildError
from bakec.util import safepath
from bakec.worker.cachemounts import CacheKey, CacheMounts
from bakec.worker.contextview import hidden_entries, is_hidden, prepare_upper
from bakec.worker.leftovers import SCRATCH_PREFIX
from bakec.worker.mount import mount, unmount
from bakec.worker.owner import owner_label
from bakec.worker.runtime_spec import SpecMount
from bakec.worker.secrets import MAX_SECRET_SIZE, SecretStore
from bakec.worker.ssh import SshForwards, relay

View = Callable[[str], AbstractContextManager[str]]
"""Opens a read-only host view of a committed snapshot ("" = an empty directory)."""

_SECRET_OPTIONS = ("rbind", "ro", "nodev", "nosuid", "noexec")
_REDACT_MIN = 4  # shorter values would mask ordinary output
_LINE_MAX = 64 << 10


@dataclass
class Prepared:
    """OCI mounts for the RUN, environment entries to add, and secret values to redact from logs."""

    mounts: list[SpecMount] = field(default_factory=list)
    env: list[str] = field(default_factory=list, repr=False)  # may hold secret values (secret env=)
    redact: list[bytes] = field(default_factory=list, repr=False)
    """Every secret value the RUN sees; also what makes its runtime spec private (kept off the disk)."""


class MountPreparer:
    """Prepares mounts with the build's secrets, ssh forwards and cache directories."""

    def __init__(
        self,
        scratch: Path,
        caches: CacheMounts,
        view: View,
        *,
        secrets: SecretStore | None = None,
        ssh: SshForwards | None = None,
    ) -> None:
        self.root = scratch  # on the state dir's disk, for mount points and throw-away uppers
        self._owned: Path | None = None
        self._hidden: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
        self.caches = caches
        self.view = view
        self.secrets = secrets or SecretStore()
        self.ssh = ssh or SshForwards(scratch=scratch)

    def prepare(self, op: o.Exec, inputs: Mapping[str, Any], stack: contextlib.ExitStack) -> Prepared:
        """OCI mounts for ``op.mounts``; cleanups go on ``stack``.

        ``inputs`` maps op digests to results with ``snapshot``, ``path`` (a local
        context's directory) and ``ignore`` (its ``.dockerignore`` patterns).
        """
        out = Prepared()
        private = _PrivateTmpfs(self.scratch, op.mounts, stack)
        caches = self._hold_caches(op.mounts, inputs, stack)
        by_target: list[tuple[int, SpecMount]] = []
        for i, m in enumerate(op.mounts):
            spec: SpecMount | None
            if m.type == "bind":
                spec = self._bind(m, inputs, stack)
            elif m.type == "cache":
                spec = SpecMount(
                    m.target, _cache_path(caches[i], m), "bind", ("rbind", "ro" if m.readonly else "rw")
                )
            elif m.type == "tmpfs":
                # BuildKit's tmpfs options (the kernel's default mode is 1777)
                options = (
                    "nosuid",
                    *(("ro",) if m.readonly else ()),
                    *((f"size={m.size}",) if m.size else ()),
                )
                spec = SpecMount(m.target, "tmpfs", "tmpfs", options)
            elif m.type == "secret":
                spec = self._secret(m, private, out)
            elif m.type == "ssh":
                spec = self._ssh(m, private, stack)
            else:
                raise BuildError(f"RUN --mount=type={m.type} is not supported")
            if spec is not None:
                by_target.append((i, spec))
        # parents before children, so a mount inside another mount's target lands on top of it
        by_target.sort(key=lambda item: (_depth(item[1].destination), item[0]))
        out.mounts = [spec for _, spec in by_target]
        ssh_targets = [m.target for m in op.mounts if m.type == "ssh"]
        if ssh_targets and not any(e.startswith("SSH_AUTH_SOCK=") for e in op.env):
            out.env.append(f"SSH_AUTH_SOCK={ssh_targets[0]}")  # as BuildKit's llb.AddSSHSocket
        return out

    @property
    def scratch(self) -> Path:
        """This process's directory for mount points: the crash sweep clears it once the process is gone.

        See :func:`bakec.worker.leftovers.sweep_scratch`.
        """
        if self._owned is None:
            owned = self.root / (SCRATCH_PREFIX + owner_label().replace(":", "-"))
            owned.mkdir(parents=True, exist_ok=True)
            self._owned = owned
        return self._owned

    # -- bind ---------------------------------------------------------------------------
    def _bind(self, m: o.ExecMount, inputs: Mapping[str, Any], stack: contextlib.ExitStack) -> SpecMount:
        source = inputs.get(m.input) if m.input else None
        selector = m.selector or "/"
        hidden: list[str] = []
        if source is not None and source.path:
            host, hidden = self._local(source, selector)
        else:
            root = stack.enter_context(self.view(source.snapshot if source is not None else ""))
            host = safepath.resolve(root, selector)
            if not os.path.lexists(host):
                raise BuildError(
                    f'failed to calculate checksum of ref {m.input or "scratch"}: "{selector}": not found'
                )
        if m.readonly and not hidden:
            return SpecMount(m.target, host, "bind", ("rbind", "ro"))
        return SpecMount(
            m.target, self._overlay(host, hidden, stack), "bind", ("rbind", "ro" if m.readonly else "rw")
        )

    def _local(self, source: Any, selector: str) -> tuple[str, list[str]]:
        """A local context path, and what its ``.dockerignore`` hides below it (see contextview)."""
        host = safepath.resolve(source.path, selector)
        rel = safepath.relative(source.path.rstrip("/") or "/", host).lstrip("/")
        if not os.path.lexists(host) or (
            source.ignore and is_hidden(rel, source.ignore, os.path.isdir(host))
        ):
            raise BuildError(f'failed to calculate checksum of ref context: "{selector}": not found')
        if not source.ignore or not os.path.isdir(host):
            return host, []
        key = (source.path, tuple(source.ignore), rel)
        if key not in self._hidden:  # a context does not change during a build: one walk per selection
            self._hidden[key] = hidden_entries(source.path, rel, source.ignore)
        return host, self._hidden[key]

    def _overlay(self, host: str, hidden: Sequence[str], stack: contextlib.ExitStack) -> str:
        """``host`` minus ``hidden``, writable, with every write thrown away after the RUN."""
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="w", dir=self.scratch))
        if not os.path.isdir(host):
            shutil.copy2(host, os.path.join(work, "f"), follow_symlinks=False)
            return os.path.join(work, "f")
        from bakec.worker.client import Mount

        upper, workdir, merged = (os.path.join(work, d) for d in ("u", "w", "m"))
        for d in (upper, workdir, merged):
            os.mkdir(d)
        prepare_upper(host, upper, hidden)
        lower = host.replace("\\", "\\\\").replace(":", "\\:").replace(",", "\\,")
        try:
            mount(
                Mount(
                    type="overlay",
                    source="overlay",
                    options=[f"lowerdir={lower}", f"upperdir={upper}", f"workdir={workdir}"],
                ),
                Path(merged),
            )
        except OSError:
            return _copy_without(host, hidden, os.path.join(work, "c"))  # a lower overlay cannot take
        stack.callback(unmount, Path(merged))
        return merged

    # -- cache --------------------------------------------------------------------------
    def _hold_caches(
        self, mounts: Sequence[o.ExecMount], inputs: Mapping[str, Any], stack: contextlib.ExitStack
    ) -> dict[int, str]:
        """Cache directories by mount index, locked in one global order (no lock-order deadlocks)."""
        wanted: dict[str, list[int]] = {}
        keys: dict[str, tuple[CacheKey, o.ExecMount]] = {}
        for i, m in enumerate(mounts):
            if m.type != "cache":
                continue
            key = CacheKey(m.id or m.target, m.input, m.selector if m.input else "", m.mode, m.uid, m.gid)
            wanted.setdefault(key.digest(), []).append(i)  # the same cache twice in one RUN is held once
            keys.setdefault(key.digest(), (key, m))
        held: dict[int, str] = {}
        for digest in sorted(wanted):
            key, m = keys[digest]
            modes = {mounts[i].sharing or "shared" for i in wanted[digest]}
            sharing = "locked" if "locked" in modes else "private" if modes == {"private"} else "shared"
            seed = self._seed(m, inputs, stack) if m.input else None
            directory = stack.enter_context(self.caches.hold(key, sharing, seed))
            for i in wanted[digest]:
                held[i] = directory
        return held

    def _seed(
        self, m: o.ExecMount, inputs: Mapping[str, Any], stack: contextlib.ExitStack
    ) -> Callable[[], str]:
        def path() -> str:
            source = inputs[m.input]
            root = source.path or stack.enter_context(self.view(source.snapshot))
            return safepath.resolve(root, m.selector or "/")

        return path

    # -- secrets and ssh ----------------------------------------------------------------
    def _secret(self, m: o.ExecMount, private: _PrivateTmpfs, out: Prepared) -> SpecMount | None:
        value = self.secrets.read(m.id, m.scope)
        if value is None:
            if m.required:
                raise BuildError(f"secret {m.id}: not found")
            return None  # BuildKit skips an optional secret that was not given
        if value:
            out.redact.append(value)
        if m.env:
            text = value.decode("utf-8", "surrogateescape")
            out.env.append(f"{m.env}={text}")
        if not m.target:
            return None
        path = private.file(value, m.mode if m.mode is not None else 0o400, m.uid or 0, m.gid or 0)
        return SpecMount(m.target, path, "bind", _SECRET_OPTIONS)

    def _ssh(self, m: o.ExecMount, private: _PrivateTmpfs, stack: contextlib.ExitStack) -> SpecMount | None:
        sid = m.id or "default"
        upstream = self.ssh.socket(sid, m.scope, self.scratch)
        if upstream is None:
            if m.required:
                raise self.ssh.missing_error(sid, m.scope)
            return None
        path = private.name("ssh")
        stack.enter_context(
            relay(
                path, upstream, mode=m.mode if m.mode is not None else 0o600, uid=m.uid or 0, gid=m.gid or 0
            )
        )
        return SpecMount(m.target, path, "bind", ("rbind",))


class _PrivateTmpfs:
    """A tmpfs (mode 0700) mounted for one RUN on first use; secret files and agent sockets live there."""

    def __init__(self, scratch: Path, mounts: Sequence[o.ExecMount], stack: contextlib.ExitStack) -> None:
        self.scratch = scratch
        self.stack = stack
        secrets = sum(1 for m in mounts if m.type == "secret")
        self.size = secrets * (MAX_SECRET_SIZE + 4096) + (64 << 10)
        self.path: str | None = None
        self.count = 0

    def name(self, prefix: str) -> str:
        if self.path is None:
            self.path = self._mount()
        self.count += 1
        return os.path.join(self.path, f"{prefix}{self.count}")

    def file(self, data: bytes, mode: int, uid: int, gid: int) -> str:
        path = self.name("secret")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return path

    def _mount(self) -> str:
        from bakec.worker.client import Mount

        path = tempfile.mkdtemp(prefix="s", dir=self.scratch)
        # registered before mounting: rmdir after unmount (the stack runs in reverse)
        self.stack.callback(_rmdir, path)
        options = ["nosuid", "nodev", "noexec", "mode=0700", f"size={self.size}"]
        mount(Mount(type="tmpfs", source="tmpfs", options=options), Path(path))
        self.stack.callback(unmount, Path(path))
        return path


def _rmdir(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _copy_without(host: str, hidden: Sequence[str], copy: str) -> str:
    done = subprocess.run(["cp", "-a", "--", host, copy], capture_output=True, check=False)
    if done.returncode != 0:
        raise BuildError(
            "bind mount: copying the source failed", done.stderr.decode(errors="replace").strip()
        )
    for rel in hidden:
        path = os.path.join(copy, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return copy


def _cache_path(directory: str, m: o.ExecMount) -> str:
    """The cache directory, or its ``source`` subdirectory (made if missing) when the cache has no ``from``.

    With ``from`` the cache holds a copy of the seed's ``source`` (see ``_hold_caches``).
    """
    if m.input or not m.selector or safepath.clean(m.selector) == "/":
        return directory
    path = safepath.resolve(directory, m.selector)
    os.makedirs(path, exist_ok=True)
    return path


def _depth(target: str) -> int:
    return len([p for p in target.split("/") if p])


class Redactor:
    """Wraps a log callback so secret values never reach it (replaced by ``****``).

    Output is passed on a line at a time (a value split across chunks is still
    caught); a multi-line value is also masked line by line. A line longer than
    ``_LINE_MAX`` is passed on without its tail; :meth:`flush` emits what is left.
    """

    def __init__(self, log: Callable[[int, bytes], None], values: Sequence[bytes]) -> None:
        self.log = log
        masked = {v for v in values if len(v) >= _REDACT_MIN}
        for value in values:
            masked.update(line.strip() for line in value.splitlines() if len(line.strip()) >= _REDACT_MIN)
        self.values = sorted(masked, key=len, reverse=True)
        self.keep = max((len(v) for v in self.values), default=0)
        self.pending: dict[int, bytes] = {}

    def __call__(self, stream: int, chunk: bytes) -> None:
        if not self.values:
            self.log(stream, chunk)
            return
        data = self._mask(self.pending.pop(stream, b"") + chunk)
        end = data.rfind(b"\n") + 1
        if not end and len(data) > _LINE_MAX:
            end = max(len(data) - self.keep, 0)  # a value still arriving starts in the kept tail
        if end:
            self.log(stream, data[:end])
        if data[end:]:
            self.pending[stream] = data[end:]

    def _mask(self, data: bytes) -> bytes:
        for value in self.values:
            data = data.replace(value, b"****")
        return data

    def flush(self) -> None:
        """Pass on what is held back (a last line without a newline), masked."""
        for stream, data in sorted(self.pending.items()):
            self.log(stream, data)
        self.pending.clear()


@contextlib.contextmanager
def redacting(log: Callable[[int, bytes], None], values: Sequence[bytes]) -> Iterator[Redactor]:
    """A :class:`Redactor` over ``log``, flushed when the block ends."""
    redactor = Redactor(log, values)
    try:
        yield redactor
    finally:
        redactor.flush()


__all__ = ["MountPreparer", "Prepared", "Redactor", "View", "redacting"]
