"""``cache-to``: write a target's solved ops as a BuildKit-format cache (local, registry, inline).

``mode=min`` (the default) keeps the ops whose result is a prefix of the target's
final layer chain (the final stage); ``mode=max`` keeps every op the target needs.
Layers are the very blobs the build produced or imported (converted only when
``compression``/``force-compression`` ask for it), so a build from this cache
exports byte-identical images.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.errors import BakecError, BuildError
from bakec.export.image import ExportOptions, attr_bool, layer_for_export
from bakec.graph.target_options import TargetBuildSpec
from bakec.registry.reference import parse_reference
from bakec.remotecache import format as fmt
from bakec.util.compression import Compression
from bakec.util.golang import parse_bool

Step = Callable[[str, Callable[[], None]], None]


def _bool(key: str, value: str) -> bool:
    """A cache exporter's boolean attribute: ``strconv.ParseBool``, errors worded as BuildKit's."""
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise BuildError(f"failed to parse {key}: {exc}") from None


def records(graph: Any, solved: Any, builds: Sequence[Any], mode: str) -> list[fmt.Record]:
    """The cache records of ``builds`` (one target's platforms) for ``mode`` (min or max), inputs first."""
    if mode not in ("min", "max"):
        raise BuildError(f"invalid cache-to mode {mode!r}: expected min or max")
    wanted: set[str] = set()
    for build in builds:
        if not build.output or build.output not in solved.results:
            continue
        needed = graph.ancestors(build.output) | {build.output}
        if mode == "min":
            final = _chain(solved, build.output)
            needed = {n for n in needed if (chain := _chain(solved, n)) and chain == final[: len(chain)]}
        wanted |= needed
    out = []
    for node in graph.order():
        if node not in wanted or node not in solved.results:
            continue
        op = graph.nodes[node]["op"]
        layers = tuple(solved.results[node].layers)
        out.append(fmt.Record(node, tuple(op.inputs), layers or None))
    return out


def base_origins(graph: Any, solved: Any) -> dict[str, str]:
    """Layer digest → the base image reference it was pulled from (for cross-repository mounts)."""
    return _origins(graph, solved.results)


def _origins(graph: Any, results: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for node, data in graph.nodes.items():
        if data["op"].kind == "image" and "://" not in data["op"].ref and node in results:
            for blob in results[node].layers:
                out.setdefault(blob.digest, data["op"].ref.split("@")[0])
    return out


def _chain(solved: Any, node: str) -> tuple[str, ...]:
    result = solved.results.get(node)
    return tuple(b.digest for b in result.layers) if result is not None else ()


def wants_inline(spec: TargetBuildSpec) -> bool:
    """``cache-to type=inline`` or the ``BUILDKIT_INLINE_CACHE`` build arg."""
    if any(e.get("type") == "inline" for e in spec.cache_to):
        return True
    return str(spec.args.get("BUILDKIT_INLINE_CACHE") or "").lower() in ("1", "true")


def with_inline_cache(
    config: dict[str, Any], spec: TargetBuildSpec, graph: Any, solved: Any, build: Any
) -> dict[str, Any]:
    """``config`` with the inline cache of ``build`` when its target (``spec``) asks for it (always mode=min)."""
    if not wants_inline(spec) or not build.output or build.output not in solved.results:
        return config
    layers = solved.results[build.output].layers
    value = fmt.inline_value(records(graph, solved, [build], "min"), layers, config.get("created", ""))
    return {**config, fmt.INLINE_KEY: value} if value else config


def _created(spec: TargetBuildSpec) -> str:
    epoch = spec.args.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _convert(
    store: ContentStore, recs: list[fmt.Record], attrs: Mapping[str, str], oci: bool
) -> list[fmt.Record]:
    """Records with their layers in the requested compression and media types (as an image export)."""

    kind = attrs.get("compression", "gzip")
    level = attrs.get("compression-level")
    try:
        want = Compression(kind, int(level) if level else None)
    except (ValueError, TypeError) as err:
        raise BuildError(f"invalid cache-to compression: {err}") from None
    # BuildKit reads force-compression with the image exporter's compression attributes
    force = attr_bool("force-compression", attrs.get("force-compression", "false"))
    opts = ExportOptions(oci_mediatypes=oci, compression=want, force_compression=force)
    done: dict[str, LayerBlob] = {}

    def one(blob: LayerBlob) -> LayerBlob:
        if blob.digest not in done:
            done[blob.digest] = layer_for_export(store, blob, opts)
        return done[blob.digest]

    return [replace(r, layers=tuple(one(b) for b in r.layers)) if r.layers else r for r in recs]


def export(
    graph: Any,
    solved: Any,
    specs: Mapping[str, TargetBuildSpec],
    *,
    store: ContentStore,
    registry: Any,
    imported: Any,
    cwd: str,
    step: Step,
    warn: Callable[[str], None],
) -> None:
    """Write every ``cache-to`` (except inline, which lives in the image) of every built target."""
    by_target: dict[str, list[Any]] = {}
    for build in graph.builds:
        by_target.setdefault(build.target, []).append(build)
    for name, builds in by_target.items():
        spec = specs.get(name)
        if spec is None:
            continue
        for entry in spec.cache_to:
            kind = entry.get("type", "")
            if kind == "inline":
                continue
            try:
                if kind not in ("local", "registry"):
                    raise BuildError(
                        f"cache-to type={kind} is not supported by bakec (local, registry, inline)"
                    )
                _export_one(kind, entry, graph, solved, builds, spec, store, registry, imported, cwd, step)
            except (BakecError, OSError) as err:
                if _bool("ignore-error", entry.get("ignore-error", "false")):
                    warn(f"target {name}: exporting cache to {_where(entry)} failed (ignored): {err}")
                    continue
                if isinstance(err, BakecError):
                    raise
                raise BuildError(f"target {name}: exporting cache to {_where(entry)} failed: {err}") from None


def _where(entry: Mapping[str, str]) -> str:
    return entry.get("ref") or entry.get("dest") or entry.get("type", "")


def _export_one(
    kind: str,
    entry: Mapping[str, str],
    graph: Any,
    solved: Any,
    builds: list[Any],
    spec: TargetBuildSpec,
    store: ContentStore,
    registry: Any,
    imported: Any,
    cwd: str,
    step: Step,
) -> None:
    oci = _bool("oci-mediatypes", entry.get("oci-mediatypes", "true"))
    image_manifest = _bool("image-manifest", entry.get("image-manifest", "true" if oci else "false"))
    recs = records(graph, solved, builds, entry.get("mode", "min"))
    blobs = [b for r in recs for b in r.layers or ()]
    if imported is not None:
        imported.fetch(blobs)
    recs = _convert(store, recs, entry, oci)
    created = _created(spec)
    config, layers = fmt.build_config(recs, created)
    raw_config = fmt.serialise(config)
    manifest, media_type = fmt.build_manifest(
        raw_config, layers, created, image_manifest=image_manifest, oci=oci
    )
    if kind == "local":
        dest = entry.get("dest")
        if not dest:
            raise BuildError("cache-to type=local needs dest=")
        path = Path(cwd, dest)
        tag = entry.get("tag") or "latest"
        reset = _bool("reset", entry.get("reset", "false"))
        step(
            f"exporting cache to {dest}",
            lambda: write_layout(path, tag, store, layers, raw_config, manifest, media_type, reset=reset),
        )
    else:
        ref = entry.get("ref")
        if not ref:
            raise BuildError("cache-to type=registry needs ref=")
        step(
            f"exporting cache to {ref}",
            lambda: push(
                registry, ref, store, layers, raw_config, manifest, media_type, base_origins(graph, solved)
            ),
        )


def push_ops(graph: Any, results: Mapping[str, Any], *, ref: str, store: ContentStore, registry: Any) -> None:
    """Push ``results`` (op digest → its result) as a ``mode=max`` registry cache at ``ref``.

    A fleet shard's export: exactly the records of the ops it owns, its layers as built, and a
    fixed creation time, so equal results make an equal manifest. Layers it did not build (its
    inputs', imported) are already in ``ref``'s repository, where every shard of a plan exports,
    so they are neither fetched nor sent again.
    """
    recs = [
        fmt.Record(node, tuple(graph.nodes[node]["op"].inputs), tuple(results[node].layers) or None)
        for node in graph.order()
        if node in results
    ]
    config, layers = fmt.build_config(recs, "1970-01-01T00:00:00Z")
    raw_config = fmt.serialise(config)
    manifest, media_type = fmt.build_manifest(
        raw_config, layers, "1970-01-01T00:00:00Z", image_manifest=True, oci=True
    )
    push(registry, ref, store, layers, raw_config, manifest, media_type, _origins(graph, results))


def write_layout(
    dest: Path,
    tag: str,
    store: ContentStore,
    layers: Sequence[LayerBlob],
    config: bytes,
    manifest: bytes,
    media_type: str,
    *,
    reset: bool = False,
) -> None:
    """Add the cache to the OCI layout at ``dest``, replacing the index entry named ``tag``.

    ``reset`` then removes the blobs that no entry of the index references any more.
    """
    import hashlib
    import shutil

    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        target = blobs / layer.digest.partition(":")[2]
        if not target.exists():
            source = store.path(layer.digest)
            _atomic(target, lambda tmp: shutil.copyfile(source, tmp))  # noqa: B023 - called right here
    digests = {}
    for data in (config, manifest):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        digests[data] = digest
        target = blobs / digest.partition(":")[2]
        if not target.exists():
            _atomic(target, lambda tmp: Path(tmp).write_bytes(data))  # noqa: B023 - called right here
    layout = dest / "oci-layout"
    if not layout.exists():
        _atomic(layout, lambda tmp: Path(tmp).write_text('{"imageLayoutVersion":"1.0.0"}'))
    index_path = dest / "index.json"
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": fmt.OCI_INDEX, "manifests": []}
    try:
        if index_path.exists():
            index = json.loads(index_path.read_text())
        entries = [
            m
            for m in index.get("manifests") or []
            if (m.get("annotations") or {}).get(fmt.ANNOTATION_REF_NAME) != tag
        ]
    except (ValueError, AttributeError, TypeError) as err:
        raise BuildError(f"cannot add the cache to {index_path}: not an OCI image index ({err})") from None
    entries.append(
        {
            "mediaType": media_type,
            "digest": digests[manifest],
            "size": len(manifest),
            "annotations": {fmt.ANNOTATION_REF_NAME: tag},
        }
    )
    index["manifests"] = entries
    raw = json.dumps(index, separators=(",", ":")).encode()
    _atomic(index_path, lambda tmp: Path(tmp).write_bytes(raw))
    if reset:
        _drop_unreferenced(dest, entries)


def _drop_unreferenced(dest: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """``reset=true``: remove the blobs no index entry reaches (older caches' layers)."""
    blobs = dest / "blobs" / "sha256"
    keep: set[str] = set()
    for entry in entries:
        keep.add(entry["digest"])
        try:
            manifest = json.loads((blobs / entry["digest"].partition(":")[2]).read_bytes())
        except (OSError, ValueError):
            continue
        for desc in [
            manifest.get("config") or {},
            *manifest.get("layers", []),
            *manifest.get("manifests", []),
        ]:
            if desc.get("digest"):
                keep.add(desc["digest"])
    for path in blobs.iterdir():
        if "sha256:" + path.name not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


def _atomic(target: Path, write: Callable[[str], object]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def push(
    registry: Any,
    ref: str,
    store: ContentStore,
    layers: Sequence[LayerBlob],
    config: bytes,
    manifest: bytes,
    media_type: str,
    origins: Mapping[str, str] | None = None,
) -> None:
    """Push the cache blobs, its config and, last, the manifest under ``ref``'s tag (default latest).

    ``origins`` maps base image layers to the image they were pulled from, so the registry
    can mount them instead of receiving them again.
    """
    import hashlib

    reference = parse_reference(ref)
    if reference.digest and not reference.tag:
        raise BuildError(f"cache-to ref {ref} must name a tag, not a digest")
    repository = reference.repository()
    for layer in layers:
        origin = (origins or {}).get(layer.digest)
        registry.push_blob(
            repository, layer.digest, store.path(layer.digest), mount_from=[origin] if origin else []
        )
    registry.push_blob(repository, "sha256:" + hashlib.sha256(config).hexdigest(), config)
    registry.push_manifest(repository, manifest, media_type, tag=reference.tag or "latest")
