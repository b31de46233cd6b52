"""References normalise exactly as docker's distribution/reference (cases from its test tables)."""

from __future__ import annotations

import pytest

from bakec.errors import BakecError
from bakec.registry import InvalidReference, Reference, parse_normalized_named, parse_reference

D64 = "sha256:" + "a" * 64

NORMALISED = [
    # input, domain, path, tag, digest
    ("busybox", "docker.io", "library/busybox", "latest", ""),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", ""),
    (f"busybox@{D64}", "docker.io", "library/busybox", "", D64),
    (f"docker.io/library/busybox:1.36@{D64}", "docker.io", "library/busybox", "1.36", D64),
    ("docker.io/busybox", "docker.io", "library/busybox", "latest", ""),
    ("index.docker.io/busybox", "docker.io", "library/busybox", "latest", ""),
    ("index.docker.io/library/busybox:t", "docker.io", "library/busybox", "t", ""),
    ("user/app", "docker.io", "user/app", "latest", ""),
    ("user/app/sub", "docker.io", "user/app/sub", "latest", ""),
    ("localhost/app", "localhost", "app", "latest", ""),
    ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", ""),
    ("127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest", ""),
    ("[::1]:5000/busybox:tag", "[::1]:5000", "busybox", "tag", ""),
    ("[2001:db8::1]/x", "[2001:db8::1]", "x", "latest", ""),
    ("example.com/a", "example.com", "a", "latest", ""),
    ("ghcr.io/o/r:v1.2.3-rc_1", "ghcr.io", "o/r", "v1.2.3-rc_1", ""),
    ("Foo/bar", "Foo", "bar", "latest", ""),  # an upper-case first component is a host
    ("registry:5000/x", "registry:5000", "x", "latest", ""),
    ("a__b/c---d.e_f", "docker.io", "a__b/c---d.e_f", "latest", ""),
    ("x:" + "t" * 128, "docker.io", "library/x", "t" * 128, ""),
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), NORMALISED)
def test_parse_reference_normalises_like_docker(
    text: str, domain: str, path: str, tag: str, digest: str
) -> None:
    assert parse_reference(text) == Reference(domain, path, tag, digest)


FAMILIAR = [
    ("busybox", "busybox:latest"),
    ("docker.io/library/busybox:1", "busybox:1"),
    ("docker.io/library/a/b", "library/a/b:latest"),
    ("docker.io/user/app", "user/app:latest"),
    ("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest"),
    (f"busybox:1@{D64}", f"busybox:1@{D64}"),
]


@pytest.mark.parametrize(("text", "familiar"), FAMILIAR)
def test_familiar_strips_docker_io_and_library(text: str, familiar: str) -> None:
    assert parse_reference(text).familiar() == familiar


def test_str_is_the_full_normalised_reference() -> None:
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    ref = parse_reference(f"busybox:1@{D64}")
    assert str(ref) == f"docker.io/library/busybox:1@{D64}"
    assert ref.object == D64  # the digest wins over the tag
    assert ref.name == "docker.io/library/busybox"


def test_parse_normalized_named_adds_no_tag() -> None:
    assert parse_normalized_named("busybox") == Reference("docker.io", "library/busybox")


INVALID = [
    ("", "invalid reference format"),
    ("busybox:", "invalid reference format"),
    ("busybox:a:b", "invalid reference format"),
    ("a_-b", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("example.com:port/a", "invalid reference format"),
    ("x:" + "t" * 129, "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("foo/Bar", "invalid reference format: repository name (foo/Bar) must be lowercase"),
    ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
    ("example.com/Upper", "invalid reference format: repository name (Upper) must be lowercase"),
    ("a" * 64, f"invalid repository name ({'a' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("busybox@sha256:" + "a" * 32, "invalid checksum digest length"),
    ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("example.com/" + "a" * 256, "repository name must not be more than 255 characters"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_references_fail_with_dockers_message(text: str, message: str) -> None:
    with pytest.raises(InvalidReference) as info:
        parse_reference(text)
    assert info.value.summary == message
    assert isinstance(info.value, BakecError)


def test_with_tag_validates() -> None:
    ref = parse_reference("busybox")
    assert ref.with_tag("v2").tag == "v2"
    with pytest.raises(InvalidReference, match="invalid tag format"):
        ref.with_tag("-bad")
