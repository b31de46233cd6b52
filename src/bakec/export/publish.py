"""Publishing the images a run pushes: every blob of every image first, then every manifest and tag.

Exporters do not push. They hand each image to a :class:`Publisher` (``add``), and
the builder calls :meth:`Publisher.publish` once, after every target of the run has
built and exported. Publishing then goes in two phases:

1. **Blobs.** Every layer and config of every pushed image is made present in every
   repository it is pushed to: skipped when the registry already has it (HEAD),
   mounted from another repository of the same registry when bakec knows one that
   holds it (a base image it was pulled from, an earlier push of this run or of an
   earlier run), uploaded otherwise. Uploads run a few at a time.
2. **Manifests and tags.** Only when phase 1 finished for every image: the
   platform manifests of multi-platform images by digest, then each image's root
   (manifest, or index / manifest list) under each of its tags.

So a run that fails anywhere before phase 2 leaves no new manifest or tag behind:
blobs without a manifest are invisible to users (and garbage to the registry). The
limit: registries have no transactions, so a failure *during* phase 2 (a refused
manifest, a lost connection after retries) can leave some tags moved and others not.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakec.content.store import ContentStore
from bakec.errors import BuildError, UsageError
from bakec.export.image import Committed, attr_bool
from bakec.progress.reporter import Progress
from bakec.registry import PushResult, RegistryClient
from bakec.registry.errors import InvalidReference, RegistryError
from bakec.registry.reference import Reference, parse_normalized_named
from bakec.util.golang import parse_duration

__all__ = ["BlobSources", "Publisher", "PushedImage", "attr_flag", "image_names", "push_timeout"]

_UPLOAD_JOBS = 4
_SOURCES_FILE = "blob-sources.json"
_MAX_SOURCES = 20000  # digests remembered; the oldest are forgotten first
_REPOS_PER_BLOB = 4

_DONE = {PushResult.EXISTS: "already there", PushResult.MOUNTED: "mounted", PushResult.UPLOADED: "uploaded"}


def image_names(attrs: Mapping[str, str], tags: Sequence[str] | None) -> tuple[str, ...]:
    """The names an ``image``/``registry`` output gets: the target's tags when it has any, else ``name=``.

    As buildx does (``build.toSolveOpt``): tags replace the exporter's ``name``.
    """
    if tags:
        return tuple(t for t in tags if t)
    return tuple(n.strip() for n in attrs.get("name", "").split(",") if n.strip())


def attr_flag(attrs: Mapping[str, str], key: str, default: bool) -> bool:
    """A boolean exporter attribute (``push``, ``store``, ``push-by-digest``); bare ``key`` means true."""
    value = attrs.get(key)
    return default if value is None else attr_bool(key, value)


@dataclass(frozen=True)
class PushedImage:
    """One image to publish: the target it came from, its references and what was committed."""

    target: str
    references: tuple[Reference, ...]
    committed: Committed
    by_digest: bool = False  # push-by-digest=true: manifests only, no tag

    def blobs(self) -> list[tuple[str, int]]:
        """(digest, size) of every layer and config, deduplicated."""
        seen: dict[str, int] = {}
        for _mdesc, _image, layers, cdesc in self.committed.manifests:
            for layer in layers:
                seen.setdefault(layer.digest, layer.size)
            seen.setdefault(cdesc.digest, cdesc.size)
        return list(seen.items())

    def repositories(self) -> list[Reference]:
        """The repositories of ``references``, each once (several tags may share one)."""
        unique: dict[str, Reference] = {}
        for ref in self.references:
            unique.setdefault(ref.name, ref.repository())
        return list(unique.values())


class BlobSources:
    """Which repositories are known to hold a blob (``digest → ["host/repo", ...]``), kept across runs.

    Like containerd's ``distribution.source`` labels: it only serves to try a
    cross-repository mount before uploading, so a stale entry costs one declined mount.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._repos: dict[str, list[str]] = {}
        if path is not None:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = {}
            if isinstance(data, dict):
                self._repos = {
                    k: [r for r in v if isinstance(r, str)] for k, v in data.items() if isinstance(v, list)
                }

    def get(self, digest: str) -> list[str]:
        """The repositories known to hold ``digest``, most recent first."""
        return list(self._repos.get(digest, ()))

    def add(self, digest: str, repository: str) -> None:
        """Note that ``repository`` holds ``digest`` (kept for at most a few repositories per blob)."""
        repos = [r for r in self._repos.pop(digest, []) if r != repository]
        # most recent first, and moved to the end of the dict (what save() keeps longest)
        self._repos[digest] = [repository, *repos][:_REPOS_PER_BLOB]

    def add_image(self, repository: str, digests: Iterable[str]) -> None:
        """Note that ``repository`` holds every blob of ``digests``."""
        for digest in digests:
            self.add(digest, repository)

    def save(self) -> None:
        """Write the record atomically (the newest entries win when it is too long)."""
        if self.path is None:
            return
        items = list(self._repos.items())[-_MAX_SOURCES:]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(dict(items), out, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)


