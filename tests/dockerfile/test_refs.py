"""Image references and platforms normalised like distribution/reference and containerd."""

from __future__ import annotations

import pytest

from bakec.dockerfile.refs import RefError, parse_platform, parse_ref


@pytest.mark.parametrize(
    ("text", "normalized", "familiar"),
    [
        ("alpine", "docker.io/library/alpine:latest", "alpine"),
        ("alpine:3.20", "docker.io/library/alpine:3.20", "alpine:3.20"),
        ("user/app", "docker.io/user/app:latest", "user/app"),
        ("ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "ghcr.io/o/r:v1"),
        ("localhost/app", "localhost/app:latest", "localhost/app"),
        ("127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine"),
    ],
)
def test_normalisation(text: str, normalized: str, familiar: str) -> None:
    ref = parse_ref(text).tag_name_only()
    assert str(ref) == normalized
    assert ref.familiar().removesuffix(":latest") == familiar


def test_digest_references_keep_their_digest_and_get_no_tag() -> None:
    digest = "sha256:" + "a" * 64
    ref = parse_ref(f"alpine@{digest}").tag_name_only()
    assert str(ref) == f"docker.io/library/alpine@{digest}"


@pytest.mark.parametrize("text", ["Alpine", "alpine:", "a b", "alpine@sha256", ""])
def test_invalid_references(text: str) -> None:
    with pytest.raises(RefError):
        parse_ref(text)


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/x86_64", "linux/amd64"),
        ("arm64", "linux/arm64"),
        ("windows(10.0.17763)/amd64", "windows/amd64"),
    ],
)
def test_platforms(text: str, formatted: str) -> None:
    assert str(parse_platform(text)) == formatted


def test_platform_format_all_keeps_os_version() -> None:
    assert parse_platform("windows(10.0.17763)/amd64").format_all() == "windows(10.0.17763)/amd64"
