"""util/gitref against BuildKit's own git URL tests.

Transcribed as data from github.com/moby/buildkit (commit 73ed6825c):
``util/gitutil/git_url_test.go`` (TestParseURL), ``util/sshutil/scpurl_test.go``
(TestIsImplicitSSHTransport) and ``frontend/dockerfile/dfgitutil/git_ref_test.go``
(TestParseGitRef).
"""

from __future__ import annotations

import pytest

from bakec.errors import BakecError
from bakec.util.gitref import (
    GitRef,
    is_add_git_source,
    is_git_transport,
    is_implicit_ssh,
    is_remote_url,
    parse_git_ref,
    parse_url,
)

# TestParseURL: url -> (scheme, host, path, ref, subdir, query, user); None: an error
PARSE_URL = [
    ("http://github.com/moby/buildkit", ("http", "github.com", "/moby/buildkit", "", "", {}, "")),
    ("https://github.com/moby/buildkit", ("https", "github.com", "/moby/buildkit", "", "", {}, "")),
    (
        "http://github.com/moby/buildkit#v1.0.0",
        ("http", "github.com", "/moby/buildkit", "v1.0.0", "", {}, ""),
    ),
    (
        "http://github.com/moby/buildkit#v1.0.0:subdir",
        ("http", "github.com", "/moby/buildkit", "v1.0.0", "subdir", {}, ""),
    ),
    (
        "http://foo:bar@github.com/moby/buildkit#v1.0.0",
        ("http", "github.com", "/moby/buildkit", "v1.0.0", "", {}, "foo:bar"),
    ),
    (
        "ssh://git@github.com/moby/buildkit.git",
        ("ssh", "github.com", "/moby/buildkit.git", "", "", {}, "git"),
    ),
    (
        "ssh://git@github.com:22/moby/buildkit.git",
        ("ssh", "github.com:22", "/moby/buildkit.git", "", "", {}, "git"),
    ),
    ("git@github.com:moby/buildkit.git", ("ssh", "github.com", "moby/buildkit.git", "", "", {}, "git")),
    (
        "git@github.com:moby/buildkit.git#v1.0.0",
        ("ssh", "github.com", "moby/buildkit.git", "v1.0.0", "", {}, "git"),
    ),
    (
        "git@github.com:moby/buildkit.git#v1.0.0:hack",
        ("ssh", "github.com", "moby/buildkit.git", "v1.0.0", "hack", {}, "git"),
    ),
    (
        "nonstandarduser@example.com:/srv/repos/weird/project.git",
        ("ssh", "example.com", "/srv/repos/weird/project.git", "", "", {}, "nonstandarduser"),
    ),
    (
        "ssh://root@subdomain.example.hostname:2222/root/my/really/weird/path/foo.git",
        ("ssh", "subdomain.example.hostname:2222", "/root/my/really/weird/path/foo.git", "", "", {}, "root"),
    ),
    ("git://host.xz:1234/path/to/repo.git", ("git", "host.xz:1234", "/path/to/repo.git", "", "", {}, "")),
    (
        "ssh://someuser@192.168.0.123:456/~/repo-in-my-home-dir.git",
        ("ssh", "192.168.0.123:456", "/~/repo-in-my-home-dir.git", "", "", {}, "someuser"),
    ),
    ("httpx://github.com/moby/buildkit", None),
    ("HTTP://github.com/moby/buildkit", ("http", "github.com", "/moby/buildkit", "", "", {}, "")),
    (
        "https://github.com/moby/buildkit?ref=v1.0.0&foo=bar#v1.2.3",
        ("https", "github.com", "/moby/buildkit", "v1.2.3", "", {"ref": ["v1.0.0"], "foo": ["bar"]}, ""),
    ),
    (
        "git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0",
        ("ssh", "github.com", "moby/buildkit.git", "v1.0.0", "", {"subdir": ["/subdir"]}, "git"),
    ),
]

