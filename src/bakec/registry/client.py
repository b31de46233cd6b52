"""The OCI distribution client: resolve images, fetch blobs, push blobs and manifests.

This module is the operations (what to ask for, what to verify); every request
goes through ``_session.Session``: scheme policy, auth, redirects, retries and
the mapping of registry answers to errors.
"""

from __future__ import annotations

import enum
import hashlib
import http.client
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from bakec.registry._http import BodyFactory, Response
from bakec.registry._session import (
    RETRY_STATUSES,
    Ctx,
    Session,
    Transient,
    drain,
    mismatch,
    parse_json,
    pull_scope,
    push_scope,
    too_large,
)
from bakec.registry.credentials import DockerConfig
from bakec.registry.errors import DigestMismatch, NoMatchingPlatform, RegistryError
from bakec.registry.reference import Reference, parse_normalized_named, parse_reference, validate_digest
from bakec.util.platform import Matcher, Platform, PlatformError, default_platform, only

__all__ = [
    "MEDIA_TYPE_DOCKER_MANIFEST",
    "MEDIA_TYPE_DOCKER_MANIFEST_LIST",
    "MEDIA_TYPE_OCI_INDEX",
    "MEDIA_TYPE_OCI_MANIFEST",
    "Manifest",
    "PushResult",
    "RegistryClient",
    "ResolvedImage",
]

MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_INDEX_TYPES = frozenset({MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
_MANIFEST_TYPES = frozenset({MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
_SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
# containerd's order; no */*, so an old registry cannot answer with schema 1.
_ACCEPT = (
    f"{MEDIA_TYPE_DOCKER_MANIFEST}, {MEDIA_TYPE_DOCKER_MANIFEST_LIST}, "
    f"{MEDIA_TYPE_OCI_MANIFEST}, {MEDIA_TYPE_OCI_INDEX}"
)

_MAX_MANIFEST = 4 << 20  # containerd's limit
_MAX_CONFIG = 64 << 20
_MAX_INDEX_DEPTH = 4
_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index exactly as the registry sent it, with its verified digest."""

    digest: str
    media_type: str
    data: bytes
    content: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in _INDEX_TYPES


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """One platform's image: its manifest and config, both digest-verified.

    ``index_digest`` is the digest of the index it was selected from ("" when the
    reference named a manifest directly); ``platform`` comes from the config.
    """

    reference: Reference
    manifest_digest: str
    media_type: str
    manifest: dict[str, Any] = field(repr=False)
    manifest_bytes: bytes = field(repr=False)
    config_digest: str
    config: dict[str, Any] = field(repr=False)
    config_bytes: bytes = field(repr=False)
    platform: Platform
    index_digest: str = ""

    @property
    def pinned(self) -> Reference:
        """The reference pinned to what it resolved to (the index when there was one), as BuildKit records it."""
        return self.reference.with_digest(self.index_digest or self.manifest_digest)

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The layer descriptors (``mediaType``, ``digest``, ``size``, …), base first."""
        return list(self.manifest.get("layers") or [])


class PushResult(enum.Enum):
    """What :meth:`RegistryClient.push_blob` had to do."""

    EXISTS = "exists"
    MOUNTED = "mounted"
    UPLOADED = "uploaded"


def _hasher(digest: str) -> Any:
    validate_digest(digest)
    return _HASHES[digest.partition(":")[0]]()


def _digest_of(data: bytes, like: str = "sha256:") -> str:
    algorithm = like.partition(":")[0] or "sha256"
    return f"{algorithm}:{_HASHES[algorithm](data).hexdigest()}"


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class RegistryClient:
    """A client for OCI distribution registries, shared safely between threads.

    ``insecure`` lists registry hosts (``host:port``) that may be reached over
    plain http or https without certificate checks; loopback registries always
    use plain http. ``docker_config`` defaults to docker's ``config.json``.
    ``chunk_size`` switches uploads larger than it to chunked PATCH uploads.
    """

    def __init__(
        self,
        *,
        docker_config: DockerConfig | None = None,
        insecure: Iterable[str] = (),
        max_attempts: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        timeout: float = 60.0,
        chunk_size: int | None = None,
        user_agent: str = "bakec/0.1",
    ) -> None:
        self._session = Session(
            docker_config=docker_config,
            insecure=insecure,
            max_attempts=max_attempts,
            backoff=backoff,
            max_backoff=max_backoff,
            timeout=timeout,
            user_agent=user_agent,
        )
        self.chunk_size = chunk_size

    # -- public API ------------------------------------------------------------------------

    def deadline(self, seconds: float, error: RegistryError) -> AbstractContextManager[None]:
        """A bound on everything done inside the ``with``: past ``seconds``, requests fail with ``error``.

        Each request keeps its own timeout too; near the deadline it gets only what is left.
        """
        return self._session.deadline(seconds, error)

    def resolve(self, ref: Reference | str, platform: Platform | str | None = None) -> ResolvedImage:
        """Resolve a reference to one image for ``platform`` (default: this host's).

        An index is searched with containerd's matcher (``linux/arm64`` also takes
        ``arm64/v8``); a reference that names a single manifest is returned as is,
        whatever its platform (as containerd does), so check ``.platform``.
        """
        ref = parse_reference(ref)
        try:
            wanted = (
                Platform.parse(platform) if isinstance(platform, str) else (platform or default_platform())
            )
        except PlatformError as exc:
            raise RegistryError(exc.summary, exc.detail) from None
        ctx = Ctx(f"resolving {ref}", ref.domain, ref.path)
        top = self.fetch_manifest(ref)
        config: tuple[str, bytes] | None = None
        index_digest = ""
        manifest = top
        if top.is_index:
            index_digest = top.digest
            manifest, config = self._select(ref, top, only(wanted), ctx, depth=1)
        elif top.media_type not in _MANIFEST_TYPES:
            raise RegistryError(
                f"{ctx.action}: unsupported manifest media type {top.media_type!r}",
                f"registry {ref.domain}, repository {ref.path}",
                registry=ref.domain,
                repository=ref.path,
            )
        if config is None:
            config = self._read_config(ref, manifest, ctx)
        config_digest, config_bytes = config
        config_content = parse_json(config_bytes, f"config {config_digest}", ctx)
        return ResolvedImage(
            reference=ref,
            manifest_digest=manifest.digest,
            media_type=manifest.media_type,
            manifest=manifest.content,
            manifest_bytes=manifest.data,
            config_digest=config_digest,
            config=config_content,
            config_bytes=config_bytes,
            platform=Platform.from_json(config_content),
            index_digest=index_digest,
        )

    def fetch_manifest(self, ref: Reference | str) -> Manifest:
        """GET a manifest or index by tag or digest; its digest is verified."""
        ref = parse_reference(ref)
        ctx = Ctx(f"resolving {ref}", ref.domain, ref.path)
        return self._get_manifest(ref, ref.object, ctx, size=None)

    def manifest_digest(self, ref: Reference | str) -> str | None:
        """The digest a tag points at (HEAD), or None when the tag or repository is unknown."""
        ref = parse_reference(ref)
        ctx = Ctx(f"checking {ref}", ref.domain, ref.path)
        resp = self._session.request(
            "HEAD",
            ref,
            f"/v2/{ref.path}/manifests/{ref.object}",
            ctx,
            scopes=[pull_scope(ref.path)],
            headers={"Accept": _ACCEPT},
        )
        with resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                self._session.fail(resp, ctx)
            digest = resp.header("Docker-Content-Digest")
        if digest:
            return digest
        return self.fetch_manifest(ref).digest

    def fetch_blob(
        self, repo: Reference | str, digest: str, dest: Path | str | IO[bytes], *, size: int | None = None
    ) -> int:
        """Stream a blob into ``dest`` (a path, written atomically, or a binary writer).

        The content is hashed as it arrives; a digest or size mismatch raises
        :class:`DigestMismatch` and a path destination is left untouched. A
        connection lost mid-stream resumes with a Range request when the registry
        allows it. Returns the number of bytes written.
        """
        repository = self._repository(repo)
        ctx = Ctx(f"fetching blob {digest} from {repository.name}", repository.domain, repository.path)
        _hasher(digest)
        if isinstance(dest, (str, os.PathLike)):
            path = Path(dest)
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
            except OSError as e:
                raise RegistryError(f"{ctx.action}: cannot write {path}", str(e)) from None
            try:
                with os.fdopen(fd, "wb") as out:
                    written = self._download(repository, digest, out, size, ctx)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            return written
        return self._download(repository, digest, dest, size, ctx)

    def read_blob(self, repo: Reference | str, digest: str, *, limit: int = _MAX_CONFIG) -> bytes:
        """A small blob (a config, say) in memory, digest-verified."""
        repository = self._repository(repo)
        ctx = Ctx(f"fetching blob {digest} from {repository.name}", repository.domain, repository.path)
        return self._read_small_blob(repository, digest, None, limit, ctx)

    def blob_exists(self, repo: Reference | str, digest: str) -> bool:
        """HEAD the blob: True if the repository already has it."""
        repository = self._repository(repo)
        validate_digest(digest)
        ctx = Ctx(f"checking blob {digest} in {repository.name}", repository.domain, repository.path)
        return self._blob_exists(repository, digest, ctx)

    def _blob_exists(self, repository: Reference, digest: str, ctx: Ctx) -> bool:
        # While pushing, ask for the push scope from the start, as docker does: a
        # registry may refuse a pull-only token for a repository that does not exist yet.
        scope = push_scope(repository.path) if ctx.push else pull_scope(repository.path)
        resp = self._session.request(
            "HEAD", repository, f"/v2/{repository.path}/blobs/{digest}", ctx, scopes=[scope]
        )
        with resp:
            if resp.status == 200:
                return True
            if resp.status == 404:
                return False
            self._session.fail(resp, ctx)

    def mount_blob(self, repo: Reference | str, digest: str, from_repo: Reference | str) -> bool:
        """Cross-repository mount within one registry; False when the registry declined."""
        repository = self._repository(repo)
        source = self._repository(from_repo)
        ctx = Ctx(
            f"mounting blob {digest} into {repository.name}", repository.domain, repository.path, push=True
        )
        location = self._start_upload(repository, ctx, digest=digest, mount_from=source)
        if location is None:
            return True
        self._cancel_upload(repository, location, ctx)
        return False

    def push_blob(
        self,
        repo: Reference | str,
        digest: str,
        source: bytes | Path | str,
        *,
        mount_from: Iterable[Reference | str] = (),
    ) -> PushResult:
        """Make the repository have a blob: skip it if present, else mount it, else upload it.

        ``source`` is the content (bytes, or a file path read as many times as
        retries need). Mounts are tried from each of ``mount_from`` that lives on
        the same registry, in order. The upload is monolithic, or chunked (PATCH) above
        ``chunk_size``; a failed upload restarts from a new session.
        """
        repository = self._repository(repo)
        validate_digest(digest)
        ctx = Ctx(
            f"pushing blob {digest} to {repository.name}", repository.domain, repository.path, push=True
        )
        if self._blob_exists(repository, digest, ctx):
            return PushResult.EXISTS
        # As docker: each declined mount opens an upload session; the last one
        # carries the upload, the earlier ones are cancelled.
        location: str | None = None
        for candidate in mount_from:
            origin = self._repository(candidate)
            if origin.domain != repository.domain or origin.path == repository.path:
                continue
            opened = self._start_upload(repository, ctx, digest=digest, mount_from=origin)
            if location is not None:
                self._cancel_upload(repository, location, ctx)
            if opened is None:
                return PushResult.MOUNTED
            location = opened
        self._upload(repository, digest, source, ctx, location)
        return PushResult.UPLOADED

    def push_manifest(
        self, repo: Reference | str, manifest: bytes, media_type: str, *, tag: str | None = None
    ) -> str:
        """PUT a manifest or index by ``tag`` (or by its digest when no tag); returns its digest."""
        repository = self._repository(repo)
        digest = _digest_of(manifest)
        target = tag if tag is not None else digest
        if tag is not None:
            repository.with_tag(tag)  # validates the tag
        named = f"{repository.name}:{tag}" if tag is not None else f"{repository.name}@{digest}"
        ctx = Ctx(f"pushing manifest {named}", repository.domain, repository.path, push=True)
        resp = self._session.request(
            "PUT",
            repository,
            f"/v2/{repository.path}/manifests/{target}",
            ctx,
            scopes=[push_scope(repository.path)],
            headers={"Content-Type": media_type, "Content-Length": str(len(manifest))},
            body=lambda: manifest,
        )
        with resp:
            if resp.status not in (200, 201):
                self._session.fail(resp, ctx)
            announced = resp.header("Docker-Content-Digest")
            drain(resp)
        if announced and announced.partition(":")[0] == "sha256" and announced != digest:
            raise DigestMismatch(
                f"{ctx.action}: the registry stored it as {announced}, expected {digest}",
                f"registry {repository.domain}, repository {repository.path}",
                registry=repository.domain,
                repository=repository.path,
            )
        return digest

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repository(self, repo: Reference | str) -> Reference:
        ref = repo if isinstance(repo, Reference) else parse_normalized_named(repo)
        return ref.repository()

    # -- resolution --------------------------------------------------------------------------

    def _select(
        self, ref: Reference, index: Manifest, matcher: Matcher, ctx: Ctx, depth: int
    ) -> tuple[Manifest, tuple[str, bytes] | None]:
        """containerd's ``images.Manifest`` over an index: best match first, platform-less entries last."""
        children = index.content.get("manifests") or []
        ranked: list[tuple[int, int, dict[str, Any]]] = []
        for i, desc in enumerate(children):
            if (
                not isinstance(desc, dict)
                or not isinstance(desc.get("digest"), str)
                or ":" not in desc["digest"]
            ):
                raise RegistryError(
                    f"{ctx.action}: entry {i} of index {index.digest} is not a valid descriptor",
                    registry=ctx.registry,
                    repository=ctx.repository,
                )
            platform = desc.get("platform")
            if not isinstance(platform, dict):
                ranked.append((1 << 30, i, desc))  # containerd: entries without a platform come last
                continue
            rank = matcher.rank(Platform.from_json(platform))
            if rank is not None:
                ranked.append((rank, i, desc))
        ranked.sort(key=lambda item: item[:2])
        for _, _, desc in ranked:
            size = desc.get("size") if isinstance(desc.get("size"), int) else None
            child = self._get_manifest(ref, desc["digest"], ctx, size=size)
            if child.is_index:
                if depth >= _MAX_INDEX_DEPTH:
                    raise RegistryError(f"{ctx.action}: indexes nested deeper than {_MAX_INDEX_DEPTH} levels")
                try:
                    return self._select(ref, child, matcher, ctx, depth + 1)
                except NoMatchingPlatform:
                    continue
            if child.media_type not in _MANIFEST_TYPES:
                continue
            if not isinstance(desc.get("platform"), dict):
                config = self._read_config(ref, child, ctx)
                if not matcher.match(Platform.from_json(parse_json(config[1], "config", ctx))):
                    continue
                return child, config
            return child, None
        available = sorted(
            {str(Platform.from_json(d["platform"])) for d in children if isinstance(d.get("platform"), dict)}
        )
        raise NoMatchingPlatform(
            f"{ctx.action}: no match for platform {matcher} in manifest {index.digest}",
            f"available: {', '.join(available) or 'none'}",
            registry=ref.domain,
            repository=ref.path,
        )

    def _get_manifest(self, ref: Reference, obj: str, ctx: Ctx, size: int | None) -> Manifest:
        by_digest = ":" in obj
        if by_digest:
            validate_digest(obj)
        resp = self._session.request(
            "GET",
            ref,
            f"/v2/{ref.path}/manifests/{obj}",
            ctx,
            scopes=[pull_scope(ref.path)],
            headers={"Accept": _ACCEPT},
            preload=_MAX_MANIFEST + 1,
        )
        with resp:
            if resp.status != 200:
                self._session.fail(resp, ctx)
            length = resp.header("Content-Length")
            if length.isdigit() and int(length) > _MAX_MANIFEST:
                too_large(ctx, "manifest", int(length), _MAX_MANIFEST)
            data = resp.read(_MAX_MANIFEST + 1)
            header_type = resp.header("Content-Type").partition(";")[0].strip()
            announced = resp.header("Docker-Content-Digest")
        if len(data) > _MAX_MANIFEST:
            too_large(ctx, "manifest", len(data), _MAX_MANIFEST)
        if announced.partition(":")[0] not in _HASHES:
            announced = ""
        expected = obj if by_digest else announced
        digest = _digest_of(data, expected or "sha256:")
        if expected and digest != expected:
            mismatch(ctx, f"manifest {obj}", expected, digest, len(data))
        if size is not None and len(data) != size:
            raise DigestMismatch(
                f"{ctx.action}: manifest {obj} is {len(data)} bytes, its descriptor says {size}",
                registry=ctx.registry,
                repository=ctx.repository,
            )
        content = parse_json(data, f"manifest {obj}", ctx)
        media_type = str(content.get("mediaType") or "") or header_type
        if content.get("schemaVersion") == 1 or media_type in _SCHEMA1_TYPES:
            raise RegistryError(
                f"{ctx.action}: {ref.name} is a schema 1 image, which is not supported",
                "push it again with a current client (docker removed schema 1 support too)",
                registry=ctx.registry,
                repository=ctx.repository,
            )
        if media_type not in _INDEX_TYPES | _MANIFEST_TYPES:
            if isinstance(content.get("manifests"), list):
                media_type = MEDIA_TYPE_OCI_INDEX
            elif "config" in content and "layers" in content:
                media_type = MEDIA_TYPE_OCI_MANIFEST
        return Manifest(digest, media_type, data, content)

    def _read_config(self, ref: Reference, manifest: Manifest, ctx: Ctx) -> tuple[str, bytes]:
        desc = manifest.content.get("config")
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            raise RegistryError(f"{ctx.action}: manifest {manifest.digest} has no config descriptor")
        digest = desc["digest"]
        size = desc.get("size") if isinstance(desc.get("size"), int) else None
        return digest, self._read_small_blob(ref.repository(), digest, size, _MAX_CONFIG, ctx)

    def _read_small_blob(self, repo: Reference, digest: str, size: int | None, limit: int, ctx: Ctx) -> bytes:
        hasher = _hasher(digest)
        resp = self._session.request(
            "GET",
            repo,
            f"/v2/{repo.path}/blobs/{digest}",
            ctx,
            scopes=[pull_scope(repo.path)],
            preload=limit + 1,
        )
        with resp:
            if resp.status != 200:
                self._session.fail(resp, ctx)
            data = resp.read(limit + 1)
        if len(data) > limit:
            too_large(ctx, f"blob {digest}", len(data), limit)
        hasher.update(data)
        got = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        if got != digest:
            mismatch(ctx, f"blob {digest}", digest, got, len(data))
        if size is not None and len(data) != size:
            raise DigestMismatch(
                f"{ctx.action}: blob {digest} is {len(data)} bytes, its descriptor says {size}",
                registry=ctx.registry,
                repository=ctx.repository,
            )
        return data

    def _download(self, repo: Reference, digest: str, out: IO[bytes], size: int | None, ctx: Ctx) -> int:
        hasher = _hasher(digest)
        start = out.tell() if out.seekable() else 0
        received = 0
        resumable = False
        failures = 0
        while True:
            headers = {"Range": f"bytes={received}-"} if received and resumable else {}
            resp = self._session.request(
                "GET",
                repo,
                f"/v2/{repo.path}/blobs/{digest}",
                ctx,
                scopes=[pull_scope(repo.path)],
                headers=headers,
            )
            with resp:
                if resp.status == 206 and headers and _range_start(resp.header("Content-Range")) == received:
                    pass  # continues where the lost connection stopped
                elif resp.status == 200:
                    if received:
                        if not out.seekable():
                            raise RegistryError(
                                f"{ctx.action}: the connection was lost after {received} bytes and the "
                                "destination cannot be rewound",
                                registry=ctx.registry,
                                repository=ctx.repository,
                            )
                        out.seek(start)
                        out.truncate()
                        hasher, received = _hasher(digest), 0
                    resumable = resp.header("Accept-Ranges").lower() == "bytes"
                else:
                    self._session.fail(resp, ctx)
                chunks = resp.iter_bytes()
                while True:
                    try:
                        chunk = next(chunks, b"")
                    except (OSError, http.client.HTTPException) as e:
                        lost: Exception | None = e
                        break
                    if not chunk:
                        lost = None
                        break
                    hasher.update(chunk)
                    try:
                        out.write(chunk)
                    except OSError as e:
                        raise RegistryError(
                            f"{ctx.action}: cannot write the blob",
                            str(e),
                            registry=ctx.registry,
                            repository=ctx.repository,
                        ) from None
                    received += len(chunk)
                    if size is not None and received > size:
                        lost = None
                        break
            if lost is None:
                break
            failures += 1
            if failures >= self._session.max_attempts:
                raise RegistryError(
                    f"{ctx.action}: the connection failed after {received} bytes",
                    f"{lost} ({failures} attempts)",
                    registry=ctx.registry,
                    repository=ctx.repository,
                )
            time.sleep(self._session.delay(failures - 1, ""))
        got = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        if size is not None and received != size:
            raise DigestMismatch(
                f"{ctx.action}: got {received}{'+' if received > size else ''} bytes, expected {size}",
                f"registry {ctx.registry}, repository {ctx.repository}",
                registry=ctx.registry,
                repository=ctx.repository,
            )
        if got != digest:
            mismatch(ctx, f"blob {digest}", digest, got, received)
        return received

    # -- pushing -----------------------------------------------------------------------------

    def _start_upload(
        self, repo: Reference, ctx: Ctx, *, digest: str = "", mount_from: Reference | None = None
    ) -> str | None:
        """POST an upload session; None when a mount succeeded instead (201), else the Location."""
        path = f"/v2/{repo.path}/blobs/uploads/"
        scopes = [push_scope(repo.path)]
        if mount_from is not None:
            path += "?" + urlencode({"mount": digest, "from": mount_from.path}, safe=":/")
            scopes.append(pull_scope(mount_from.path))
        resp = self._session.request("POST", repo, path, ctx, scopes=scopes, headers={"Content-Length": "0"})
        with resp:
            if mount_from is not None and resp.status == 201:
                drain(resp)
                return None
            if resp.status != 202:
                self._session.fail(resp, ctx)
            location = resp.header("Location")
            drain(resp)
        if not location:
            raise RegistryError(f"{ctx.action}: the registry opened an upload without a Location")
        return urljoin(self._session.base_url(repo.domain) + path, location)

    def _open_upload(self, repo: Reference, ctx: Ctx) -> str:
        location = self._start_upload(repo, ctx)
        assert location is not None  # only a mount answers without a session
        return location

    def _cancel_upload(self, repo: Reference, location: str, ctx: Ctx) -> None:
        try:
            resp = self._session.request(
                "DELETE", repo, "", ctx, scopes=[push_scope(repo.path)], url=location, attempts=1
            )
            drain(resp)
        except RegistryError:
            pass  # an abandoned session only costs the registry some bookkeeping

    def _upload(
        self, repo: Reference, digest: str, source: bytes | Path | str, ctx: Ctx, location: str | None
    ) -> None:
        if isinstance(source, bytes):
            size = len(source)
        else:
            try:
                size = Path(source).stat().st_size
            except OSError as e:
                raise RegistryError(f"{ctx.action}: cannot read {source}", str(e)) from None
        chunked = self.chunk_size is not None and size > self.chunk_size
        failures = 0
        while True:
            try:
                if location is None:
                    location = self._open_upload(repo, ctx)
                if chunked:
                    assert self.chunk_size is not None
                    offset = 0
                    while offset < size:
                        length = min(self.chunk_size, size - offset)
                        location = self._send_part(repo, location, source, offset, length, ctx)
                        offset += length
                    self._finish_upload(repo, location, digest, source, 0, 0, ctx)
                else:
                    self._finish_upload(repo, location, digest, source, 0, size, ctx)
                return
            except Transient as e:
                location = None
                failures += 1
                if failures >= self._session.max_attempts:
                    raise RegistryError(
                        f"{ctx.action}: upload failed",
                        f"{e} ({failures} attempts)",
                        registry=ctx.registry,
                        repository=ctx.repository,
                    ) from None
                time.sleep(self._session.delay(failures - 1, e.retry_after))

    def _body(self, source: bytes | Path | str, offset: int, length: int) -> BodyFactory:
        if isinstance(source, bytes):
            part = source[offset : offset + length] if (offset or length != len(source)) else source
            return lambda: part

        def open_part() -> _Limited:
            f = open(source, "rb")  # noqa: SIM115 - http.client reads and the pool outlives this frame
            f.seek(offset)
            return _Limited(f, length)

        return open_part

    def _send_part(
        self, repo: Reference, location: str, source: bytes | Path | str, offset: int, length: int, ctx: Ctx
    ) -> str:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(length),
            "Content-Range": f"{offset}-{offset + length - 1}",
        }
        resp = self._upload_request("PATCH", repo, location, headers, self._body(source, offset, length), ctx)
        with resp:
            if resp.status != 202:
                self._session.fail(resp, ctx)
            next_location = resp.header("Location")
            drain(resp)
        return urljoin(location, next_location) if next_location else location

    def _finish_upload(
        self,
        repo: Reference,
        location: str,
        digest: str,
        source: bytes | Path | str,
        offset: int,
        length: int,
        ctx: Ctx,
    ) -> None:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        body = self._body(source, offset, length) if length else None
        resp = self._upload_request(
            "PUT", repo, _with_query(location, {"digest": digest}), headers, body, ctx
        )
        with resp:
            if resp.status not in (201, 204):
                self._session.fail(resp, ctx)
            announced = resp.header("Docker-Content-Digest")
            drain(resp)
        if announced and announced != digest:
            mismatch(ctx, "uploaded blob", digest, announced, length)

    def _upload_request(
        self,
        method: str,
        repo: Reference,
        url: str,
        headers: dict[str, str],
        body: BodyFactory | None,
        ctx: Ctx,
    ) -> Response:
        """One attempt; a transient failure surfaces as Transient so the whole upload restarts."""
        resp = self._session.request(
            method,
            repo,
            "",
            ctx,
            scopes=[push_scope(repo.path)],
            headers=headers,
            body=body,
            url=url,
            attempts=1,
            transient_errors=True,
        )
        if resp.status in RETRY_STATUSES:
            retry_after = resp.header("Retry-After")
            resp.close()
            raise Transient(f"{resp.status} {resp.reason}", retry_after)
        return resp


def _range_start(content_range: str) -> int | None:
    """The first byte of ``Content-Range: bytes START-END/TOTAL``."""
    unit, _, spec = content_range.strip().partition(" ")
    first = spec.partition("-")[0]
    return int(first) if unit == "bytes" and first.isdigit() else None


class _Limited:
    """``length`` bytes of a file from its current position, for a request body; closes the file at EOF."""

    def __init__(self, f: IO[bytes], length: int) -> None:
        self._f = f
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            self._f.close()
            return b""
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        if not data:
            self._f.close()
        return data
