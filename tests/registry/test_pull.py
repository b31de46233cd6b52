"""Resolving and downloading from the real loopback registry (and through the fault gate)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from bakec.registry import (
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    DigestMismatch,
    DockerConfig,
    NoMatchingPlatform,
    NotFound,
    RegistryClient,
    RegistryError,
)
from bakec.util.platform import Platform

from .conftest import sha256
from .gate import Gate

HOST = "127.0.0.1:5000"


@pytest.fixture
def digests(busybox_image: object, client: RegistryClient) -> dict[str, str]:
    """Manifest digests of the three base images, read with plain HEADs."""
    return {
        "amd64": client.manifest_digest(f"{HOST}/busybox:latest") or "",
        "arm64": client.manifest_digest(f"{HOST}/busybox:arm64") or "",
        "multi": client.manifest_digest(f"{HOST}/busybox-multi:latest") or "",
    }


def test_resolve_single_amd64_manifest(
    client: RegistryClient, busybox_image: object, digests: dict[str, str]
) -> None:
    image = client.resolve(f"{HOST}/busybox", "linux/amd64")
    assert str(image.reference) == f"{HOST}/busybox:latest"
    assert image.manifest_digest == digests["amd64"] == busybox_image.digest  # type: ignore[attr-defined]
    assert image.index_digest == ""
    assert str(image.pinned) == f"{HOST}/busybox:latest@{image.manifest_digest}"
    assert image.media_type == MEDIA_TYPE_OCI_MANIFEST
    assert sha256(image.manifest_bytes) == image.manifest_digest
    assert sha256(image.config_bytes) == image.config_digest == image.manifest["config"]["digest"]
    assert image.platform == Platform("linux", "amd64")
    assert image.config["config"]["Cmd"] == ["/bin/sh"]
    assert len(image.layers) == 1


def test_resolve_single_arm64_manifest_whatever_the_platform(
    client: RegistryClient, digests: dict[str, str]
) -> None:
    # containerd returns a single manifest as is; the caller sees its platform
    image = client.resolve(f"{HOST}/busybox:arm64", "linux/amd64")
    assert image.manifest_digest == digests["arm64"]
    assert image.platform == Platform("linux", "arm64")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux/amd64", "amd64"),
        ("linux/arm64", "arm64"),
        ("linux/arm64/v8", "arm64"),
        ("linux/aarch64", "arm64"),
        (Platform("linux", "amd64"), "amd64"),
    ],
)
def test_resolve_selects_from_the_index(
    client: RegistryClient, digests: dict[str, str], platform: str | Platform, expected: str
) -> None:
    image = client.resolve(f"{HOST}/busybox-multi:latest", platform)
    assert image.index_digest == digests["multi"]
    assert str(image.pinned) == f"{HOST}/busybox-multi:latest@{digests['multi']}"
    assert image.manifest_digest == digests[expected]
    assert image.platform.architecture == expected


@pytest.mark.parametrize("platform", ["linux/s390x", "linux/arm/v7", "windows/amd64"])
def test_resolve_without_a_matching_platform(
    client: RegistryClient, digests: dict[str, str], platform: str
) -> None:
    with pytest.raises(NoMatchingPlatform) as info:
        client.resolve(f"{HOST}/busybox-multi", platform)
    message = str(info.value)
    assert (
        f"resolving {HOST}/busybox-multi:latest: no match for platform {Platform.parse(platform)}" in message
    )
    assert "available: linux/amd64, linux/arm64" in message


def test_resolve_by_digest_and_tag_plus_digest(client: RegistryClient, digests: dict[str, str]) -> None:
    by_digest = client.resolve(f"{HOST}/busybox@{digests['arm64']}")
    assert by_digest.manifest_digest == digests["arm64"]
    # tag and digest: the digest wins (the tag names another image)
    both = client.resolve(f"{HOST}/busybox:latest@{digests['arm64']}")
    assert both.manifest_digest == digests["arm64"]
    index = client.fetch_manifest(f"{HOST}/busybox-multi@{digests['multi']}")
    assert index.is_index and index.media_type == MEDIA_TYPE_OCI_INDEX


def test_unknown_tag_and_repository_name_what_failed(client: RegistryClient, busybox_image: object) -> None:
    with pytest.raises(NotFound) as info:
        client.resolve(f"{HOST}/busybox:no-such-tag")
    err = info.value
    assert err.summary == f"resolving {HOST}/busybox:no-such-tag: manifest unknown"
    assert (err.registry, err.repository, err.code, err.status) == (HOST, "busybox", "MANIFEST_UNKNOWN", 404)
    assert "registry 127.0.0.1:5000, repository busybox" in err.message
    with pytest.raises(NotFound, match=r"bakec-no-such-repo"):
        client.resolve(f"{HOST}/bakec-no-such-repo")
    assert client.manifest_digest(f"{HOST}/busybox:no-such-tag") is None


def test_fetch_blob_to_a_path_verifies_the_digest(client: RegistryClient, tmp_path: Path) -> None:
    image = client.resolve(f"{HOST}/busybox:latest")
    layer = image.layers[0]
    dest = tmp_path / "layer.tar.gz"
    assert client.fetch_blob(image.reference, layer["digest"], dest, size=layer["size"]) == layer["size"]
    assert "sha256:" + hashlib.sha256(dest.read_bytes()).hexdigest() == layer["digest"]
    assert [p.name for p in tmp_path.iterdir()] == ["layer.tar.gz"]  # no partial file left


def test_fetch_blob_to_a_writer_and_read_blob(client: RegistryClient) -> None:
    image = client.resolve(f"{HOST}/busybox:arm64")
    out = io.BytesIO()
    client.fetch_blob(f"{HOST}/busybox", image.layers[0]["digest"], out)
    assert sha256(out.getvalue()) == image.layers[0]["digest"]
    config = client.read_blob(f"{HOST}/busybox", image.config_digest)
    assert json.loads(config)["architecture"] == "arm64"


def test_fetch_unknown_blob(client: RegistryClient, tmp_path: Path, busybox_image: object) -> None:
    with pytest.raises(NotFound) as info:
        client.fetch_blob(f"{HOST}/busybox", "sha256:" + "0" * 64, tmp_path / "x")
    assert info.value.code == "BLOB_UNKNOWN"
    assert f"fetching blob sha256:{'0' * 64} from {HOST}/busybox: blob unknown" in str(info.value)
    assert not (tmp_path / "x").exists()


def test_fetch_blob_with_a_wrong_size_fails(client: RegistryClient, tmp_path: Path) -> None:
    image = client.resolve(f"{HOST}/busybox:latest")
    layer = image.layers[0]
    with pytest.raises(DigestMismatch, match="expected 10"):
        client.fetch_blob(image.reference, layer["digest"], tmp_path / "x", size=10)
    assert not (tmp_path / "x").exists()


# -- through the gate: corrupted content, faults and retries -----------------------------------


def test_corrupted_blob_is_a_digest_mismatch_and_leaves_nothing(
    client: RegistryClient, gate: Gate, tmp_path: Path, busybox_image: object
) -> None:
    gate.corrupt_blobs = True
    image = client.resolve(f"{HOST}/busybox:latest")
    layer = image.layers[0]["digest"]
    dest = tmp_path / "layer"
    with pytest.raises(DigestMismatch) as info:
        client.fetch_blob(f"{gate.host}/busybox", layer, dest)
    message = str(info.value)
    assert f"digest mismatch for blob {layer}" in message
    assert f"expected {layer}, got sha256:" in message
    assert f"registry {gate.host}, repository busybox" in message
    assert list(tmp_path.iterdir()) == []
    # a corrupted config fails the resolve the same way
    with pytest.raises(DigestMismatch, match="digest mismatch for blob"):
        client.resolve(f"{gate.host}/busybox:latest")


def test_retries_5xx_then_succeeds(client: RegistryClient, gate: Gate, digests: dict[str, str]) -> None:
    gate.fail(2, 503, path="/manifests/")
    image = client.resolve(f"{gate.host}/busybox:latest")
    assert image.manifest_digest == digests["amd64"]
    statuses = [s.status for s in gate.requests("GET", "/manifests/latest")]
    assert statuses == [503, 503, 200]


_NGINX_500 = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def test_5xx_with_a_page_body_names_the_status_in_one_line(client: RegistryClient, gate: Gate) -> None:
    gate.fail(50, 500, path="/manifests/", body=_NGINX_500)
    with pytest.raises(RegistryError) as info:
        client.resolve(f"{gate.host}/busybox:latest")
    err = info.value
    url = f"http://{gate.host}/v2/busybox/manifests/latest"
    assert err.summary == (
        f"resolving {gate.host}/busybox:latest: unexpected status from GET request to {url}: "
        "500 Internal Server Error"
    )
    assert err.detail == f"registry {gate.host}, repository busybox: nginx"
    assert "\n" not in err.message and err.status == 500


def test_retries_429_and_dropped_connections(
    client: RegistryClient, gate: Gate, digests: dict[str, str]
) -> None:
    gate.fail(1, 429, retry_after="0")
    gate.drop(2)
    assert client.manifest_digest(f"{gate.host}/busybox:arm64") == digests["arm64"]
    assert [s.status for s in gate.seen] == [429, -1, -1, 200]


def test_retries_are_bounded(gate: Gate, busybox_image: object) -> None:
    gate.fail(10, 502)
    with (
        RegistryClient(docker_config=DockerConfig(), max_attempts=3, backoff=0.01) as client,
        pytest.raises(RegistryError) as info,
    ):
        client.resolve(f"{gate.host}/busybox:latest")
    assert len(gate.seen) == 3
    assert info.value.status == 502
    assert f"registry {gate.host}, repository busybox: 502" in str(info.value)


def test_unreachable_registry_is_reported_after_retries(busybox_image: object) -> None:
    probe = Gate()
    host = probe.host
    probe.close()  # nothing listens there any more
    with (
        RegistryClient(docker_config=DockerConfig(), max_attempts=2, backoff=0.01) as client,
        pytest.raises(RegistryError) as info,
    ):
        client.resolve(f"{host}/busybox")
    assert info.value.summary == f"resolving {host}/busybox:latest: cannot reach http://{host}"
    assert "after 2 attempts" in info.value.detail


def test_lost_connection_mid_blob_resumes_with_a_range_request(
    client: RegistryClient, gate: Gate, tmp_path: Path
) -> None:
    image = client.resolve(f"{HOST}/busybox:latest")
    layer = image.layers[0]
    gate.truncate_blob(keep=300_000)
    dest = tmp_path / "layer"
    client.fetch_blob(f"{gate.host}/busybox", layer["digest"], dest, size=layer["size"])
    assert sha256(dest.read_bytes()) == layer["digest"]
    gets = gate.requests("GET", "/blobs/")
    assert len(gets) == 2
    assert "Range" not in gets[0].headers
    assert gets[1].headers["Range"] == "bytes=300000-" and gets[1].status == 206


def test_redirect_to_plain_http_elsewhere_is_refused(client: RegistryClient, gate: Gate) -> None:
    image = client.resolve(f"{HOST}/busybox:latest")
    gate.redirect_blobs_to = "http://192.0.2.10:8080"
    with pytest.raises(RegistryError, match="refusing plain http to 192.0.2.10:8080"):
        client.fetch_blob(f"{gate.host}/busybox", image.layers[0]["digest"], io.BytesIO())


def test_redirect_on_loopback_is_followed(client: RegistryClient, gate: Gate) -> None:
    image = client.resolve(f"{HOST}/busybox:latest")
    gate.redirect_blobs_to = f"http://{HOST}"
    out = io.BytesIO()
    client.fetch_blob(f"{gate.host}/busybox", image.layers[0]["digest"], out)
    assert sha256(out.getvalue()) == image.layers[0]["digest"]


def test_one_keep_alive_connection_serves_sequential_requests(client: RegistryClient, gate: Gate) -> None:
    image = client.resolve(f"{gate.host}/busybox:latest")
    assert client.blob_exists(f"{gate.host}/busybox", image.layers[0]["digest"])
    assert not client.blob_exists(f"{gate.host}/busybox", "sha256:" + "0" * 64)
    assert client.manifest_digest(f"{gate.host}/busybox:no-such-tag") is None
    client.read_blob(f"{gate.host}/busybox", image.config_digest)
    assert len(gate.seen) == 6
    assert len({s.peer for s in gate.seen}) == 1


def test_a_failing_destination_is_a_registry_error(client: RegistryClient) -> None:
    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data: object) -> int:
            raise OSError(28, "No space left on device")

    image = client.resolve(f"{HOST}/busybox:latest")
    with pytest.raises(RegistryError, match="cannot write the blob; .*No space left on device"):
        client.fetch_blob(f"{HOST}/busybox", image.layers[0]["digest"], Full())