# TestIsImplicitSSHTransport
IMPLICIT_SSH = [
    ("http://github.com/moby/buildkit", False),
    ("github.com/moby/buildkit", False),
    ("github.com:moby/buildkit.git", False),
    ("helloworld.net", False),
    ("git@helloworld.net", False),
    ("git@helloworld.net/foo/bar.git", False),
    ("bad:user@helloworld.net:foo/bar.git", False),
    ("", False),
    ("git@github.com:moby/buildkit.git", True),
    ("nonstandarduser@example.com:/srv/repos/weird/project.git", True),
    ("other_Funky-username52@example.com:path/to/repo.git/", True),
    ("other_Funky-username52@example.com:/to/really:odd:repo.git/", True),
    ("teddy@4houses-down.com:/~/catnip.git/", True),
    ("ssh://root@subdomain.example.hostname:2222/root/my/really/weird/path/foo.git", False),
]

# TestParseGitRef: ref -> expected fields (None: not a git reference, or an error containing the text)
_B = "https://github.com/moby/buildkit.git"
PARSE_GIT_REF: list[tuple[str, dict | None | str]] = [
    ("https://example.com/", None),
    ("https://example.com/foo", None),
    ("https://example.com/foo.git", {"remote": "https://example.com/foo.git", "short_name": "foo"}),
    (
        "https://example.com/foo.git#deadbeef",
        {"remote": "https://example.com/foo.git", "short_name": "foo", "ref": "deadbeef"},
    ),
    (
        "https://example.com/foo.git#release/1.2",
        {"remote": "https://example.com/foo.git", "short_name": "foo", "ref": "release/1.2"},
    ),
    ("https://example.com/foo.git/", None),
    ("https://example.com/foo.git.bar", None),
    (
        "git://example.com/foo",
        {"remote": "git://example.com/foo", "short_name": "foo", "unencrypted_tcp": True},
    ),
    (
        "github.com/moby/buildkit",
        {
            "remote": "github.com/moby/buildkit",
            "short_name": "buildkit",
            "indistinguishable_from_local": True,
        },
    ),
    (
        "github.com/moby/buildkit#master",
        {
            "remote": "github.com/moby/buildkit",
            "short_name": "buildkit",
            "indistinguishable_from_local": True,
            "ref": "master",
        },
    ),
    ("custom.xyz/moby/buildkit.git", None),
    ("https://github.com/moby/buildkit", None),
    (_B, {"remote": _B, "short_name": "buildkit"}),
    (
        "https://foo:bar@github.com/moby/buildkit.git",
        {"remote": "https://foo:bar@github.com/moby/buildkit.git", "short_name": "buildkit"},
    ),
    ("git@github.com:moby/buildkit", {"remote": "git@github.com:moby/buildkit", "short_name": "buildkit"}),
    (
        "git@github.com:moby/buildkit.git",
        {"remote": "git@github.com:moby/buildkit.git", "short_name": "buildkit"},
    ),
    (
        "git@bitbucket.org:atlassianlabs/atlassian-docker.git",
        {"remote": "git@bitbucket.org:atlassianlabs/atlassian-docker.git", "short_name": "atlassian-docker"},
    ),
    (
        "https://github.com/foo/bar.git#baz/qux:quux/quuz",
        {
            "remote": "https://github.com/foo/bar.git",
            "short_name": "bar",
            "ref": "baz/qux",
            "subdir": "quux/quuz",
        },
    ),
    ("http://github.com/docker/docker.git:#branch", None),
    (
        "https://github.com/docker/docker.git#:myfolder",
        {"remote": "https://github.com/docker/docker.git", "short_name": "docker", "subdir": "myfolder"},
    ),
    ("./.git", None),
    (".git", None),
    (
        "https://github.com/docker/docker.git?ref=v1.0.0&subdir=/subdir",
        {
            "remote": "https://github.com/docker/docker.git",
            "short_name": "docker",
            "ref": "v1.0.0",
            "subdir": "/subdir",
        },
    ),
    (
        _B + "?subdir=/subdir#v1.0.0",
        {"remote": _B, "short_name": "buildkit", "ref": "v1.0.0", "subdir": "/subdir"},
    ),
    (_B + "?tag=v1.0.0", {"remote": _B, "short_name": "buildkit", "ref": "refs/tags/v1.0.0"}),
    (
        "github.com/moby/buildkit?tag=v1.0.0",
        {
            "remote": "github.com/moby/buildkit",
            "short_name": "buildkit",
            "ref": "refs/tags/v1.0.0",
            "indistinguishable_from_local": True,
        },
    ),
    (_B + "?branch=v1.0", {"remote": _B, "short_name": "buildkit", "ref": "refs/heads/v1.0"}),
    (_B + "?ref=v1.0.0#v1.2.3", "ref conflicts"),
    (_B + "?ref=v1.0.0&tag=v1.2.3", "ref conflicts"),
    (_B + "?tag=v1.0.0&branch=v1.0", "branch conflicts with tag"),
    (
        "git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0",
        {
            "remote": "git@github.com:moby/buildkit.git",
            "short_name": "buildkit",
            "ref": "v1.0.0",
            "subdir": "/subdir",
        },
    ),
    (_B + "?mtime=commit", {"remote": _B, "short_name": "buildkit", "mtime": "commit"}),
    (_B + "?mtime=checkout", {"remote": _B, "short_name": "buildkit", "mtime": "checkout"}),
    (_B + "?mtime=invalid", "invalid mtime value"),
    (
        _B + "?fetch-by-commit=true&checksum=deadbeef#refs/heads/branch",
        {
            "remote": _B,
            "short_name": "buildkit",
            "ref": "refs/heads/branch",
            "checksum": "deadbeef",
            "fetch_by_commit": True,
        },
    ),
    (
        _B + "?fetch-by-commit&checksum=deadbeef",
        {"remote": _B, "short_name": "buildkit", "checksum": "deadbeef", "fetch_by_commit": True},
    ),
    (_B + "?fetch-by-commit=false", {"remote": _B, "short_name": "buildkit"}),
    (_B + "?fetch-by-commit=invalid", "invalid fetch-by-commit value"),
    (_B + "?invalid=123", 'unexpected query "invalid"'),
]


