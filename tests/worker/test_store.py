"""Content, snapshots, diff, leases and images on the real daemon."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import uuid

import grpc
import pytest

from bakec.worker import rootfs
from bakec.worker.client import Client, ContainerdError, Descriptor, NotFoundError, SnapshotKind
from bakec.worker.daemon import Daemon

from .conftest import requires_containerd

pytestmark = requires_containerd


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_content_write_read_info(client: Client) -> None:
    data = uuid.uuid4().bytes * 100_000  # 1.6 MB: more than one write chunk
    digest = client.write_content("test-ingest", data, labels={"bakec.test": "1"})
    assert digest == _digest(data)
    info = client.content_info(digest)
    assert info.size == len(data) and info.labels["bakec.test"] == "1"
    assert client.read_blob(digest) == data
    assert b"".join(client.read_content(digest, offset=16, size=10)) == data[16:26]
    # Writing it again is fine (ALREADY_EXISTS counts as success).
    assert client.write_content("test-ingest-2", data) == digest


def test_content_labels_update(client: Client) -> None:
    digest = client.write_content("labels", b"labelled")
    client.update_content_labels(digest, {"a": "1", "b": "2"})
    client.update_content_labels(digest, {"a": ""})
    assert dict(client.content_info(digest).labels) == {"b": "2"}


def test_content_wrong_digest_is_rejected_and_aborted(client: Client) -> None:
    with pytest.raises(ContainerdError) as info:
        client.write_content("bad", b"data", expected=_digest(b"other"))
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(NotFoundError):
        client.ingest_status("bad")


def test_lease_delete_collects_its_content(daemon: Daemon) -> None:
    with daemon.connect() as c:
        with c.lease() as lc:
            digest = lc.write_content("leased", b"only held by the lease")
            assert ("content", digest) in lc.lease_resources(lc.lease_id or "")
        assert not c.has_content(digest)


def test_snapshot_prepare_commit_view(client: Client, base_snapshot: str) -> None:
    mounts = client.prepare("active-1", base_snapshot)
    lay = rootfs.layers(mounts)
    assert lay.upper is not None and lay.lowers
    (lay.upper / "hello").write_text("world")
    assert client.stat_snapshot("active-1").kind == SnapshotKind.Value("ACTIVE")
    client.commit("committed-1", "active-1", labels={"bakec.test": "x"})
    info = client.stat_snapshot("committed-1")
    assert info.kind == SnapshotKind.Value("COMMITTED") and info.parent == base_snapshot
    assert "committed-1" in {s.name for s in client.list_snapshots()}

    view = rootfs.layers(client.view("view-1", "committed-1"))
    assert view.upper is None
    assert rootfs.read_file(view, "/hello") == b"world"
    assert rootfs.read_file(view, "/etc/passwd").startswith(b"root:")
    assert client.mounts("view-1")
    client.remove_snapshot("view-1")
    with pytest.raises(NotFoundError):
        client.stat_snapshot("view-1")


def test_diff_apply_and_diff(client: Client, base_snapshot: str) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("added.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"new"))
    layer = raw.getvalue()
    digest = client.write_content("tar-layer", layer)
    mounts = client.prepare("apply-1", base_snapshot)
    applied = client.apply(
        Descriptor(media_type="application/vnd.oci.image.layer.v1.tar", digest=digest, size=len(layer)),
        mounts,
    )
    assert applied.digest == digest  # uncompressed: the diffID is the blob digest

    lower = client.view("apply-lower", base_snapshot)
    made = client.diff(lower, mounts)
    assert made.media_type.endswith("tar+gzip") and client.has_content(made.digest)
    client.remove_snapshot("apply-lower")


def test_images_create_update_delete(client: Client) -> None:
    data = b'{"schemaVersion": 2}'
    digest = client.write_content("manifest", data)
    target = Descriptor(
        media_type="application/vnd.oci.image.manifest.v1+json", digest=digest, size=len(data)
    )
    name = f"bakec.test/img-{uuid.uuid4().hex[:8]}:latest"
    client.put_image(name, target)
    client.put_image(name, target, labels={"k": "v"})
    assert client.get_image(name).labels["k"] == "v"
    assert name in {i.name for i in client.list_images()}
    client.delete_image(name, sync=True)
    with pytest.raises(NotFoundError):
        client.get_image(name)


def test_events_report_snapshot_creation(daemon: Daemon) -> None:
    with daemon.connect() as c:
        stream = c.subscribe('namespace==bakec,topic=="/snapshot/prepare"')
        seen: list[str] = []

        def collect() -> None:
            try:
                for envelope in stream:
                    seen.append(envelope.topic)
            except grpc.RpcError:
                pass  # cancelled

        thread = threading.Thread(target=collect)
        thread.start()
        with c.lease() as lc:
            for _ in range(50):  # the subscription is live once an event arrives
                lc.prepare(f"evt-{uuid.uuid4().hex}")
                thread.join(0.05)
                if seen:
                    break
        stream.cancel()
        thread.join(5)
        assert seen and seen[0] == "/snapshot/prepare"
