"""OCI distribution client: pull ``FROM`` images and push build results.

    client = RegistryClient()
    image = client.resolve("busybox", "linux/arm64")       # docker.io/library/busybox:latest
    for layer in image.layers:
        client.fetch_blob(image.reference, layer["digest"], path, size=layer["size"])

    client.push_blob("registry.example/app", digest, path, mount_from=["registry.example/base"])
    client.push_manifest("registry.example/app", manifest_bytes, MEDIA_TYPE_OCI_MANIFEST, tag="v1")

References normalise as docker's (:func:`parse_reference`), platforms match as
containerd's (:func:`only`), credentials come from docker's ``config.json``
(:class:`DockerConfig`). Every failure is a :class:`RegistryError`.
"""

from bakec.registry.client import (
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST,
    Manifest,
    PushResult,
    RegistryClient,
    ResolvedImage,
)
from bakec.registry.credentials import Credentials, DockerConfig
from bakec.registry.errors import (
    AuthenticationError,
    DigestMismatch,
    InvalidReference,
    NoMatchingPlatform,
    NotFound,
    RegistryError,
)
from bakec.registry.reference import Reference, parse_normalized_named, parse_reference

__all__ = [
    "MEDIA_TYPE_DOCKER_MANIFEST",
    "MEDIA_TYPE_DOCKER_MANIFEST_LIST",
    "MEDIA_TYPE_OCI_INDEX",
    "MEDIA_TYPE_OCI_MANIFEST",
    "AuthenticationError",
    "Credentials",
    "DigestMismatch",
    "DockerConfig",
    "InvalidReference",
    "Manifest",
    "NoMatchingPlatform",
    "NotFound",
    "PushResult",
    "Reference",
    "RegistryClient",
    "RegistryError",
    "ResolvedImage",
    "parse_normalized_named",
    "parse_reference",
]
