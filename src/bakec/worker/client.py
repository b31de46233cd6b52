"""A small typed gRPC client for the containerd calls bakec makes.

Every namespaced call carries the ``containerd-namespace`` header; a client made by
:meth:`Client.with_lease` (or inside :meth:`Client.lease`) also carries
``containerd-lease``, which ties every blob and snapshot it creates to that lease so
garbage collection cannot take them mid-build. Messages are the generated protobuf
types (``Mount``, ``Descriptor``, ...), re-exported here.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Self, TypeVar

import grpc
from google.protobuf import any_pb2, empty_pb2, field_mask_pb2

from bakec.errors import BakecError, EnvironmentProblem
from bakec.worker._gen import (
    containers_pb2,
    containers_pb2_grpc,
    content_pb2,
    content_pb2_grpc,
    diff_pb2,
    diff_pb2_grpc,
    events_pb2,
    events_pb2_grpc,
    images_pb2,
    images_pb2_grpc,
    leases_pb2,
    leases_pb2_grpc,
    runc_pb2,
    snapshots_pb2,
    snapshots_pb2_grpc,
    task_pb2,
    tasks_pb2,
    tasks_pb2_grpc,
    types_pb2,
    version_pb2_grpc,
)
from bakec.worker.owner import owner_alive, owner_label, process_start_time  # noqa: F401 - part of the client API

Mount = types_pb2.Mount
Descriptor = types_pb2.Descriptor
ContentInfo = content_pb2.Info
SnapshotInfo = snapshots_pb2.Info
SnapshotKind = snapshots_pb2.Kind
Lease = leases_pb2.Lease
Container = containers_pb2.Container
Process = task_pb2.Process
TaskStatus = task_pb2.Status
Image = images_pb2.Image
Envelope = events_pb2.Envelope
RuncOptions = runc_pb2.Options

NAMESPACE = "bakec"
SNAPSHOTTER = "overlayfs"
RUNTIME = "io.containerd.runc.v2"
SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec"
# containerd resolves Any payloads by bare proto name (its typeurl registry), not type.googleapis.com/...
RUNC_OPTIONS_TYPE_URL = "containerd.runc.v1.Options"
LEASE_PREFIX = "bakec-"
GC_EXPIRE = "containerd.io/gc.expire"
OWNER_LABEL = "bakec.owner"

_WRITE_CHUNK = 1 << 20
_CHANNEL_OPTIONS = [
    # The daemon may still be starting: retry fast instead of gRPC's ~1 s default backoff.
    ("grpc.initial_reconnect_backoff_ms", 20),
    ("grpc.min_reconnect_backoff_ms", 20),
    ("grpc.max_reconnect_backoff_ms", 200),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]

T = TypeVar("T")


class ContainerdError(BakecError):
    """A containerd call failed; ``code`` is the gRPC status code."""

    def __init__(self, summary: str, detail: str = "", code: grpc.StatusCode | None = None) -> None:
        super().__init__(summary, detail)
        self.code = code


class NotFoundError(ContainerdError):
    """The object (blob, snapshot, container, task, lease, image) does not exist."""


class AlreadyExistsError(ContainerdError):
    """The object already exists (for content: the blob is already stored)."""


class DaemonGone(ContainerdError, EnvironmentProblem):
    """containerd stopped answering mid-way: it exited or was killed (exit 3, not a build failure)."""


# What grpc says when the daemon's socket closes under a call (its code is then UNKNOWN).
_GONE_DETAILS = ("Stream removed", "Socket closed", "failed to connect to all addresses")


def _translate(method: str, err: grpc.RpcError) -> ContainerdError:
    code: grpc.StatusCode | None = err.code() if hasattr(err, "code") else None
    detail: str = (err.details() if hasattr(err, "details") else str(err)) or ""
    if code == grpc.StatusCode.UNAVAILABLE or (
        code == grpc.StatusCode.UNKNOWN and detail.startswith(_GONE_DETAILS)
    ):
        # The call that noticed (often a cleanup after the one that failed) does not matter to a user.
        return DaemonGone(
            "containerd went away", "it exited or was killed; run the command again to restart it", code
        )
    cls: type[ContainerdError] = ContainerdError
    if code == grpc.StatusCode.NOT_FOUND:
        cls = NotFoundError
    elif code == grpc.StatusCode.ALREADY_EXISTS:
        cls = AlreadyExistsError
    return cls(f"containerd {method} failed", detail or "", code)


def runc_options(root: str | None = None) -> any_pb2.Any:
    """Task options for the runc shim; ``root`` moves runc's state out of /run/containerd/runc."""
    opts = runc_pb2.Options(root=root or "")
    return any_pb2.Any(type_url=RUNC_OPTIONS_TYPE_URL, value=opts.SerializeToString())


