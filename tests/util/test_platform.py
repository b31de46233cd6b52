"""Platforms parse, normalise and match as containerd's ``platforms`` package."""

from __future__ import annotations

import pytest

from bakec.dockerfile.refs import normalize_platform, parse_platform
from bakec.util.platform import Platform, PlatformError, default_platform, only

PARSED = [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/x86_64", Platform("linux", "amd64")),
    ("linux/amd64/v1", Platform("linux", "amd64")),
    ("linux/amd64/v3", Platform("linux", "amd64", "v3")),
    ("linux/arm64", Platform("linux", "arm64")),
    ("linux/aarch64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ("linux/arm", Platform("linux", "arm")),
    ("linux/armhf", Platform("linux", "arm")),
    ("linux/armel", Platform("linux", "arm", "v6")),
    ("linux/arm/7", Platform("linux", "arm", "v7")),
    ("linux/arm/v6", Platform("linux", "arm", "v6")),
    ("linux/i386", Platform("linux", "386")),
    ("macos/arm64", Platform("darwin", "arm64")),
    ("windows(10.0.17763)/amd64", Platform("windows", "amd64", "", "10.0.17763")),
    ("s390x", Platform("linux", "s390x")),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parse_like_containerd(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


def test_bare_os_takes_the_host_architecture() -> None:
    assert Platform.parse("linux") == default_platform()


@pytest.mark.parametrize("text", ["linux/*", "linux/a b", "lin ux", "nonsense", "linux/arm64/v8/x"])
def test_invalid_platforms(text: str) -> None:
    with pytest.raises(PlatformError, match="invalid platform"):
        Platform.parse(text)


NORMALISED = [
    (Platform("linux", "arm64", "v8"), Platform("linux", "arm64")),
    (Platform("linux", "aarch64", "8"), Platform("linux", "arm64")),
    (Platform("linux", "arm64", "9"), Platform("linux", "arm64", "v9")),
    (Platform("linux", "arm"), Platform("linux", "arm", "v7")),
    (Platform("Linux", "ARM", "6"), Platform("linux", "arm", "v6")),
    (Platform("", "amd64"), Platform("linux", "amd64")),
]


@pytest.mark.parametrize(("given", "expected"), NORMALISED)
def test_normalize(given: Platform, expected: Platform) -> None:
    assert given.normalize() == expected


MATCHES = [
    # wanted, candidate, matches
    ("linux/arm64", Platform("linux", "arm64"), True),
    ("linux/arm64", Platform("linux", "arm64", "v8"), True),  # arm64 defaults to v8
    ("linux/arm64/v8", Platform("linux", "arm64"), True),
    ("linux/arm64", Platform("linux", "arm", "v8"), True),
    ("linux/arm64", Platform("linux", "arm", "v7"), True),
    ("linux/arm64", Platform("linux", "arm64", "v8.1"), False),
    ("linux/arm64/v8.2", Platform("linux", "arm64", "v8.1"), True),
    ("linux/arm64/v9", Platform("linux", "arm64", "v8.5"), True),
    ("linux/arm64/v9", Platform("linux", "arm64", "v8.6"), False),
    ("linux/arm/v7", Platform("linux", "arm"), True),  # arm defaults to v7
    ("linux/arm/v7", Platform("linux", "arm", "v6"), True),
    ("linux/arm/v7", Platform("linux", "arm", "v8"), False),
    ("linux/arm/v6", Platform("linux", "arm", "v7"), False),
    ("linux/amd64", Platform("linux", "386"), True),
    ("linux/amd64", Platform("linux", "amd64", "v2"), False),
    ("linux/amd64/v3", Platform("linux", "amd64", "v2"), True),
    ("linux/amd64/v3", Platform("linux", "amd64"), True),
    ("linux/amd64", Platform("linux", "arm64"), False),
    ("linux/amd64", Platform("windows", "amd64"), False),
    ("linux/amd64", Platform("unknown", "unknown"), False),  # attestation manifests
]


@pytest.mark.parametrize(("wanted", "candidate", "matches"), MATCHES)
def test_only_matches_like_containerd(wanted: str, candidate: Platform, matches: bool) -> None:
    assert only(wanted).match(candidate) is matches


def test_only_prefers_the_exact_platform_then_older_variants() -> None:
    matcher = only("linux/arm64")
    ranks = {
        str(p): matcher.rank(p)
        for p in [
            Platform("linux", "arm", "v5"),
            Platform("linux", "arm", "v7"),
            Platform("linux", "arm64", "v8"),
            Platform("linux", "arm", "v8"),
        ]
    }
    assert sorted(ranks, key=lambda k: ranks[k]) == [
        "linux/arm64/v8",
        "linux/arm/v8",
        "linux/arm/v7",
        "linux/arm/v5",
    ]


FORMATTED = [
    # platform, platforms.Format, platforms.FormatAll
    (Platform("linux", "arm64", "v8"), "linux/arm64/v8", "linux/arm64/v8"),
    (Platform("linux", "amd64"), "linux/amd64", "linux/amd64"),
    (Platform("windows", "amd64", "", "10.0.17763"), "windows/amd64", "windows(10.0.17763)/amd64"),
    (Platform("", "arm64"), "arm64", "arm64"),
]


@pytest.mark.parametrize(("platform", "text", "text_all"), FORMATTED)
def test_format_and_format_all(platform: Platform, text: str, text_all: str) -> None:
    assert str(platform) == text
    assert platform.format_all() == text_all


def test_json_follows_the_image_spec_field_order() -> None:
    assert list(Platform("linux", "arm", "v7").json().items()) == [
        ("architecture", "arm"),
        ("os", "linux"),
        ("variant", "v7"),
    ]
    assert Platform("linux", "amd64").json() == {"architecture": "amd64", "os": "linux"}
    assert list(Platform("windows", "amd64", "", "10.0").json()) == ["architecture", "os", "os.version"]


@pytest.mark.parametrize("platform", [Platform("linux", "amd64"), Platform("linux", "arm", "v7")])
def test_from_formatted_inverts_str(platform: Platform) -> None:
    assert Platform.from_formatted(str(platform)) == platform
    assert Platform.from_formatted("linux") == Platform("linux", "amd64")


# The Dockerfile frontend's own normaliser was a looser copy; it now is containerd's, as BuildKit's.
FRONTEND_NORMALISED = [
    (("linux", "i386", "v2"), "linux/386"),  # i386 drops any variant
    (("linux", "arm64", "9"), "linux/arm64/v9"),
    (("linux", "armhf", "v6"), "linux/arm/v7"),  # armhf is always v7
    (("linux", "x86_64", "v1"), "linux/amd64"),
]


@pytest.mark.parametrize(("parts", "want"), FRONTEND_NORMALISED)
def test_frontend_normalises_as_containerd(parts: tuple[str, str, str], want: str) -> None:
    assert str(normalize_platform(*parts)) == want
    assert str(parse_platform("/".join(parts))) == want
