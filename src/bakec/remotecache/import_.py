"""``cache-from``: read every cache source of a run once, then serve results by op digest.

All targets' ``cache-from`` entries are read before solving, deduplicated, into one
:class:`ImportedCache` for the whole combined graph (so a source named by one target
serves every target that shares its ops: docker/buildx#414). A hit is a layer chain
only: blobs are fetched into bakec's content store when something needs them (an
export, or a RUN that must run on top), and a snapshot is unpacked only for a result
that an op really runs on (:meth:`ImportedCache.materialise`).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakec.content.layers import LayerBlob
from bakec.content.result import OpResult
from bakec.content.store import ContentStore
from bakec.errors import BakecError, BuildError
from bakec.graph.build import Graph
from bakec.graph.target_options import TargetBuildSpec
from bakec.registry.reference import parse_reference
from bakec.remotecache import format as fmt
from bakec.solver.protocols import Runner

Warn = Callable[[str], None]
Loaded = list[tuple[dict[str, tuple[LayerBlob, ...]], Any]]  # (op digest → chain, where its blobs are)


@dataclass(frozen=True)
class _LocalSource:
    root: Path

    def fetch(self, store: ContentStore, blob: LayerBlob) -> None:
        path = self.root / "blobs" / "sha256" / blob.digest.partition(":")[2]
        with store.writer() as w, open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                w.write(chunk)
            if w.digest != blob.digest:
                raise BuildError(f"cache blob {path} does not match its digest {blob.digest}")
            w.commit()


@dataclass(frozen=True)
class _RegistrySource:
    registry: Any
    repository: Any  # bakec.registry.reference.Reference

    def fetch(self, store: ContentStore, blob: LayerBlob) -> None:
        self.registry.fetch_blob(self.repository, blob.digest, store.path(blob.digest), size=blob.size)


class ImportedCache:
    """Op digest → layer chain, from every ``cache-from`` of a run; blobs fetched on demand."""

    def __init__(self, store: ContentStore) -> None:
        self.store = store
        self.chains: dict[str, tuple[LayerBlob, ...]] = {}
        self._sources: dict[str, Any] = {}  # blob digest → where to fetch it
        self._lock = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self.chains)

    def add(self, chains: Mapping[str, tuple[LayerBlob, ...]], source: Any) -> None:
        """Merge one source's chains; an op or blob already known keeps its earlier source."""
        for digest, chain in chains.items():
            self.chains.setdefault(digest, chain)
            for blob in chain:
                self._sources.setdefault(blob.digest, source)

    def add_loaded(self, loaded: Loaded) -> None:
        """Merge what :func:`load_ref` read."""
        for chains, source in loaded:
            self.add(chains, source)

    def registry_blobs(self) -> list[tuple[str, list[str]]]:
        """(repository, blob digests) of the blobs imported from registries: where a push can mount them."""
        by_repository: dict[str, list[str]] = {}
        for digest, source in self._sources.items():
            if isinstance(source, _RegistrySource):
                by_repository.setdefault(source.repository.name, []).append(digest)
        return list(by_repository.items())

    def lookup(self, digest: str) -> OpResult | None:
        """The imported result of op ``digest`` (an ``OpResult`` without a snapshot yet), or None."""
        chain = self.chains.get(digest)
        if chain is None:
            return None
        return OpResult("", chain)

    def needed(self, graph: Graph, uncached: Callable[[str], bool]) -> set[str]:
        """The ops the builds of ``graph`` need: an imported hit's inputs are needed only by other paths.

        (BuildKit does the same: a ``mode=min`` cache of the final stage skips the builder
        stages it copies from.) ``uncached(node)`` says a node may not use the cache.
        """
        stack = [b.output for b in graph.builds if b.output]
        seen: set[str] = set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in self.chains and not uncached(node):
                continue
            stack.extend(graph.inputs[node])
        return seen

    def fetch(self, blobs: Iterable[LayerBlob]) -> None:
        """Make every blob of ``blobs`` present in the content store."""
        for blob in blobs:
            if self.store.has(blob.digest):
                continue
            with self._lock:
                lock = self._fetching.setdefault(blob.digest, threading.Lock())
            with lock:
                if self.store.has(blob.digest):
                    continue
                source = self._sources.get(blob.digest)
                if source is None:
                    raise BuildError(f"cache blob {blob.digest} is not in any cache-from source")
                source.fetch(self.store, blob)

    def materialise(self, result: OpResult, runner: Runner) -> OpResult:
        """``result`` with its layers unpacked into a chain snapshot (for an op that runs on it)."""
        self.fetch(result.layers)
        return OpResult(runner.unpack(result.layers), tuple(result.layers))


