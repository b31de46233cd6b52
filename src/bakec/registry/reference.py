"""Image references, parsed and normalised exactly as docker does.

A port of ``github.com/distribution/reference`` (``ParseNormalizedNamed``,
``TagNameOnly``, ``FamiliarString``) and of go-digest's validation, with the
same grammar and the same error messages, so ``busybox`` becomes
``docker.io/library/busybox:latest`` and ``localhost:5000/a/b@sha256:…`` keeps
its registry host and port.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bakec.registry.errors import InvalidReference

__all__ = [
    "DEFAULT_DOMAIN",
    "Reference",
    "parse_normalized_named",
    "parse_reference",
    "validate_digest",
]

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DEFAULT_DOMAIN = "index.docker.io"
_OFFICIAL_REPO_PREFIX = "library/"
_DEFAULT_TAG = "latest"
_NAME_TOTAL_LENGTH_MAX = 255

# The grammar of distribution/reference's regexp.go. Go's \w is ASCII-only.
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_OPTIONAL_PORT = r"(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_NAME_COMPONENT}(?:\.{_DOMAIN_NAME_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN_AND_PORT = _HOST + _OPTIONAL_PORT
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

_REFERENCE_RE = re.compile(rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$", re.ASCII)
_ANCHORED_NAME_RE = re.compile(rf"^(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})$", re.ASCII)
_ANCHORED_TAG_RE = re.compile(rf"^{_TAG}$", re.ASCII)
_IDENTIFIER_RE = re.compile(r"^[a-f0-9]{64}$")

# go-digest: the algorithms docker links in, with their hex lengths.
_DIGEST_ANCHORED_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_ENCODED_RE = re.compile(r"^[a-f0-9]+$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        """The repository with its registry: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def object(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or _DEFAULT_TAG

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def familiar(self) -> str:
        """``reference.FamiliarString``: without ``docker.io/`` and ``library/``."""
        name = self.name
        if self.domain == DEFAULT_DOMAIN:
            name = self.path
            rest = name.removeprefix(_OFFICIAL_REPO_PREFIX)
            if rest != name and "/" not in rest:
                name = rest
        if self.tag:
            name += ":" + self.tag
        if self.digest:
            name += "@" + self.digest
        return name

    def repository(self) -> Reference:
        """The reference without tag and digest (``reference.TrimNamed``)."""
        return Reference(self.domain, self.path)

    def with_tag(self, tag: str) -> Reference:
        if not _ANCHORED_TAG_RE.match(tag):
            raise InvalidReference("invalid tag format", reference=f"{self.name}:{tag}")
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        validate_digest(digest)
        return replace(self, digest=digest)


def validate_digest(digest: str) -> None:
    """go-digest's ``Digest.Validate`` for the algorithms docker supports."""
    algorithm, sep, encoded = digest.partition(":")
    if not algorithm or not sep or not encoded:
        raise InvalidReference("invalid checksum digest format", reference=digest)
    if algorithm not in _ALGORITHMS:
        if not _DIGEST_ANCHORED_RE.match(digest):
            raise InvalidReference("invalid checksum digest format", reference=digest)
        raise InvalidReference("unsupported digest algorithm", reference=digest)
    if len(encoded) != _ALGORITHMS[algorithm]:
        raise InvalidReference("invalid checksum digest length", reference=digest)
    if not _ENCODED_RE.match(encoded):
        raise InvalidReference("invalid checksum digest format", reference=digest)


def _split_docker_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, _OFFICIAL_REPO_PREFIX + name
    if first == "localhost" or "." in first or ":" in first or first.lower() != first:
        domain, remote = first, rest
        if domain == _LEGACY_DEFAULT_DOMAIN:
            domain = DEFAULT_DOMAIN
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = _OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse(text: str, original: str) -> Reference:
    """``reference.Parse`` of an already domain-qualified string."""
    match = _REFERENCE_RE.match(text)
    if match is None:
        if not text:
            raise InvalidReference("repository name must have at least one component", reference=original)
        if _REFERENCE_RE.match(text.lower()):
            raise InvalidReference("repository name must be lowercase", reference=original)
        raise InvalidReference("invalid reference format", reference=original)
    name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    name_match = _ANCHORED_NAME_RE.match(name)
    assert name_match is not None  # the reference pattern contains the name pattern
    domain, path = name_match.group(1) or "", name_match.group(2)
    if len(path) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"repository name must not be more than {_NAME_TOTAL_LENGTH_MAX} characters", reference=original
        )
    if digest:
        validate_digest(digest)
    return Reference(domain, path, tag, digest)


def parse_normalized_named(text: str) -> Reference:
    """``reference.ParseNormalizedNamed``: fill in the registry, keep tag and digest as given."""
    if _IDENTIFIER_RE.match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings", reference=text
        )
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase", reference=text
        )
    return _parse(f"{domain}/{remainder}", text)


def parse_reference(text: str | Reference) -> Reference:
    """Normalise as docker does for a pull: ``busybox`` → ``docker.io/library/busybox:latest``.

    ``ParseNormalizedNamed`` then ``TagNameOnly``. A reference with both a tag and a
    digest keeps both; the digest is what gets resolved.
    """
    if isinstance(text, Reference):
        return text
    ref = parse_normalized_named(text)
    if not ref.tag and not ref.digest:
        ref = replace(ref, tag=_DEFAULT_TAG)
    return ref