@pytest.mark.parametrize(("url", "expected"), PARSE_URL)
def test_parse_url(url: str, expected: tuple | None) -> None:
    if expected is None:
        with pytest.raises(BakecError):
            parse_url(url)
        assert not is_git_transport(url)
        return
    got = parse_url(url)
    assert (got.scheme, got.host, got.path, got.ref, got.subdir, got.query, got.user) == expected
    assert is_git_transport(url)


@pytest.mark.parametrize(("value", "expected"), IMPLICIT_SSH)
def test_is_implicit_ssh_transport(value: str, expected: bool) -> None:
    assert is_implicit_ssh(value) is expected


@pytest.mark.parametrize(("ref", "expected"), PARSE_GIT_REF)
def test_parse_git_ref(ref: str, expected: dict | None | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(BakecError, match=expected):
            parse_git_ref(ref)
        return
    got = parse_git_ref(ref)
    if expected is None:
        assert got is None
        return
    assert got is not None
    fields = {"short_name": "", "indistinguishable_from_local": False, "unencrypted_tcp": False, **expected}
    assert got == GitRef(**{k: v for k, v in fields.items() if k not in ("short_name",)})
    assert (got.short_name, got.indistinguishable_from_local, got.unencrypted_tcp) == (
        fields["short_name"],
        fields["indistinguishable_from_local"],
        fields["unencrypted_tcp"] or ref.startswith(("http://", "git://")),
    )


@pytest.mark.parametrize(
    ("src", "git"),
    [
        ("ssh://git@host/repo.git", True),
        ("ssh://git@host:2222/repo", True),
        ("git@host:repo.git", True),
        ("git@host:repo.git#main:sub", True),
        ("git://host/repo", True),
        ("https://host/repo.git#v1", True),
        ("https://host/archive.tar.gz", False),
        ("github.com/moby/buildkit", False),  # a local path for ADD (dockerfile2llb)
        ("git@host", False),
        ("app/", False),
    ],
)
def test_add_sources_as_dockerfile2llb_tells_them(src: str, git: bool) -> None:
    assert is_add_git_source(src) is git


def test_remote_urls_as_buildx_tells_them() -> None:
    assert is_remote_url("https://host/archive.tar.gz")
    assert is_remote_url("ssh://git@host/repo.git") and is_remote_url("git@host:repo.git")
    assert is_remote_url("github.com/moby/buildkit")
    assert not is_remote_url("./app") and not is_remote_url("ftp://host/repo.git")