PUSH_TIMEOUT_ENV = "BAKEC_PUSH_TIMEOUT"
DEFAULT_PUSH_TIMEOUT = 600.0


def push_timeout(env: Mapping[str, str]) -> float:
    """Seconds a publish may take: ``BAKEC_PUSH_TIMEOUT`` (seconds, or a Go duration), default 600."""
    text = env.get(PUSH_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_PUSH_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text) / 1e9
        except ValueError as err:
            raise UsageError(f"invalid {PUSH_TIMEOUT_ENV} {text!r}: {err}") from None
    if not seconds > 0:
        raise UsageError(f"invalid {PUSH_TIMEOUT_ENV} {text!r}: must be more than 0")
    return seconds


class Publisher:
    """Collects the images a run pushes and publishes them all at once (see the module docstring)."""

    def __init__(
        self,
        registry: RegistryClient,
        store: ContentStore,
        *,
        sources: BlobSources | None = None,
        progress: Progress | None = None,
        jobs: int = _UPLOAD_JOBS,
        timeout: float = DEFAULT_PUSH_TIMEOUT,
    ) -> None:
        self.registry = registry
        self.timeout = timeout  # the whole publish, every request and retry
        self.store = store
        self.sources = sources or BlobSources()
        self.images: list[PushedImage] = []
        self.insecure: set[str] = set()  # registry hosts marked registry.insecure=true
        self.uploaded: list[tuple[str, str, PushResult]] = []  # (repository, digest, what was done)
        self._progress = progress or Progress(lambda event: None)
        self._current = 0  # the vertex of the step running now, for its log lines
        self._jobs = max(1, jobs)

    @classmethod
    def for_state_dir(
        cls, registry: RegistryClient, store: ContentStore, state_dir: Path, **kw: Any
    ) -> Publisher:
        """A publisher whose mount sources persist in ``state_dir``."""
        return cls(registry, store, sources=BlobSources(Path(state_dir) / _SOURCES_FILE), **kw)

    def add(
        self, target: str, names: Sequence[str], committed: Committed, attrs: Mapping[str, str] | None = None
    ) -> PushedImage:
        """Queue an image for publishing under ``names``; nothing is sent yet.

        ``attrs`` are the output's attributes: ``push-by-digest=true`` puts the
        manifests without a tag, ``registry.insecure=true`` allows plain http or an
        unverified certificate for the registries of ``names``.
        """
        attrs = attrs or {}
        if not names:
            raise BuildError("tag is needed when pushing to registry")
        refs = []
        for name in names:
            try:
                ref = parse_normalized_named(name)
            except InvalidReference as err:
                raise BuildError(f"target {target}: {err.summary}") from None
            if ref.digest:
                raise BuildError(
                    f"target {target}: cannot push to {name}: a pushed name takes a tag, not a digest"
                )
            refs.append(ref)
        image = PushedImage(target, tuple(refs), committed, attr_flag(attrs, "push-by-digest", False))
        if attr_flag(attrs, "registry.insecure", False):
            self.insecure.update(ref.domain for ref in refs)
        self.images.append(image)
        return image

    @property
    def pending(self) -> bool:
        """Whether an image waits to be published."""
        return bool(self.images)

    def known_images(self, images: Iterable[tuple[str, Iterable[str]]]) -> None:
        """Record where the run's base images came from: (reference, layer digests) pairs."""
        for ref, digests in images:
            try:
                repository = parse_normalized_named(ref).name
            except InvalidReference:
                continue
            self.sources.add_image(repository, digests)

    def publish(self) -> None:
        """Phase 1 (every blob of every image), then phase 2 (manifests, then tags), within ``timeout``."""
        if not self.images:
            return
        shared = self.registry
        if self.insecure:
            self.registry = RegistryClient(insecure=sorted(self.insecure))
        hosts = ", ".join(sorted({ref.domain for image in self.images for ref in image.references}))
        late = RegistryError(
            f"failed to push to {hosts}: deadline exceeded after {self.timeout:g}s",
            f"{PUSH_TIMEOUT_ENV} sets it (seconds or a duration such as 20m)",
        )
        try:
            with self.registry.deadline(self.timeout, late):
                try:
                    self._step("pushing layers", self._push_blobs)
                finally:
                    self.sources.save()
                self._step("pushing manifests and tags", self._put_manifests)
        finally:
            if self.registry is not shared:
                self.registry.close()
                self.registry = shared

    # -- phases ---------------------------------------------------------------------------------

    def _push_blobs(self) -> None:
        # One job per (registry, digest): its first repository uploads (or mounts from a
        # known source), the others then mount from that one.
        groups: dict[tuple[str, str], tuple[int, list[Reference]]] = {}
        for image in self.images:
            blobs = image.blobs()
            for repo in image.repositories():
                for digest, size in blobs:
                    _, repos = groups.setdefault((repo.domain, digest), (size, []))
                    if all(r.name != repo.name for r in repos):
                        repos.append(repo)
        jobs = sorted(groups.items(), key=lambda item: -item[1][0])  # largest first
        with ThreadPoolExecutor(max_workers=self._jobs, thread_name_prefix="bakec-push") as pool:
            futures = [pool.submit(self._push_one_blob, digest, repos) for (_, digest), (_, repos) in jobs]
            for future in as_completed(futures):
                if future.exception() is not None:
                    for waiting in futures:
                        waiting.cancel()  # the uploads under way finish, no new one starts
                    raise future.exception()  # type: ignore[misc]
        done = [result for _, _, result in self.uploaded]
        self._log("blobs: " + ", ".join(f"{done.count(r)} {_DONE[r]}" for r in PushResult if done.count(r)))

    def _push_one_blob(self, digest: str, repos: Sequence[Reference]) -> None:
        path = self.store.path(digest)
        if not path.exists():
            raise BuildError(f"cannot push blob {digest}: it is missing from bakec's content store")
        for repo in repos:
            mount_from = [r for r in self.sources.get(digest) if r != repo.name]
            result = self.registry.push_blob(repo, digest, path, mount_from=mount_from)
            self.sources.add(digest, repo.name)
            self.uploaded.append((repo.name, digest, result))

    def _put_manifests(self) -> None:
        for image in self.images:
            children = image.committed.manifests if len(image.committed.manifests) > 1 else ()
            manifests = [(self.store.read(mdesc.digest), mdesc.media_type) for mdesc, *_ in children]
            for repo in image.repositories():
                for data, media_type in manifests:
                    self.registry.push_manifest(repo, data, media_type)
        for image in self.images:
            root = image.committed.root
            data = self.store.read(root.digest)
            for ref in image.references:
                tag = None if image.by_digest else (ref.tag or "latest")
                self.registry.push_manifest(ref.repository(), data, root.media_type, tag=tag)
                self._log(f"pushing manifest for {ref.name}{':' + tag if tag else ''}@{root.digest}")

    def _log(self, line: str) -> None:
        self._progress.log(self._current, "stderr", line + "\n")

    def _step(self, name: str, run: Callable[[], None]) -> None:
        with self._progress.step(name, targets={i.target for i in self.images}) as vertex_id:
            self._current = vertex_id
            run()
