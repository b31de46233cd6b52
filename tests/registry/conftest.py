"""Fixtures for the registry client tests: a client, the auth/fault gate, unique repositories."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bakec.registry import MEDIA_TYPE_OCI_MANIFEST, DockerConfig, RegistryClient

from .gate import Gate, TokenServer


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    """A client with no credentials (an empty docker config) and fast retries."""
    with RegistryClient(docker_config=DockerConfig(), backoff=0.01, max_backoff=0.05) as c:
        yield c


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer()
    yield server
    server.close()


@pytest.fixture
def gate(registry: object) -> Iterator[Gate]:
    g = Gate()
    yield g
    g.close()


@pytest.fixture
def unique_repo() -> str:
    return f"bakec-test-{uuid.uuid4().hex[:12]}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Image:
    layer: bytes
    config: bytes
    manifest: bytes

    @property
    def layer_digest(self) -> str:
        return sha256(self.layer)

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def make_image(content: bytes | None = None, arch: str = "amd64") -> Image:
    """A small valid OCI image with one gzip layer holding one file of random content."""
    content = content if content is not None else uuid.uuid4().bytes * 64
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    diff_id = sha256(raw.getvalue())
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256(layer),
                    "size": len(layer),
                }
            ],
        },
        sort_keys=True,
    ).encode()
    return Image(layer, config, manifest)
