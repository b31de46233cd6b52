"""Containerd on demand: a build whose ops are all cached never starts, contacts or imports it.

:class:`LazyClient` stands for the embedded daemon's client and :class:`LazyLease` for a
lease on it; each starts or contacts containerd (``Daemon.ensure``, then
``Client.lease``) the first time one of its client methods is used. :class:`DeferredRunner`
is the solver's runner: the real :class:`~bakec.worker.oprunner.OpRunner` with the lazy lease
as its client, and a RUN executor made when the first RUN starts.

A cache hit needs its layer blobs (files in bakec's content store, which the solver
checks) and, only when an op that runs builds on it, its snapshot. So until containerd is
in use, the solver's snapshot check is answered from the cache index and remembered; when
an op runs, the snapshots it takes as inputs are checked for real, and one containerd lost
is made again from its layer blobs -- the filesystem the op produced. A no-op rebuild with
``cacheonly``, ``local``, ``tar``, ``oci`` or ``docker`` (with ``dest``) outputs therefore
runs without grpc or the daemon.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakec.errors import BuildError
from bakec.worker.cancel import Cancel
from bakec.worker.oprunner import OpRunner
from bakec.worker.paths import DaemonPaths

if TYPE_CHECKING:
    from bakec.content.layers import LayerBlob
    from bakec.content.result import OpResult
    from bakec.content.store import ContentStore
    from bakec.ops import Op
    from bakec.worker.client import Client
    from bakec.worker.entitlements import Entitlements
    from bakec.worker.oprunner import OpRunner
    from bakec.worker.paths import DaemonPaths
    from bakec.worker.run import RunRequest, RunResult


class LazyClient:
    """The embedded containerd's client (or an external one's, at ``address``), made on first use."""

    def __init__(self, state_dir: Path | str, *, address: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.address = address
        self._client: Client | None = None
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """Whether containerd has been started or contacted."""
        return self._client is not None

    def get(self) -> Client:
        """The real client (the daemon is started or reused on the first call)."""
        with self._lock:
            if self._client is None:
                from bakec.worker.daemon import Daemon, open_client

                if self.address:
                    self._client = open_client(self.address)
                else:
                    self._client = Daemon(self.state_dir).ensure()
            return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)

    @contextlib.contextmanager
    def lease(self) -> Iterator[LazyLease]:
        """Like :meth:`Client.lease`: the lease is created on first use, deleted (sync) at the end."""
        leased = LazyLease(self)
        try:
            yield leased
        finally:
            leased.close()

    def close(self) -> None:
        """Close the real client, if one was made."""
        if self._client is not None:
            self._client.close()


class LazyLease:
    """A client bound to a lease that is created the first time a client method is used."""

    def __init__(self, parent: LazyClient) -> None:
        self.parent = parent
        self._leased: Client | None = None
        self._stack = contextlib.ExitStack()
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """Whether the lease exists (a client method was used)."""
        return self._leased is not None

    def get(self) -> Client:
        """The leased client (containerd is contacted and the lease created on the first call)."""
        with self._lock:
            if self._leased is None:
                self._leased = self._stack.enter_context(self.parent.get().lease())
            return self._leased

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)

    def close(self) -> None:
        """Delete the lease, if one was created."""
        self._stack.close()


class _LazyExecutor:
    """The RUN executor (:class:`~bakec.worker.runc.RuncExecutor`), made when the first RUN starts."""

    def __init__(self, lease: LazyLease, paths: DaemonPaths, allow: Entitlements | None) -> None:
        self.lease = lease
        self.paths = paths
        self.allow = allow
        self.cancel = Cancel()  # before and after the executor exists, Ctrl-C / SIGTERM go through it
        self._executor: Any = None
        self._lock = threading.Lock()

    def run(self, mounts: Any, request: RunRequest, **kwargs: Any) -> RunResult:
        with self._lock:
            if self._executor is None:
                from bakec.worker.runc import RuncExecutor

                self._executor = RuncExecutor(
                    self.lease.get(), self.paths, allow=self.allow, cancel=self.cancel
                )
        return self._executor.run(mounts, request, **kwargs)


class DeferredRunner:
    """The solver's runner: an :class:`OpRunner` that needs containerd only for ops that run."""

    def __init__(
        self, lease: LazyLease, store: ContentStore, *, allow: Entitlements | None = None, **options: Any
    ) -> None:
        """``allow`` goes to the RUN executor, ``options`` (registry, secrets, ...) to :class:`OpRunner`."""

        paths = DaemonPaths(lease.parent.state_dir)
        self.lease = lease
        self.store = store
        self.runner: OpRunner = OpRunner(
            lease,
            paths,
            store,
            _LazyExecutor(lease, paths, allow),  # type: ignore[arg-type]
            **options,
        )
        self._unverified: set[str] = set()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)  # the rest of OpRunner's API (unpack, ...) as it is

    def unpack(self, blobs: Sequence[LayerBlob], top: str = "") -> str:
        """A committed snapshot of ``blobs`` applied in order (see :meth:`OpRunner.unpack`)."""
        return self.runner.unpack(blobs, top)

    def snapshot_exists(self, name: str) -> bool:
        """The solver's check of a cache hit: answered for real once containerd is in use."""
        if self.lease.connected:
            return self.runner.snapshot_exists(name)
        with self._lock:
            self._unverified.add(name)
        return True

    def run(
        self, op: Op, inputs: Mapping[str, OpResult], log: Callable[[int, bytes], None] | None = None
    ) -> OpResult:
        """Run ``op`` once the snapshots of its cached inputs are known to exist (made again if lost)."""
        for result in inputs.values():
            if result.snapshot and result.snapshot in self._unverified:
                self._verify(result)
        return self.runner.run(op, inputs, log)

    def _verify(self, result: OpResult) -> None:
        with self._lock:  # rare and short: one check per cached input, a restore only after data loss
            if result.snapshot not in self._unverified:
                return
            if not self.runner.snapshot_exists(result.snapshot):
                restore_snapshot(self.runner, result)
            self._unverified.discard(result.snapshot)


def restore_snapshot(runner: OpRunner, result: OpResult) -> None:
    """Make the committed snapshot ``result.snapshot`` again by applying its layer blobs in order."""
    if not result.layers or not all(runner.store.has(b.digest) for b in result.layers):
        raise BuildError(
            f"snapshot {result.snapshot} is gone and its layers are not in the store; "
            "run the build with --no-cache"
        )
    runner.unpack(result.layers, top=result.snapshot)


__all__ = ["DeferredRunner", "LazyClient", "LazyLease", "restore_snapshot"]
