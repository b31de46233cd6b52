"""Git references: which strings are git URLs and how they split, as BuildKit and buildx tell.

The one place bakec classifies git URLs (build contexts, ``ADD`` sources, bake files):

* :func:`parse_url` / :func:`is_git_transport` are BuildKit's ``util/gitutil`` ``ParseURL``
  and ``IsGitTransport``: ``http``, ``https``, ``ssh`` and ``git`` URLs and scp-style
  ``user@host:path`` (``util/sshutil``), each with ``#ref:subdir`` and a query.
* :func:`parse_git_ref` is the Dockerfile frontend's ``dfgitutil.ParseGitRef``: an http(s) URL
  is a git reference only when its path ends in ``.git``; ``github.com/...`` is one too
  (marked indistinguishable from a local path); query keys ``ref``, ``tag``, ``branch``,
  ``subdir``, ``checksum``/``commit``, ``keep-git-dir``, ``submodules``, ``mtime``,
  ``fetch-by-commit``.
* :func:`parse_git_url` is what bakec fetches for a context or ``ADD`` source.
* :func:`redact` hides a URL's password in messages.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bakec.errors import BakecError

__all__ = [
    "GitRef",
    "GitURL",
    "is_add_git_source",
    "is_git_ssh",
    "is_git_transport",
    "is_git_url",
    "is_http_source",
    "is_implicit_ssh",
    "is_remote_url",
    "parse_git_ref",
    "parse_git_url",
    "parse_url",
    "redact",
    "redact_all",
    "redact_text",
]

_PROTOCOLS = ("http", "https", "ssh", "git")
_PROTO_RE = re.compile(r"^[a-zA-Z0-9]+://")
# util/sshutil's gitSSHRegex: user@host:path[?query][#fragment]
_SCP_RE = re.compile(r"^([a-zA-Z0-9_-]+)@([a-zA-Z0-9.-]+):(.*?)(?:\?(.*?))?(?:#(.*))?$", re.DOTALL)
# scheme://user:password@ -- the password is what messages must not show
_CREDENTIALS = re.compile(r"^([a-z][a-z0-9+.-]*://)([^/@:]*):([^/@]*)@", flags=re.IGNORECASE)


class UnknownProtocol(BakecError):
    """Neither ``scheme://`` nor scp-style: not a git transport at all."""


@dataclass(frozen=True)
class GitURL:
    """gitutil's ``GitURL``: a git remote split up; ``remote`` is it without query and fragment."""

    scheme: str
    host: str
    path: str
    user: str = ""  # "name" or "name:password"
    query: dict[str, list[str]] = field(default_factory=dict)
    ref: str = ""
    subdir: str = ""
    has_fragment: bool = False
    remote: str = ""