def _entries(specs: Mapping[str, TargetBuildSpec]) -> list[dict[str, str]]:
    """Every target's ``cache-from`` entries, each distinct one once, in target order."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    out = []
    for spec in specs.values():
        for entry in spec.cache_from:
            key = tuple(sorted(entry.items()))
            if key not in seen:
                seen.add(key)
                out.append(dict(entry))
    return out


def describe(entry: Mapping[str, str]) -> str:
    """How BuildKit names an import step: ``importing cache manifest from <ref or dir>``."""
    where = entry.get("ref") or entry.get("src") or ",".join(f"{k}={v}" for k, v in entry.items())
    return f"importing cache manifest from {where}"


def load(
    specs: Mapping[str, TargetBuildSpec],
    *,
    store: ContentStore,
    registry: Any,
    cwd: str,
    step: Callable[[str, Callable[[], None]], None],
    warn: Warn,
) -> ImportedCache | None:
    """Read every ``cache-from`` of the targets (``specs``, by name) once; None when there is none.

    ``step(name, fn)`` runs ``fn`` as one progress step. A source that cannot be read
    is reported and skipped, as BuildKit does: a missing cache never fails a build.
    """
    entries = _entries(specs)
    if not entries:
        return None
    jobs: list[tuple[str, Callable[[], Loaded]]] = []
    for entry in entries:
        kind = entry.get("type", "registry")
        if kind == "local":
            src = entry.get("src", "")
            path = Path(cwd, src)
            if not src or not (path / "index.json").is_file():
                warn(f"local cache import at {src} not found due to err: no index.json in {path}")
                continue
            jobs.append((describe(entry), functools.partial(_load_local, path, entry)))
        elif kind == "registry":
            if not entry.get("ref"):
                warn("cache-from type=registry needs ref=, skipping")
                continue
            jobs.append((describe(entry), functools.partial(_load_registry, registry, entry)))
        else:
            warn(f"cache-from type={kind} is not supported by bakec, skipping")
    imported = ImportedCache(store)
    # Sources are read concurrently (registries are slow), then added in the bake file's
    # order, so the first source that has a record wins whatever answered first.
    with ThreadPoolExecutor(max_workers=min(8, len(jobs) or 1)) as pool:
        results = list(pool.map(lambda job: _attempt(step, *job), jobs))
    for loaded in results:
        for chains, source in loaded:
            imported.add(chains, source)
    return imported


def _attempt(step: Callable[[str, Callable[[], None]], None], name: str, fn: Callable[[], Loaded]) -> Loaded:
    out: Loaded = []
    try:
        step(name, lambda: out.extend(fn()))
    except (BakecError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return []  # the step's vertex shows the error, as BuildKit's does; the build goes on
    return out


def _load_local(root: Path, entry: Mapping[str, str]) -> Loaded:
    index = json.loads((root / "index.json").read_text())
    tag = entry.get("tag") or "latest"
    wanted = entry.get("digest")
    chosen = None
    for desc in index.get("manifests") or []:
        if wanted:
            if desc.get("digest") == wanted:
                chosen = desc
                break
        elif (desc.get("annotations") or {}).get(fmt.ANNOTATION_REF_NAME) == tag:
            chosen = desc
            break
    if chosen is None:
        raise BuildError(f"local cache {root}: no manifest for {wanted or 'tag ' + tag} in index.json")
    manifest = json.loads(_blob(root, chosen["digest"]).read_bytes())
    config_desc, blobs = fmt.blobs_of_manifest(manifest)
    if config_desc is None:
        raise BuildError(f"local cache {root}: {chosen['digest']} has no {fmt.CACHE_CONFIG} config")
    config = json.loads(_blob(root, config_desc["digest"]).read_bytes())
    present = {d: b for d, b in blobs.items() if _blob(root, d).exists()}
    return [(fmt.parse_config(config, present), _LocalSource(root))]


def _blob(root: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm != "sha256" or not hexpart.isalnum():
        raise BuildError(f"invalid digest {digest!r} in local cache {root}")
    return root / "blobs" / "sha256" / hexpart


def load_ref(registry: Any, ref: str) -> Loaded:
    """The cache at registry ``ref``; a missing or unreadable one raises (a fleet job must know)."""
    return _load_registry(registry, {"ref": ref})


def _load_registry(registry: Any, entry: Mapping[str, str]) -> Loaded:

    ref = parse_reference(entry["ref"])
    source = _RegistrySource(registry, ref.repository())
    top = registry.fetch_manifest(ref)
    out: Loaded = []
    for manifest in _manifests(registry, ref, top.content):
        config_desc, blobs = fmt.blobs_of_manifest(manifest)
        if config_desc is not None:
            config = json.loads(registry.read_blob(ref, config_desc["digest"]))
            out.append((fmt.parse_config(config, blobs), source))
        elif manifest.get("config", {}).get("digest"):  # an image: its inline cache, if any
            image_config = json.loads(registry.read_blob(ref, manifest["config"]["digest"]))
            out.append((fmt.parse_inline(image_config, manifest), source))
    return out


def _manifests(registry: Any, ref: Any, content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The manifest itself, or (an image index) each of its manifests; a cache index stays whole."""
    entries = content.get("manifests")
    if entries is None or any(e.get("mediaType") == fmt.CACHE_CONFIG for e in entries):
        return [content]
    out = []
    for entry in entries:
        if entry.get("mediaType") in (fmt.OCI_MANIFEST, fmt.DOCKER_MANIFEST):
            out.append(registry.fetch_manifest(ref.with_digest(entry["digest"])).content)
    return out


__all__ = ["ImportedCache", "describe", "load", "load_ref"]
