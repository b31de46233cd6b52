"""Execute one graph operation on containerd snapshots.

:class:`OpRunner` binds the op vocabulary (:mod:`bakec.ops`) to the
worker's pieces: the registry client pulls base images into the content store
and unpacks them into snapshots named by chain ID; ``Exec`` runs a process with
the runc executor on an active snapshot of its root; ``FileOp`` applies file
actions on a mounted snapshot; ``Merge`` stacks layers. Every result is a
committed snapshot plus the chain of layer blobs from the base, so an image is
the layers of its final op. Committed snapshots carry containerd's gc.root
label: bakec's cache index owns them and ``bakec prune`` removes them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakec import ops as o
from bakec.content.apply import apply_layer
from bakec.content.layers import LayerBlob
from bakec.content.result import LogFn, OpResult, chain_id
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.source.git import GitFetcher
from bakec.worker import emulation
from bakec.worker.cachemounts import CacheMounts
from bakec.worker.mount import mount, unmount
from bakec.worker.mounts import MountPreparer, redacting
from bakec.worker.paths import DaemonPaths
from bakec.worker.rootfs import layer_from_mounts
from bakec.worker.runtime_spec import Rlimit, SpecMount

if TYPE_CHECKING:  # the gRPC client and executors load only when an op runs (a cached build needs neither)
    from bakec.worker.client import Client, Mount
    from bakec.worker.run import Executor
    from bakec.worker.secrets import SecretStore
    from bakec.worker.ssh import SshForwards

GC_ROOT = "containerd.io/gc.root"
DEFAULT_SHM_SIZE = 64 << 20
"""/dev/shm's size unless the target sets ``shm-size``: BuildKit's (containerd's) default."""


class OpRunner:
    """Runs ops; thread-safe as long as each op is run once (the scheduler's guarantee)."""

    def __init__(
        self,
        client: Client,
        paths: DaemonPaths,
        store: ContentStore,
        executor: Executor,
        *,
        registry: Any = None,
        secrets: SecretStore | None = None,
        ssh: SshForwards | None = None,
        cache_mounts: Path | None = None,
    ) -> None:
        self.client = client
        self.paths = paths
        self.store = store
        self.executor = executor
        self.registry = registry
        self.cache_mounts = cache_mounts or paths.state_dir / "cache-mounts"
        # mount points and scratch files go in self.mounts.scratch: on the state dir's disk, made
        # when first used, and swept if this process is killed
        tmp = paths.state_dir / "tmp"
        self.mounts = MountPreparer(tmp, CacheMounts(self.cache_mounts), self._view, secrets=secrets, ssh=ssh)

    # -- entry -----------------------------------------------------------------------
    def run(self, op: o.Op, inputs: Mapping[str, OpResult], log: LogFn | None = None) -> OpResult:
        if isinstance(op, o.ImageSource):
            return self._image(op)
        if isinstance(op, o.LocalSource):
            return OpResult(path=op.path, ignore=tuple(op.exclude))
        if isinstance(op, o.Exec):
            return self._exec(op, inputs, log)
        if isinstance(op, o.FileOp):
            return self._file(op, inputs)
        if isinstance(op, o.Merge):
            return self._merge(op, inputs)
        if isinstance(op, o.HttpSource):
            return self._http(op)
        if isinstance(op, o.GitSource):
            return self._git(op)
        raise BuildError(f"{op.kind} operations are not supported by this executor yet")

    def snapshot_exists(self, name: str) -> bool:
        if not name:
            return True
        from bakec.worker.client import NotFoundError

        try:
            self.client.stat_snapshot(name)
            return True
        except NotFoundError:
            return False

    # -- snapshots -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _active(self, parent: str) -> Iterator[tuple[str, list[Mount]]]:
        from bakec.worker.client import NotFoundError

        key = f"bakec/active/{uuid.uuid4().hex}"
        mounts = self.client.prepare(key, parent)
        try:
            yield key, mounts
        finally:
            with contextlib.suppress(NotFoundError):
                self.client.remove_snapshot(key)

    def _commit(self, name: str, key: str, *, unique: bool = False) -> str:
        """Commit active ``key`` as ``name`` and return the name it got.

        A chain snapshot that exists already has the same content (a concurrent build won).
        An op snapshot (``unique``) that exists is an older run's -- a ``--no-cache`` re-run,
        or a run a crash left unrecorded -- so this run's gets a name of its own, always
        matching the layer just written; ``bakec prune`` drops the unreferenced one.
        """
        labels = {GC_ROOT: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            self.client.commit(name, key, labels=labels)
            return name
        except Exception:
            if not self.snapshot_exists(name):
                raise
        if not unique:
            return name
        name = f"{name}-{uuid.uuid4().hex[:12]}"
        self.client.commit(name, key, labels=labels)
        return name

    @contextlib.contextmanager
    def _mounted(self, mounts: Sequence[Mount]) -> Iterator[str]:
        target = Path(tempfile.mkdtemp(prefix="m", dir=self.mounts.scratch))
        mount(mounts[0], target)
        try:
            yield str(target)
        finally:
            unmount(target)
            with contextlib.suppress(OSError):
                target.rmdir()

    @contextlib.contextmanager
    def _view(self, snapshot: str) -> Iterator[str]:
        """A read-only mount of a committed snapshot (an empty dir for scratch)."""
        if not snapshot:
            empty = tempfile.mkdtemp(prefix="e", dir=self.mounts.scratch)
            try:
                yield empty
            finally:
                shutil.rmtree(empty, ignore_errors=True)
            return
        from bakec.worker.client import NotFoundError

        key = f"bakec/view/{uuid.uuid4().hex}"
        mounts = self.client.view(key, snapshot)
        try:
            with self._mounted(mounts) as path:
                yield path
        finally:
            with contextlib.suppress(NotFoundError):
                self.client.remove_snapshot(key)

    # -- image sources ------------------------------------------------------------------------
    def _image(self, op: o.ImageSource) -> OpResult:
        if self.registry is None:
            raise BuildError(f"cannot pull {op.ref}: no registry client")
        ref = op.ref if not op.manifest else f"{op.ref.split('@')[0]}@{op.manifest}"
        image = self.registry.resolve(ref, op.platform)
        diff_ids = list(image.config.get("rootfs", {}).get("diff_ids", []))
        descriptors = image.layers
        if len(diff_ids) != len(descriptors):
            raise BuildError(f"image {op.ref}: {len(descriptors)} layers but {len(diff_ids)} diff ids")
        blobs: list[LayerBlob] = []
        for desc, diff_id in zip(descriptors, diff_ids, strict=False):
            digest = desc["digest"]
            if not self.store.has(digest):  # written atomically and digest-verified by the client
                self.registry.fetch_blob(
                    image.reference, digest, self.store.path(digest), size=desc.get("size")
                )
            blobs.append(LayerBlob(digest, diff_id, int(desc["size"]), desc["mediaType"]))
        return OpResult(self.unpack(blobs), tuple(blobs), config=image.config)

    def unpack(self, blobs: Sequence[LayerBlob], top: str = "") -> str:
        """Unpack a layer chain (blobs already in the store) into chain snapshots; the top one's name.

        Used for pulled base images, for imported cache results an op has to run on (``bakec.remotecache``)
        and, with ``top`` naming the last snapshot, for an op's snapshot containerd lost
        (:func:`bakec.worker.deferred.restore_snapshot`).
        """

        parent = ""
        for depth, blob in enumerate(blobs, 1):
            name = "bakec/chain/" + chain_id([b.diff_id for b in blobs[:depth]])
            if top and depth == len(blobs):
                name = top
            if not self.snapshot_exists(name):
                with self._active(parent) as (key, mounts):
                    with self._mounted(mounts) as root:
                        apply_layer(root, self.store, blob)
                    self._commit(name, key)
            parent = name
        return parent

    # -- exec ---------------------------------------------------------------------------------
    def _exec(self, op: o.Exec, inputs: Mapping[str, OpResult], log: LogFn | None) -> OpResult:
        from bakec.worker.run import RunRequest

        emulation.require(op.platform)  # a foreign platform's binaries need a registered emulator
        root = inputs[op.root] if op.root else OpResult()
        with contextlib.ExitStack() as stack:
            key, mounts = stack.enter_context(self._active(root.snapshot))
            prepared = self.mounts.prepare(op, inputs, stack)  # RUN --mount: bakec.worker.mounts
            spec_mounts = prepared.mounts
            env = list(op.env) + [
                e for e in op.proxy_env if e.split("=", 1)[0] not in {x.split("=", 1)[0] for x in op.env}
            ]
            added = {e.split("=", 1)[0] for e in prepared.env}
            env = [e for e in env if e.split("=", 1)[0] not in added] + prepared.env
            if prepared.redact and log is not None:
                log = stack.enter_context(redacting(log, prepared.redact))
            files_dir = None
            if op.files:
                scratch = tempfile.TemporaryDirectory(prefix="f", dir=self.mounts.scratch)
                files_dir = Path(stack.enter_context(scratch))
                for f in op.files:
                    (files_dir / f.name).write_text(f.data)
                    os.chmod(files_dir / f.name, f.mode)
                spec_mounts.append(SpecMount("/dev/pipes", str(files_dir), "bind", ("rbind", "ro")))
            request = RunRequest(
                args=list(op.args),
                env=env,
                cwd=op.cwd or "/",
                user=op.user,
                mounts=spec_mounts,
                network=op.network if op.network in ("none", "host", "default") else "default",
                security=op.security if op.security in ("sandbox", "insecure") else "sandbox",
                private=bool(prepared.redact),
                extra_hosts=[(h.host, h.ip) for h in op.extra_hosts],
                shm_size=op.shm_size or DEFAULT_SHM_SIZE,
                # a target's ulimits replace the default ones, as in BuildKit
                rlimits=[_rlimit(u) for u in op.ulimits] if op.ulimits else None,
            )
            result = self.executor.run(mounts, request, on_output=log)
            if result.exit_code != 0:
                raise BuildError(
                    f'process "{_shell_words(op.args)}" did not complete successfully: exit code: {result.exit_code}'
                )
            blob = layer_from_mounts(self.store, mounts)
            name = self._commit("bakec/op/" + op.digest, key, unique=True)
        return OpResult(name, root.layers + (blob,))

    # -- file ---------------------------------------------------------------------------------
    def _file(self, op: o.FileOp, inputs: Mapping[str, OpResult]) -> OpResult:
        from bakec.fs import fileops

        root = inputs[op.root] if op.root else OpResult()
        name = "bakec/op/" + op.digest
        with self._active(root.snapshot) as (key, mounts):
            with contextlib.ExitStack() as stack:  # everything is unmounted before the diff
                target = stack.enter_context(self._mounted(mounts))
                sources: list[fileops.Source] = []
                for digest in op.sources:
                    src = inputs[digest] if digest else OpResult()
                    if src.path:
                        sources.append(
                            fileops.Source(src.path, local=True, ignore=src.ignore, name="context")
                        )
                    else:
                        sources.append(fileops.Source(stack.enter_context(self._view(src.snapshot))))
                fileops.apply(target, op.actions, sources, on_scratch=not op.root)
            blob = layer_from_mounts(self.store, mounts)
            name = self._commit(name, key, unique=True)
        return OpResult(name, root.layers + (blob,))

    # -- http sources -------------------------------------------------------------------------
    def _http(self, op: o.HttpSource) -> OpResult:
        """``ADD <url>``: a snapshot holding the downloaded file (bakec.source.http)."""
        from bakec.source import http as http_source

        name = "bakec/op/" + op.digest
        with self._active("") as (key, mounts):
            with self._mounted(mounts) as root:
                http_source.download(op, root)
            name = self._commit(name, key, unique=True)  # a --no-cache re-download may differ
        return OpResult(name)

    # -- git sources --------------------------------------------------------------------------
    def _git(self, op: o.GitSource) -> OpResult:
        """``ADD <git url>``: a snapshot holding the checked-out tree (bakec.source.git)."""
        import subprocess

        if op.keep_git_dir:
            raise BuildError("ADD --keep-git-dir=true is not supported yet")
        fetcher = GitFetcher(self.paths.state_dir / "git")
        checkout = fetcher.checkout(f"{op.url}#{op.ref}:{op.subdir}")
        src = checkout.path
        if op.commit and checkout.commit != op.commit:  # the ref moved since planning (or a lock pins it)
            src = fetcher.context_dir(f"{op.url}#{op.commit}:{op.subdir}")
        name = "bakec/op/" + op.digest
        with self._active("") as (key, mounts):
            with self._mounted(mounts) as root:
                done = subprocess.run(["cp", "-a", "--", f"{src}/.", root], check=False, capture_output=True)
                if done.returncode != 0:
                    raise BuildError(
                        f"ADD {op.url}: copying the checkout failed",
                        done.stderr.decode(errors="replace").strip(),
                    )
            self._commit(name, key)
        return OpResult(name)

    # -- merge --------------------------------------------------------------------------------
    def _merge(self, op: o.Merge, inputs: Mapping[str, OpResult]) -> OpResult:

        parts = [inputs[d] for d in op.layers if d]
        if not parts:
            return OpResult()
        base, rest = parts[0], parts[1:]
        layers = list(base.layers)
        parent = base.snapshot
        for part in rest:
            for blob in part.layers:
                layers.append(blob)
                name = "bakec/chain/" + chain_id([b.diff_id for b in layers])
                if not self.snapshot_exists(name):
                    with self._active(parent) as (key, mounts):
                        with self._mounted(mounts) as root:
                            apply_layer(root, self.store, blob)
                        self._commit(name, key)
                parent = name
        return OpResult(parent, tuple(layers))


def _rlimit(ulimit: o.Ulimit) -> Rlimit:
    """An OCI rlimit; -1 (unlimited) is RLIM_INFINITY, as BuildKit's uint64 conversion makes it."""
    return Rlimit(ulimit.name, ulimit.soft % 2**64, ulimit.hard % 2**64)


def _shell_words(args: Sequence[str]) -> str:
    return " ".join(args)


def image_config(plan: Any, platform: str) -> dict[str, Any]:
    """The image config BuildKit's exporter writes for a build plan (rootfs added at export)."""
    image = plan.image
    config: dict[str, Any] = {}
    # without SOURCE_DATE_EPOCH the image and its new history entries are stamped with the build time
    now = image.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config["created"] = now
    if image.author:
        config["author"] = image.author
    config["architecture"] = image.architecture
    config["os"] = image.os
    if image.variant:
        config["variant"] = image.variant
    config["config"] = image.config_dict()
    history = []
    for entry in plan.exported_history():
        item = entry.to_dict()
        if "created" not in item and entry.comment != "":
            item = {"created": now, **item}
        history.append(item)
    config["history"] = history
    return config


__all__ = ["OpResult", "OpRunner", "chain_id", "image_config"]