def _query(raw: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def _fragment(fragment: str) -> tuple[str, str]:
    """gitutil's ``parseOpts``: ``ref:subdir``, the subdir cleaned and relative."""
    ref, _, subdir = fragment.partition(":")
    subdir = posixpath.normpath("/" + subdir).lstrip("/") if subdir else ""
    return ref, subdir


def is_implicit_ssh(remote: str) -> bool:
    """sshutil's ``IsImplicitSSHTransport``: scp-style ``user@host:path``."""
    return _SCP_RE.match(remote) is not None


def is_git_transport(remote: str) -> bool:
    """gitutil's ``IsGitTransport``: a supported ``scheme://`` or scp-style."""
    proto = _PROTO_RE.match(remote)
    if proto:
        return proto.group(0)[:-3].lower() in _PROTOCOLS
    return is_implicit_ssh(remote)


def parse_url(remote: str) -> GitURL:
    """gitutil's ``ParseURL``; UnknownProtocol, or BakecError for an unsupported scheme."""
    proto = _PROTO_RE.match(remote)
    if proto:
        scheme = proto.group(0)[:-3].lower()
        if scheme not in _PROTOCOLS:
            raise BakecError(f"{scheme}: invalid protocol")
        return _from_url(scheme, remote[len(proto.group(0)) :])
    scp = _SCP_RE.match(remote)
    if scp is None:
        raise UnknownProtocol("unknown protocol")
    user, host, path, query, fragment = scp.groups()
    ref, subdir = _fragment(fragment or "")
    return GitURL(
        "ssh", host, path, user, _query(query or ""), ref, subdir, bool(fragment), f"{user}@{host}:{path}"
    )


def _from_url(scheme: str, rest: str) -> GitURL:
    """gitutil's ``FromURL`` for ``scheme://rest``."""
    parts = urlsplit("x://" + rest)
    userinfo, _, host = parts.netloc.rpartition("@")
    ref, subdir = _fragment(parts.fragment)
    remote = f"{scheme}://{parts.netloc}{parts.path}"
    return GitURL(
        scheme, host, parts.path, userinfo, _query(parts.query), ref, subdir, bool(parts.fragment), remote
    )


@dataclass(frozen=True)
class GitRef:
    """A git reference: the remote to fetch, the ref (``""`` = HEAD) and a subdir, plus options."""

    remote: str
    ref: str = ""
    subdir: str = ""
    checksum: str = ""
    keep_git_dir: bool | None = None
    submodules: bool | None = None
    mtime: str = ""
    fetch_by_commit: bool = False
    short_name: str = field(default="", compare=False)
    indistinguishable_from_local: bool = field(default=False, compare=False)
    unencrypted_tcp: bool = field(default=False, compare=False)

    @property
    def shown(self) -> str:
        """The URL with any password or token removed, for messages."""
        return (
            redact(self.remote)
            + (f"#{self.ref}" if self.ref else "")
            + (f":{self.subdir}" if self.subdir else "")
        )


def parse_git_ref(ref: str) -> GitRef | None:
    """dfgitutil's ``ParseGitRef``: None when ``ref`` is no git reference; BakecError for a bad query."""
    if ref.startswith(("./", "../")):
        return None
    local_like = ref.startswith("github.com/")
    try:
        url = _from_url("https", ref) if local_like else parse_url(ref)
    except BakecError:
        return None
    if url.scheme in ("http", "https") and not local_like and not url.path.endswith(".git"):
        return None
    remote = url.remote.partition("://")[2] if local_like else url.remote
    fields: dict[str, Any] = {"ref": url.ref, "subdir": url.subdir}
    _load_query(url.query, fields)
    return GitRef(
        remote,
        short_name=remote.rsplit("/", 1)[-1].removesuffix(".git"),
        indistinguishable_from_local=local_like,
        unencrypted_tcp=url.scheme in ("http", "git"),
        **fields,
    )


_FLAGS = {"keep-git-dir": "keep_git_dir", "submodules": "submodules", "fetch-by-commit": "fetch_by_commit"}


def _load_query(query: dict[str, list[str]], out: dict[str, Any]) -> None:
    """dfgitutil's ``loadQuery``: the options a git URL's query sets, into ``out``."""
    tag = branch = ""
    for key, values in query.items():
        if len(values) > 1:
            raise BakecError(f'query "{key}" has multiple values')
        value: str | None = values[0]
        if value == "":
            if key not in _FLAGS:
                raise BakecError(f'query "{key}" has no value')
            value = None
        if key in ("ref", "subdir"):
            if out[key] and out[key] != value:
                raise BakecError(f'{key} conflicts: "{out[key]}" vs "{value}"')
            out[key] = value
        elif key == "tag":
            tag = value or ""
        elif key == "branch":
            branch = value or ""
        elif key in ("checksum", "commit"):
            out["checksum"] = value
        elif key in _FLAGS:
            flag = True if value is None else _parse_bool(value)
            if flag is None:
                raise BakecError(f'invalid {key} value: "{value}"')
            out[_FLAGS[key]] = flag
        elif key == "mtime":
            if value not in ("checkout", "commit"):
                raise BakecError(f'invalid mtime value: "{value}" (must be "checkout" or "commit")')
            out["mtime"] = value
        else:
            raise BakecError(f'unexpected query "{key}"')
    for name, prefix in (("tag", "refs/tags/"), ("branch", "refs/heads/")):
        value = tag if name == "tag" else branch
        if not value:
            continue
        if name == "branch" and tag:
            raise BakecError("branch conflicts with tag")
        value = value if value.startswith(prefix) else prefix + value
        if out["ref"] and out["ref"] != value:
            raise BakecError(f'ref conflicts: "{out["ref"]}" vs "{value}"')
        out["ref"] = value


def _parse_bool(value: str) -> bool | None:
    """Go's ``strconv.ParseBool``."""
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def is_git_url(value: str) -> bool:
    """True for the git references BuildKit recognises (``ParseGitRef`` says it is git)."""
    try:
        return parse_git_ref(value) is not None
    except BakecError:
        return True  # a git reference with a bad query: git, and an error when parsed


def is_add_git_source(src: str) -> bool:
    """Whether ``ADD src`` reads a git repository (dockerfile2llb: ``github.com/...`` is a local path there)."""
    try:
        ref = parse_git_ref(src)
    except BakecError:
        return True  # a git reference whose query is wrong: the git source reports it
    return ref is not None and not ref.indistinguishable_from_local


def is_http_source(src: str) -> bool:
    """dockerfile2llb's ``isHTTPSource``: an http(s) URL that is no git reference."""
    return src.startswith(("http://", "https://")) and not is_git_url(src)


def parse_git_url(value: str) -> GitRef:
    """The git reference bakec fetches for ``value`` (a context or ``ADD`` source).

    As :func:`parse_git_ref`, with ``github.com/x/y`` fetched over https and a ``#ref=..,subdir=..``
    fragment accepted; a subdir that climbs out of the repository is an error.
    """
    base, _, fragment = value.partition("#")
    keyed = "=" in fragment
    parsed = parse_git_ref(base if keyed else value)
    if parsed is None:
        raise BakecError(f"not a git URL: {redact(value)}")
    remote = "https://" + parsed.remote if parsed.indistinguishable_from_local else parsed.remote
    ref, subdir = parsed.ref, parsed.subdir
    if keyed:
        for item in fragment.split(","):
            key, _, val = item.partition("=")
            if key in ("ref", "branch", "tag"):
                ref = val
            elif key == "subdir":
                subdir = val
            else:
                raise BakecError(f"unexpected key {key!r} in git URL fragment of {redact(remote)}")
    elif fragment.partition(":")[2]:
        subdir = fragment.partition(":")[2]  # as written: a climbing subdir is refused below, not cleaned
    subdir = subdir.strip("/")
    if any(part == ".." for part in subdir.split("/")):
        raise BakecError(f"invalid subdir {subdir!r} in git URL {redact(remote)}")
    return GitRef(
        remote,
        ref,
        subdir,
        parsed.checksum,
        parsed.keep_git_dir,
        parsed.submodules,
        parsed.mtime,
        parsed.fetch_by_commit,
        parsed.short_name,
        parsed.indistinguishable_from_local,
        parsed.unencrypted_tcp,
    )


def is_remote_url(value: str) -> bool:
    """buildx ``IsRemoteURL``: an http(s) URL or a git reference."""
    return value.startswith(("http://", "https://")) or is_git_url(value)


def is_git_ssh(value: str) -> bool:
    """True when ``value`` is a git URL reached over ssh (``ssh://`` or scp-style)."""
    return value[:6].lower() == "ssh://" or is_implicit_ssh(value)


def redact(url: str) -> str:
    """``https://user:secret@host/x`` → ``https://user:xxxxx@host/x`` (as BuildKit's ``RedactCredentials``)."""
    return _CREDENTIALS.sub(r"\1\2:xxxxx@", url)


def redact_all(value: Any) -> Any:
    """``value`` (JSON-like: str, list, dict, scalars) with :func:`redact` applied to every string."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_all(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_all(v) for k, v in value.items()}
    return value


def redact_text(text: str, remote: str) -> str:
    """``text`` with the credentials of ``remote`` (if any) replaced, wherever git echoed them."""
    match = _CREDENTIALS.match(remote)
    if match and match.group(3):
        text = text.replace(match.group(3), "xxxxx")
    return text