class Client:
    """A connection to one containerd, scoped to one namespace (and optionally one lease)."""

    def __init__(self, address: str, namespace: str = NAMESPACE, *, timeout: float | None = 60.0) -> None:
        target = address if "://" in address else f"unix://{address}"
        self.address = address
        self.namespace = namespace
        self.timeout = timeout
        self.lease_id: str | None = None
        self._channel = grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self._stubs()
        self._metadata: tuple[tuple[str, str], ...] = (("containerd-namespace", namespace),)

    def _stubs(self) -> None:
        ch = self._channel
        self._version = version_pb2_grpc.VersionStub(ch)
        self._leases = leases_pb2_grpc.LeasesStub(ch)
        self._content = content_pb2_grpc.ContentStub(ch)
        self._snapshots = snapshots_pb2_grpc.SnapshotsStub(ch)
        self._diff = diff_pb2_grpc.DiffStub(ch)
        self._containers = containers_pb2_grpc.ContainersStub(ch)
        self._tasks = tasks_pb2_grpc.TasksStub(ch)
        self._images = images_pb2_grpc.ImagesStub(ch)
        self._events = events_pb2_grpc.EventsStub(ch)

    def close(self) -> None:
        """Close the channel (views made by :meth:`with_lease` share it)."""
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, name: str, method: Callable[..., T], request: Any, timeout: float | None = -1.0) -> T:
        try:
            return method(
                request, metadata=self._metadata, timeout=self.timeout if timeout == -1.0 else timeout
            )
        except grpc.RpcError as err:
            raise _translate(name, err) from None

    def _stream(self, name: str, method: Callable[..., Iterable[T]], request: Any) -> Iterator[T]:
        try:
            yield from method(request, metadata=self._metadata)
        except grpc.RpcError as err:
            raise _translate(name, err) from None

    # -- version ---------------------------------------------------------------------------

    def version(self, timeout: float | None = None) -> tuple[str, str]:
        """``(version, revision)`` of the daemon; also the readiness probe."""
        resp = self._call("Version", self._version.Version, empty_pb2.Empty(), timeout or self.timeout)
        return resp.version, resp.revision

    def wait_ready(self, deadline: float) -> tuple[str, str]:
        """Call :meth:`version` until it answers or ``time.monotonic()`` passes ``deadline``."""
        while True:
            try:
                return self.version(timeout=max(0.05, min(1.0, deadline - time.monotonic())))
            except ContainerdError as err:
                if err.code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    # -- leases ----------------------------------------------------------------------------

    def create_lease(
        self,
        lease_id: str | None = None,
        *,
        expire: timedelta | None = timedelta(hours=24),
        labels: dict[str, str] | None = None,
    ) -> str:
        """Create a lease (named ``bakec-<random>`` by default) owned by this process.

        ``expire`` sets ``containerd.io/gc.expire``, so a crashed build cannot leak forever.
        """
        all_labels = {OWNER_LABEL: owner_label(), **(labels or {})}
        if expire is not None:
            when = datetime.now(UTC) + expire
            all_labels[GC_EXPIRE] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        req = leases_pb2.CreateRequest(id=lease_id or f"{LEASE_PREFIX}{uuid.uuid4().hex}", labels=all_labels)
        return self._call("Leases.Create", self._leases.Create, req).lease.id

    def delete_lease(self, lease_id: str, *, sync: bool = True) -> None:
        """Delete a lease; with ``sync`` the resources it alone held are collected before returning."""
        self._call("Leases.Delete", self._leases.Delete, leases_pb2.DeleteRequest(id=lease_id, sync=sync))

    def list_leases(self, *filters: str) -> list[Lease]:
        """Leases in this namespace matching containerd filter expressions."""
        return list(
            self._call("Leases.List", self._leases.List, leases_pb2.ListRequest(filters=filters)).leases
        )

    def lease_resources(self, lease_id: str) -> list[tuple[str, str]]:
        """``(type, id)`` of each resource held by a lease."""
        resp = self._call(
            "Leases.ListResources", self._leases.ListResources, leases_pb2.ListResourcesRequest(id=lease_id)
        )
        return [(r.type, r.id) for r in resp.resources]

    def with_lease(self, lease_id: str) -> Client:
        """A view of this client (same channel) whose calls carry the lease header."""
        view = object.__new__(Client)
        view.__dict__.update(self.__dict__)
        view.lease_id = lease_id
        view._metadata = (("containerd-namespace", self.namespace), ("containerd-lease", lease_id))
        return view

    @contextmanager
    def lease(
        self,
        lease_id: str | None = None,
        *,
        expire: timedelta | None = timedelta(hours=24),
        delete: bool = True,
    ) -> Iterator[Client]:
        """Create a lease, yield a client bound to it, and delete it (sync) on exit if ``delete``."""
        lid = self.create_lease(lease_id, expire=expire)
        try:
            yield self.with_lease(lid)
        finally:
            if delete:
                self.delete_lease(lid, sync=True)

    # -- content ---------------------------------------------------------------------------

    def content_info(self, digest: str) -> ContentInfo:
        """Size and labels of a stored blob (raises :class:`NotFoundError`)."""
        return self._call("Content.Info", self._content.Info, content_pb2.InfoRequest(digest=digest)).info

    def has_content(self, digest: str) -> bool:
        try:
            self.content_info(digest)
        except NotFoundError:
            return False
        return True

    def read_content(self, digest: str, offset: int = 0, size: int = 0) -> Iterator[bytes]:
        """Stream a blob's bytes from ``offset`` (``size`` 0 reads to the end)."""
        req = content_pb2.ReadContentRequest(digest=digest, offset=offset, size=size)
        for resp in self._stream("Content.Read", self._content.Read, req):
            yield resp.data

    def read_blob(self, digest: str) -> bytes:
        """A whole (small) blob: manifests, configs."""
        return b"".join(self.read_content(digest))

    def write_content(
        self,
        ref: str,
        data: bytes | Iterable[bytes],
        *,
        expected: str | None = None,
        total: int | None = None,
        labels: dict[str, str] | None = None,
    ) -> str:
        """Ingest a blob under ingest key ``ref`` and return its digest.

        An already stored blob counts as success. ``expected`` defaults to the sha256 of
        ``data`` when it is bytes; containerd verifies it at commit.
        """
        if isinstance(data, bytes):
            expected = expected or "sha256:" + hashlib.sha256(data).hexdigest()
            total = len(data) if total is None else total
            chunks: Iterable[bytes] = (data[i : i + _WRITE_CHUNK] for i in range(0, len(data), _WRITE_CHUNK))
        else:
            chunks = data
        if not expected:
            raise ValueError("write_content needs the expected digest for streamed data")

        def requests() -> Iterator[content_pb2.WriteContentRequest]:
            offset = 0
            for chunk in chunks:
                yield content_pb2.WriteContentRequest(
                    action=content_pb2.WRITE,
                    ref=ref,
                    total=total or 0,
                    expected=expected,
                    offset=offset,
                    data=chunk,
                )
                offset += len(chunk)
            yield content_pb2.WriteContentRequest(
                action=content_pb2.COMMIT,
                ref=ref,
                total=offset,
                expected=expected,
                offset=offset,
                labels=labels,
            )

        try:
            digest = ""
            for resp in self._content.Write(requests(), metadata=self._metadata, timeout=self.timeout):
                if resp.action == content_pb2.COMMIT:
                    digest = resp.digest
            return digest or expected
        except grpc.RpcError as err:
            error = _translate("Content.Write", err)
            if isinstance(error, AlreadyExistsError):
                return expected
            try:
                self.abort_ingest(ref)
            except ContainerdError:
                pass  # nothing was ingested under ref
            raise error from None

    def ingest_status(self, ref: str) -> content_pb2.Status:
        """Progress of an unfinished ingest (raises :class:`NotFoundError` if none)."""
        return self._call("Content.Status", self._content.Status, content_pb2.StatusRequest(ref=ref)).status

    def abort_ingest(self, ref: str) -> None:
        self._call("Content.Abort", self._content.Abort, content_pb2.AbortRequest(ref=ref))

    def delete_content(self, digest: str) -> None:
        self._call("Content.Delete", self._content.Delete, content_pb2.DeleteContentRequest(digest=digest))

    def update_content_labels(self, digest: str, labels: dict[str, str]) -> ContentInfo:
        """Set (or, with value "", remove) the given labels on a blob, leaving others alone."""
        info = content_pb2.Info(digest=digest, labels={k: v for k, v in labels.items() if v})
        mask = field_mask_pb2.FieldMask(paths=[f"labels.{k}" for k in labels])
        req = content_pb2.UpdateRequest(info=info, update_mask=mask)
        return self._call("Content.Update", self._content.Update, req).info

    # -- snapshots -------------------------------------------------------------------------

    def prepare(self, key: str, parent: str = "", labels: dict[str, str] | None = None) -> list[Mount]:
        """Create an active (writable) snapshot on ``parent``; returns the mounts for it."""
        req = snapshots_pb2.PrepareSnapshotRequest(
            snapshotter=SNAPSHOTTER, key=key, parent=parent, labels=labels
        )
        return list(self._call("Snapshots.Prepare", self._snapshots.Prepare, req).mounts)

    def view(self, key: str, parent: str, labels: dict[str, str] | None = None) -> list[Mount]:
        """Create a read-only view of ``parent``; remove it when done."""
        req = snapshots_pb2.ViewSnapshotRequest(
            snapshotter=SNAPSHOTTER, key=key, parent=parent, labels=labels
        )
        return list(self._call("Snapshots.View", self._snapshots.View, req).mounts)

    def mounts(self, key: str) -> list[Mount]:
        req = snapshots_pb2.MountsRequest(snapshotter=SNAPSHOTTER, key=key)
        return list(self._call("Snapshots.Mounts", self._snapshots.Mounts, req).mounts)

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None:
        """Turn active snapshot ``key`` into committed snapshot ``name`` (``key`` is gone after)."""
        req = snapshots_pb2.CommitSnapshotRequest(snapshotter=SNAPSHOTTER, name=name, key=key, labels=labels)
        self._call("Snapshots.Commit", self._snapshots.Commit, req)

    def remove_snapshot(self, key: str) -> None:
        req = snapshots_pb2.RemoveSnapshotRequest(snapshotter=SNAPSHOTTER, key=key)
        self._call("Snapshots.Remove", self._snapshots.Remove, req)

    def stat_snapshot(self, key: str) -> SnapshotInfo:
        """Kind, parent and labels of a snapshot (raises :class:`NotFoundError`)."""
        req = snapshots_pb2.StatSnapshotRequest(snapshotter=SNAPSHOTTER, key=key)
        return self._call("Snapshots.Stat", self._snapshots.Stat, req).info

    def snapshot_usage(self, key: str) -> int:
        """Bytes a snapshot's own layer occupies on disk (not its parents')."""
        req = snapshots_pb2.UsageRequest(snapshotter=SNAPSHOTTER, key=key)
        return int(self._call("Snapshots.Usage", self._snapshots.Usage, req).size)

    def list_snapshots(self, *filters: str) -> list[SnapshotInfo]:
        req = snapshots_pb2.ListSnapshotsRequest(snapshotter=SNAPSHOTTER, filters=filters)
        return [
            info for resp in self._stream("Snapshots.List", self._snapshots.List, req) for info in resp.info
        ]

    # -- diff ------------------------------------------------------------------------------

    def apply(self, layer: Descriptor, mounts: Sequence[Mount]) -> Descriptor:
        """Unpack a stored layer blob onto ``mounts``; returns the uncompressed descriptor (diffID)."""
        req = diff_pb2.ApplyRequest(diff=layer, mounts=mounts)
        return self._call("Diff.Apply", self._diff.Apply, req).applied

    def diff(
        self,
        lower: Sequence[Mount],
        upper: Sequence[Mount],
        *,
        media_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
        ref: str = "",
        labels: dict[str, str] | None = None,
    ) -> Descriptor:
        """Write the layer between two mount sets into the content store (walks the whole tree)."""
        req = diff_pb2.DiffRequest(left=lower, right=upper, media_type=media_type, ref=ref, labels=labels)
        return self._call("Diff.Diff", self._diff.Diff, req).diff

    # -- containers ------------------------------------------------------------------------

    def create_container(
        self,
        container_id: str,
        spec_json: bytes,
        *,
        snapshot_key: str = "",
        labels: dict[str, str] | None = None,
        runtime: str = RUNTIME,
    ) -> Container:
        """Record a container with an OCI spec (JSON) and the runc v2 runtime."""
        container = containers_pb2.Container(
            id=container_id,
            labels={OWNER_LABEL: owner_label(), **(labels or {})},
            runtime=containers_pb2.Container.Runtime(name=runtime),
            spec=any_pb2.Any(type_url=SPEC_TYPE_URL, value=spec_json),
            snapshotter=SNAPSHOTTER if snapshot_key else "",
            snapshot_key=snapshot_key,
        )
        req = containers_pb2.CreateContainerRequest(container=container)
        return self._call("Containers.Create", self._containers.Create, req).container

    def get_container(self, container_id: str) -> Container:
        req = containers_pb2.GetContainerRequest(id=container_id)
        return self._call("Containers.Get", self._containers.Get, req).container

    def list_containers(self, *filters: str) -> list[Container]:
        req = containers_pb2.ListContainersRequest(filters=filters)
        return list(self._call("Containers.List", self._containers.List, req).containers)

    def delete_container(self, container_id: str) -> None:
        req = containers_pb2.DeleteContainerRequest(id=container_id)
        self._call("Containers.Delete", self._containers.Delete, req)

    # -- tasks -----------------------------------------------------------------------------

    def create_task(
        self,
        container_id: str,
        rootfs: Sequence[Mount],
        *,
        stdin: str = "",
        stdout: str = "",
        stderr: str = "",
        options: any_pb2.Any | None = None,
    ) -> int:
        """Start the shim and ``runc create`` the container's process; returns its pid."""
        req = tasks_pb2.CreateTaskRequest(
            container_id=container_id,
            rootfs=rootfs,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            options=options,
        )
        return self._call("Tasks.Create", self._tasks.Create, req).pid

    def start_task(self, container_id: str) -> int:
        return self._call(
            "Tasks.Start", self._tasks.Start, tasks_pb2.StartRequest(container_id=container_id)
        ).pid

    def wait_task(self, container_id: str, timeout: float | None = None) -> int:
        """Block until the task's process exits; returns its exit status."""
        req = tasks_pb2.WaitRequest(container_id=container_id)
        return self._call("Tasks.Wait", self._tasks.Wait, req, timeout).exit_status

    def kill_task(self, container_id: str, signal: int = 9, *, all: bool = True) -> None:
        req = tasks_pb2.KillRequest(container_id=container_id, signal=signal, all=all)
        self._call("Tasks.Kill", self._tasks.Kill, req)

    def delete_task(self, container_id: str) -> int:
        """Delete a stopped task (its shim exits); returns the exit status."""
        req = tasks_pb2.DeleteTaskRequest(container_id=container_id)
        return self._call("Tasks.Delete", self._tasks.Delete, req).exit_status

    def get_task(self, container_id: str) -> Process:
        return self._call(
            "Tasks.Get", self._tasks.Get, tasks_pb2.GetRequest(container_id=container_id)
        ).process

    def list_tasks(self) -> list[Process]:
        return list(self._call("Tasks.List", self._tasks.List, tasks_pb2.ListTasksRequest()).tasks)

    # -- images ----------------------------------------------------------------------------

    def create_image(self, name: str, target: Descriptor, labels: dict[str, str] | None = None) -> Image:
        req = images_pb2.CreateImageRequest(image=images_pb2.Image(name=name, target=target, labels=labels))
        return self._call("Images.Create", self._images.Create, req).image

    def update_image(self, name: str, target: Descriptor, labels: dict[str, str] | None = None) -> Image:
        """Point an existing image at a new target (labels replaced when given)."""
        paths = ["target"] + (["labels"] if labels is not None else [])
        req = images_pb2.UpdateImageRequest(
            image=images_pb2.Image(name=name, target=target, labels=labels),
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        )
        return self._call("Images.Update", self._images.Update, req).image

    def put_image(self, name: str, target: Descriptor, labels: dict[str, str] | None = None) -> Image:
        """Create the image, or update it if the name exists (``type=image`` export)."""
        try:
            return self.create_image(name, target, labels)
        except AlreadyExistsError:
            return self.update_image(name, target, labels)

    def get_image(self, name: str) -> Image:
        return self._call("Images.Get", self._images.Get, images_pb2.GetImageRequest(name=name)).image

    def list_images(self, *filters: str) -> list[Image]:
        req = images_pb2.ListImagesRequest(filters=filters)
        return list(self._call("Images.List", self._images.List, req).images)

    def delete_image(self, name: str, *, sync: bool = False) -> None:
        req = images_pb2.DeleteImageRequest(name=name, sync=sync)
        self._call("Images.Delete", self._images.Delete, req)

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, *filters: str) -> Any:
        """Stream events (all namespaces unless filtered, e.g. ``namespace==bakec``).

        Returns the gRPC call: iterate it for :data:`Envelope` messages, ``.cancel()`` it to stop.
        """
        req = events_pb2.SubscribeRequest(filters=filters)
        return self._events.Subscribe(req, metadata=self._metadata)
