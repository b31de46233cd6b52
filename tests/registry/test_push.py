"""Pushing to the real loopback registry: uploads, skips, mounts, manifests and indexes.

What the client sent is checked in the registry's own access log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from bakec.registry import (
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    DigestMismatch,
    DockerConfig,
    NoMatchingPlatform,
    PushResult,
    RegistryClient,
    RegistryError,
)
from bakec.util.platform import Platform

from .conftest import Image, make_image, sha256
from .gate import Gate

HOST = "127.0.0.1:5000"


def push_image(client: RegistryClient, repo: str, image: Image, tag: str | None = "v1") -> str:
    assert client.push_blob(repo, image.layer_digest, image.layer) is PushResult.UPLOADED
    assert client.push_blob(repo, image.config_digest, image.config) is PushResult.UPLOADED
    return client.push_manifest(repo, image.manifest, MEDIA_TYPE_OCI_MANIFEST, tag=tag)


def test_push_a_new_image_and_read_it_back(
    client: RegistryClient, registry: object, unique_repo: str, tmp_path: Path
) -> None:
    repo = f"{HOST}/{unique_repo}"
    image = make_image()
    assert not client.blob_exists(repo, image.layer_digest)
    assert push_image(client, repo, image) == image.digest
    assert client.blob_exists(repo, image.layer_digest)

    resolved = client.resolve(f"{repo}:v1")
    assert resolved.manifest_digest == image.digest
    assert resolved.manifest_bytes == image.manifest
    assert resolved.config_bytes == image.config
    assert resolved.platform == Platform("linux", "amd64")
    dest = tmp_path / "layer"
    client.fetch_blob(repo, image.layer_digest, dest)
    assert dest.read_bytes() == image.layer
    # the same manifest by digest only
    assert client.push_manifest(repo, image.manifest, MEDIA_TYPE_OCI_MANIFEST) == image.digest
    assert client.resolve(f"{repo}@{image.digest}").config_bytes == image.config


def test_existing_blobs_are_skipped_after_a_head(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    repo = f"{HOST}/{unique_repo}"
    image = make_image()
    push_image(client, repo, image)
    offset = registry.log_offset()  # type: ignore[attr-defined]
    assert client.push_blob(repo, image.layer_digest, image.layer) is PushResult.EXISTS
    assert client.push_blob(repo, image.config_digest, image.config) is PushResult.EXISTS
    seen = registry.requests_since(offset, unique_repo)
    assert [(m, s) for m, _, s in seen] == [("HEAD", 200), ("HEAD", 200)]


def test_cross_repository_mount_tries_each_source(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    source, target = f"{HOST}/{unique_repo}", f"{HOST}/{unique_repo}-b"
    image = make_image()
    push_image(client, source, image)
    offset = registry.log_offset()  # type: ignore[attr-defined]
    result = client.push_blob(
        target, image.layer_digest, image.layer, mount_from=[f"{HOST}/busybox", target, source]
    )
    assert result is PushResult.MOUNTED
    seen = registry.requests_since(offset, f"{unique_repo}-b")
    # busybox lacks the blob, so the registry opens an upload session instead (202),
    # which is cancelled once the mount from the right repository succeeded; the
    # target itself is never a source. No byte of the blob is uploaded.
    assert [(m, s) for m, _, s in seen] == [("HEAD", 404), ("POST", 202), ("POST", 201), ("DELETE", 204)]
    assert "from=busybox" in seen[1][1] and f"from={unique_repo}" in seen[2][1]
    assert client.blob_exists(target, image.layer_digest)


def test_mount_from_the_right_repository(client: RegistryClient, registry: object, unique_repo: str) -> None:
    source, target = f"{HOST}/{unique_repo}", f"{HOST}/{unique_repo}-c"
    image = make_image()
    push_image(client, source, image)
    offset = registry.log_offset()  # type: ignore[attr-defined]
    assert (
        client.push_blob(target, image.layer_digest, image.layer, mount_from=[source]) is PushResult.MOUNTED
    )
    seen = registry.requests_since(offset, f"{unique_repo}-c")
    assert seen == [
        ("HEAD", f"/v2/{unique_repo}-c/blobs/{image.layer_digest}", 404),
        ("POST", f"/v2/{unique_repo}-c/blobs/uploads/?mount={image.layer_digest}&from={unique_repo}", 201),
    ]
    assert client.blob_exists(target, image.layer_digest)


def test_mount_blob_reports_a_declined_mount(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    source = f"{HOST}/{unique_repo}"
    image = make_image()
    push_image(client, source, image)
    assert client.mount_blob(f"{HOST}/{unique_repo}-d", image.config_digest, source) is True
    offset = registry.log_offset()  # type: ignore[attr-defined]
    missing = sha256(uuid.uuid4().bytes)
    assert client.mount_blob(f"{HOST}/{unique_repo}-e", missing, source) is False
    seen = registry.requests_since(offset, f"{unique_repo}-e")
    assert [(m, s) for m, _, s in seen] == [("POST", 202), ("DELETE", 204)]  # the session is cancelled


def test_declined_mount_continues_in_the_opened_session(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    image = make_image()
    offset = registry.log_offset()  # type: ignore[attr-defined]
    result = client.push_blob(
        f"{HOST}/{unique_repo}", image.layer_digest, image.layer, mount_from=[f"{HOST}/busybox"]
    )
    assert result is PushResult.UPLOADED
    seen = registry.requests_since(offset, unique_repo)
    assert [(m, s) for m, _, s in seen] == [("HEAD", 404), ("POST", 202), ("PUT", 201)]


def test_chunked_upload_from_a_file(registry: object, unique_repo: str, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    digest = sha256(data)
    repo = f"{HOST}/{unique_repo}"
    offset = registry.log_offset()  # type: ignore[attr-defined]
    with RegistryClient(docker_config=DockerConfig(), chunk_size=64 * 1024) as client:
        assert client.push_blob(repo, digest, path) is PushResult.UPLOADED
        assert client.read_blob(repo, digest) == data
    seen = registry.requests_since(offset, unique_repo)
    assert [m for m, _, _ in seen if m in ("POST", "PATCH", "PUT")] == [
        "POST",
        "PATCH",
        "PATCH",
        "PATCH",
        "PATCH",
        "PUT",
    ]


def test_monolithic_upload_from_a_file(
    client: RegistryClient, registry: object, unique_repo: str, tmp_path: Path
) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    repo = f"{HOST}/{unique_repo}"
    offset = registry.log_offset()  # type: ignore[attr-defined]
    assert client.push_blob(repo, sha256(data), path) is PushResult.UPLOADED
    seen = registry.requests_since(offset, unique_repo)
    assert [m for m, _, _ in seen] == ["HEAD", "POST", "PUT"]
    assert client.read_blob(repo, sha256(data)) == data


def test_a_failed_upload_restarts_in_a_new_session(
    client: RegistryClient, gate: Gate, unique_repo: str
) -> None:
    gate.fail(1, 503, method="PUT", path="/blobs/uploads/")
    data = os.urandom(10_000)
    assert client.push_blob(f"{gate.host}/{unique_repo}", sha256(data), data) is PushResult.UPLOADED
    assert [(s.method, s.status) for s in gate.seen] == [
        ("HEAD", 404),
        ("POST", 202),
        ("PUT", 503),
        ("POST", 202),
        ("PUT", 201),
    ]
    assert client.read_blob(f"{HOST}/{unique_repo}", sha256(data)) == data


def test_wrong_digest_is_rejected_by_the_registry(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    data = b"some content"
    wrong = sha256(b"other content")
    with pytest.raises(DigestMismatch) as info:
        client.push_blob(f"{HOST}/{unique_repo}", wrong, data)
    assert info.value.code == "DIGEST_INVALID"
    assert f"pushing blob {wrong} to {HOST}/{unique_repo}: the registry rejected the digest" in str(
        info.value
    )


def test_manifest_with_missing_blobs_names_what_failed(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    image = make_image()
    with pytest.raises(RegistryError) as info:
        client.push_manifest(f"{HOST}/{unique_repo}", image.manifest, MEDIA_TYPE_OCI_MANIFEST, tag="v1")
    err = info.value
    assert err.summary.startswith(f"pushing manifest {HOST}/{unique_repo}:v1: ")
    assert err.code == "MANIFEST_BLOB_UNKNOWN"
    assert f"registry {HOST}, repository {unique_repo}: 400 MANIFEST_BLOB_UNKNOWN" in err.detail


def _index(*entries: tuple[str, int, dict[str, str] | None]) -> bytes:
    manifests = []
    for digest, size, platform in entries:
        desc: dict[str, object] = {"mediaType": MEDIA_TYPE_OCI_MANIFEST, "digest": digest, "size": size}
        if platform is not None:
            desc["platform"] = platform
        manifests.append(desc)
    return json.dumps(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_OCI_INDEX, "manifests": manifests}
    ).encode()


def test_push_an_index_and_select_from_it(client: RegistryClient, registry: object, unique_repo: str) -> None:
    repo = f"{HOST}/{unique_repo}"
    amd64, arm = make_image(arch="amd64"), make_image(arch="arm")
    push_image(client, repo, amd64, tag=None)
    push_image(client, repo, arm, tag=None)
    arm_v5 = make_image(arch="arm")
    push_image(client, repo, arm_v5, tag=None)
    index = _index(
        (arm_v5.digest, len(arm_v5.manifest), {"os": "linux", "architecture": "arm", "variant": "v5"}),
        (arm.digest, len(arm.manifest), {"os": "linux", "architecture": "arm", "variant": "v7"}),
        (amd64.digest, len(amd64.manifest), {"os": "linux", "architecture": "amd64"}),
        (amd64.digest, len(amd64.manifest), {"os": "unknown", "architecture": "unknown"}),
    )
    digest = client.push_manifest(repo, index, MEDIA_TYPE_OCI_INDEX, tag="multi")
    assert client.manifest_digest(f"{repo}:multi") == digest == sha256(index)
    assert client.resolve(f"{repo}:multi", "linux/amd64").manifest_digest == amd64.digest
    assert client.resolve(f"{repo}:multi", "linux/arm/v7").manifest_digest == arm.digest
    assert client.resolve(f"{repo}:multi", "linux/arm").manifest_digest == arm.digest  # arm means v7
    # arm64 runs arm/v8 and older: v7 is preferred to v5
    assert client.resolve(f"{repo}:multi", "linux/arm64").manifest_digest == arm.digest
    assert client.resolve(f"{repo}:multi", "linux/arm/v6").manifest_digest == arm_v5.digest


def test_index_entries_without_platform_are_checked_by_config(
    client: RegistryClient, registry: object, unique_repo: str
) -> None:
    repo = f"{HOST}/{unique_repo}"
    amd64 = make_image(arch="amd64")
    push_image(client, repo, amd64, tag=None)
    index = _index((amd64.digest, len(amd64.manifest), None))
    client.push_manifest(repo, index, MEDIA_TYPE_OCI_INDEX, tag="bare")
    assert client.resolve(f"{repo}:bare", "linux/amd64").manifest_digest == amd64.digest
    with pytest.raises(NoMatchingPlatform):
        client.resolve(f"{repo}:bare", "linux/arm64")


def test_nested_index(client: RegistryClient, registry: object, unique_repo: str) -> None:
    repo = f"{HOST}/{unique_repo}"
    arm64 = make_image(arch="arm64")
    push_image(client, repo, arm64, tag=None)
    inner = _index(
        (arm64.digest, len(arm64.manifest), {"os": "linux", "architecture": "arm64", "variant": "v8"})
    )
    inner_digest = client.push_manifest(repo, inner, MEDIA_TYPE_OCI_INDEX)
    outer = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_INDEX,
            "manifests": [{"mediaType": MEDIA_TYPE_OCI_INDEX, "digest": inner_digest, "size": len(inner)}],
        }
    ).encode()
    client.push_manifest(repo, outer, MEDIA_TYPE_OCI_INDEX, tag="nested")
    image = client.resolve(f"{repo}:nested", "linux/arm64")
    assert image.manifest_digest == arm64.digest
    assert image.index_digest == sha256(outer)


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def _docker_image(image: Image) -> bytes:
    manifest = json.loads(image.manifest)
    manifest["mediaType"] = DOCKER_MANIFEST
    manifest["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json"
    manifest["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    return json.dumps(manifest).encode()


def test_docker_media_types(client: RegistryClient, registry: object, unique_repo: str) -> None:
    repo = f"{HOST}/{unique_repo}"
    image = make_image(arch="arm64")
    push_image(client, repo, image, tag=None)
    manifest = _docker_image(image)
    client.push_manifest(repo, manifest, DOCKER_MANIFEST, tag="single")
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {
                    "mediaType": DOCKER_MANIFEST,
                    "digest": sha256(manifest),
                    "size": len(manifest),
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                }
            ],
        }
    ).encode()
    client.push_manifest(repo, listing, DOCKER_LIST, tag="list")
    single = client.resolve(f"{repo}:single")
    assert (single.media_type, single.manifest_digest) == (DOCKER_MANIFEST, sha256(manifest))
    listed = client.resolve(f"{repo}:list", "linux/arm64")
    assert listed.index_digest == sha256(listing)
    assert (listed.media_type, listed.manifest_digest) == (DOCKER_MANIFEST, sha256(manifest))
    assert client.fetch_manifest(f"{repo}:list").media_type == DOCKER_LIST


def test_pulls_send_every_manifest_media_type(
    client: RegistryClient, gate: Gate, busybox_image: object
) -> None:
    client.resolve(f"{gate.host}/busybox-multi:latest", "linux/arm64")
    accepts = [s.headers.get("Accept", "") for s in gate.requests("GET", "/manifests/")]
    assert len(accepts) == 2
    for accept in accepts:
        assert {a.strip() for a in accept.split(",")} == {
            MEDIA_TYPE_OCI_INDEX,
            MEDIA_TYPE_OCI_MANIFEST,
            DOCKER_MANIFEST,
            DOCKER_LIST,
        }


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_reads_back_what_was_pushed(
    client: RegistryClient, registry: object, unique_repo: str, tmp_path: Path
) -> None:
    repo = f"{HOST}/{unique_repo}"
    amd64, arm64 = make_image(arch="amd64"), make_image(arch="arm64")
    push_image(client, repo, amd64, tag=None)
    push_image(client, repo, arm64, tag=None)
    index = _index(
        (amd64.digest, len(amd64.manifest), {"os": "linux", "architecture": "amd64"}),
        (arm64.digest, len(arm64.manifest), {"os": "linux", "architecture": "arm64"}),
    )
    digest = client.push_manifest(repo, index, MEDIA_TYPE_OCI_INDEX, tag="v1")
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{repo}@{digest}"],
        capture_output=True,
        check=True,
    ).stdout
    assert raw == index
    layout = tmp_path / "oci"
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "-q",
            "--all",
            "--src-tls-verify=false",
            "--preserve-digests",
            f"docker://{repo}:v1",
            f"oci:{layout}:v1",
        ],
        capture_output=True,
        check=True,
    )
    blobs = layout / "blobs" / "sha256"
    for image in (amd64, arm64):
        for data in (image.manifest, image.config, image.layer):
            assert (blobs / sha256(data).split(":")[1]).read_bytes() == data
    assert (blobs / digest.split(":")[1]).read_bytes() == index
