"""``WWW-Authenticate`` parsing: what registries actually send, including the odd cases."""

from __future__ import annotations

import pytest

from bakec.registry._auth import Challenge, parse_challenges

CASES = [
    (
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/busybox:pull"'
        ),
        [
            Challenge(
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/busybox:pull",
                },
            )
        ],
    ),
    ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
    ("BEARER realm=https://x/t, service=s", [Challenge("bearer", {"realm": "https://x/t", "service": "s"})]),
    (
        'Bearer realm="a\\"b",error="insufficient_scope", Basic realm="r"',
        [
            Challenge("bearer", {"realm": 'a"b', "error": "insufficient_scope"}),
            Challenge("basic", {"realm": "r"}),
        ],
    ),
    (
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull,push"',
        [
            Challenge(
                "bearer",
                {"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:o/r:pull,push"},
            )
        ],
    ),
    ("Negotiate", [Challenge("negotiate", {})]),
    ("", []),
]


@pytest.mark.parametrize(("header", "expected"), CASES)
def test_parse_challenges(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges([header]) == expected


def test_several_headers_keep_their_order() -> None:
    got = parse_challenges(['Basic realm="b"', 'Bearer realm="t"'])
    assert [c.scheme for c in got] == ["basic", "bearer"]
