"""Git URL parsing, credential redaction and how remote definitions move contexts (no network)."""

from __future__ import annotations

import pytest

from bakec.bake.remote import split_remote_args
from bakec.bake.remote_context import remote_contexts, subdir_url
from bakec.errors import BakecError
from bakec.util.gitref import GitRef, is_git_url, parse_git_url, redact, redact_text


@pytest.mark.parametrize(
    "value,expected",
    [
        ("https://github.com/docker/buildx.git", True),
        ("https://github.com/docker/buildx.git#v0.12.0:bake", True),
        ("http://127.0.0.1:8080/repo.git#main", True),
        ("https://example.com/archive.tar.gz", False),
        ("https://github.com/docker/buildx", False),
        ("git://127.0.0.1:9418/repo", True),
        ("git@github.com:docker/buildx.git", True),
        ("ssh://git@github.com/docker/buildx.git", True),
        ("github.com/docker/buildx", True),
        ("./app", False),
        ("app.git", False),
        ("docker-image://alpine", False),
    ],
)
def test_is_git_url(value, expected):
    assert is_git_url(value) is expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("https://h/r.git", GitRef("https://h/r.git")),
        ("https://h/r.git#main", GitRef("https://h/r.git", "main")),
        ("https://h/r.git#main:sub/dir/", GitRef("https://h/r.git", "main", "sub/dir")),
        ("https://h/r.git#:sub", GitRef("https://h/r.git", "", "sub")),
        ("https://h/r.git#ref=v1,subdir=docs", GitRef("https://h/r.git", "v1", "docs")),
        ("git@h:o/r.git#refs/pull/1/head", GitRef("git@h:o/r.git", "refs/pull/1/head")),
        ("github.com/o/r#v2", GitRef("https://github.com/o/r", "v2")),
    ],
)
def test_parse_git_url(value, expected):
    assert parse_git_url(value) == expected


def test_parse_git_url_refuses_escaping_subdirs_and_unknown_keys():
    with pytest.raises(BakecError, match="invalid subdir"):
        parse_git_url("https://h/r.git#main:../etc")
    with pytest.raises(BakecError, match="unexpected key 'depth'"):
        parse_git_url("https://h/r.git#depth=2")


def test_credentials_never_show():
    url = "https://user:tok3n@h/r.git"
    assert redact(url) == "https://user:xxxxx@h/r.git"
    assert parse_git_url(url + "#main:sub").shown == "https://user:xxxxx@h/r.git#main:sub"
    assert redact("git@h:o/r.git") == "git@h:o/r.git"
    assert (
        redact_text("fatal: unable to access 'https://user:tok3n@h/': refused", url)
        == "fatal: unable to access 'https://user:xxxxx@h/': refused"
    )


def test_split_remote_args():
    assert split_remote_args(["app", "web"]) == (None, None, ["app", "web"])
    assert split_remote_args(["https://h/r.git#main", "app"]) == ("https://h/r.git#main", None, ["app"])
    assert split_remote_args(["https://h/r.git", "https://h/ctx.git", "app"]) == (
        "https://h/r.git",
        "https://h/ctx.git",
        ["app"],
    )


@pytest.mark.parametrize(
    "base,path,expected",
    [
        ("https://h/r.git#main", "svc", "https://h/r.git#main:svc"),
        ("https://h/r.git#main:a", "b/./c/", "https://h/r.git#main:a/b/c"),
        ("https://h/r.git", "svc", "https://h/r.git#:svc"),
        ("https://h/r.git#main:a", "../..", "https://h/r.git#main"),
        ("https://h/r.git#main:a", "/abs", "https://h/r.git#main:a/abs"),
    ],
)
def test_subdir_url(base, path, expected):
    assert subdir_url(base, path) == expected


def test_remote_contexts_follow_buildx_update_context():
    url = "https://h/r.git#main"
    context, named = remote_contexts(
        ".",
        {
            "a": ".",
            "b": "lib",
            "c": "cwd://x",
            "d": "target:base",
            "e": "docker-image://alpine",
            "f": "https://h/o.git",
        },
        url,
    )
    assert context == url
    assert named == {
        "a": url,
        "b": url + ":lib",
        "c": "cwd://x",
        "d": "target:base",
        "e": "docker-image://alpine",
        "f": "https://h/o.git",
    }
    assert remote_contexts(None, None, url) == (url, None)
    assert remote_contexts("cwd://", None, url) == ("cwd://", None)
    assert remote_contexts("./svc/", None, url) == (url + ":svc", None)
