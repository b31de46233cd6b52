"""BuildKit's cache manifest format (``application/vnd.buildkit.cacheconfig.v0``), both ways.

A cache config lists ``layers`` (``{blob, parent}``: each layer names its parent, so
an index is a whole chain) and ``records`` (``{digest, inputs, layers}``: a cache
key, links to the records of its inputs, and results pointing at the top layer of
their chain). bakec writes its own op digest as the record digest; see
``bakec/remotecache/README.md`` for why that cannot be shared with BuildKit.

The manifest around it is either an OCI image manifest whose config is the cache
config (``image-manifest=true``) or an index listing the layers and, last, the
config (BuildKit's older layout). Inline cache is the records alone, base64 in
the image config under ``moby.buildkit.cache.v0``, with layer indexes counting
the image's own layers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakec.content.layers import LayerBlob
from bakec.errors import BuildError
from bakec.export.image import ANNOTATION_REF_NAME, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

CACHE_CONFIG = "application/vnd.buildkit.cacheconfig.v0"
INLINE_KEY = "moby.buildkit.cache.v0"
ANNOTATION_UNCOMPRESSED = "containerd.io/uncompressed"
ANNOTATION_CREATED = "buildkit/createdat"

__all__ = [
    "ANNOTATION_CREATED",
    "ANNOTATION_REF_NAME",
    "ANNOTATION_UNCOMPRESSED",
    "CACHE_CONFIG",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INLINE_KEY",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Record",
    "blobs_of_manifest",
    "build_config",
    "build_manifest",
    "inline_value",
    "layer_descriptor",
    "parse_config",
    "parse_inline",
    "serialise",
]


@dataclass(frozen=True)
class Record:
    """One op of the build as the cache sees it: its key, its inputs' keys, its layer chain."""

    digest: str
    inputs: tuple[str, ...] = ()  # input op digests in op order ("" for scratch)
    layers: tuple[LayerBlob, ...] | None = None  # None: a key without a result


def _json(obj: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def build_config(records: Sequence[Record], created: str) -> tuple[dict[str, Any], list[LayerBlob]]:
    """The cache config of ``records`` and the layer blobs it names, in config order.

    Equal chain prefixes share layer entries, so an image's base layers appear once
    however many records build on them.
    """
    layers: list[dict[str, Any]] = []
    blobs: list[LayerBlob] = []
    by_chain: dict[tuple[str, ...], int] = {}
    index_of = {r.digest: i for i, r in enumerate(records)}
    out: list[dict[str, Any]] = []
    for record in records:
        entry: dict[str, Any] = {}
        if record.layers:
            parent = -1
            for depth in range(1, len(record.layers) + 1):
                chain = tuple(b.digest for b in record.layers[:depth])
                if chain not in by_chain:
                    layer: dict[str, Any] = {"blob": chain[-1]}
                    if parent != 0:  # Go's omitempty drops 0
                        layer["parent"] = parent
                    by_chain[chain] = len(layers)
                    layers.append(layer)
                    blobs.append(record.layers[depth - 1])
                parent = by_chain[chain]
            entry["layers"] = [{"layer": parent, "createdAt": created}]
        entry["digest"] = record.digest
        if record.inputs:
            entry["inputs"] = [[{"link": index_of[d]}] if d in index_of else [] for d in record.inputs]
        out.append(entry)
    config: dict[str, Any] = {}
    if layers:
        config["layers"] = layers
    if out:
        config["records"] = out
    return config, blobs


def layer_descriptor(blob: LayerBlob, created: str) -> dict[str, Any]:
    """A layer's descriptor in the cache manifest, annotated as BuildKit annotates it."""
    return {
        "mediaType": blob.media_type,
        "digest": blob.digest,
        "size": blob.size,
        "annotations": {ANNOTATION_CREATED: created, ANNOTATION_UNCOMPRESSED: blob.diff_id},
    }


def build_manifest(
    config: bytes, blobs: Sequence[LayerBlob], created: str, *, image_manifest: bool, oci: bool
) -> tuple[bytes, str]:
    """The cache manifest (bytes, media type) around a serialised cache ``config``."""
    import hashlib

    cdesc = {
        "mediaType": CACHE_CONFIG,
        "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        "size": len(config),
    }
    layers = [layer_descriptor(b, created) for b in blobs]
    if image_manifest:
        if not oci:
            raise BuildError("image-manifest=true requires oci-mediatypes=true")
        return _json(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": layers}
        ), OCI_MANIFEST
    media_type = OCI_INDEX if oci else DOCKER_LIST
    return _json({"schemaVersion": 2, "mediaType": media_type, "manifests": [*layers, cdesc]}), media_type


def serialise(config: Mapping[str, Any]) -> bytes:
    """The cache config's bytes, compact as BuildKit writes it (what the manifest's digest covers)."""
    return _json(config)


def inline_value(records: Sequence[Record], image_layers: Sequence[LayerBlob], created: str) -> str | None:
    """The ``moby.buildkit.cache.v0`` value: records whose chain is a prefix of the image's layers.

    Layer indexes count the image's layers (0 = the bottom one), as BuildKit's inline
    exporter writes them; None when no record has a result in the image.
    """
    image = tuple(b.digest for b in image_layers)
    kept = [r for r in records if r.layers and tuple(b.digest for b in r.layers) == image[: len(r.layers)]]
    if not kept:
        return None
    index_of = {r.digest: i for i, r in enumerate(kept)}
    out = []
    for r in kept:
        entry: dict[str, Any] = {
            "layers": [{"layer": len(r.layers or ()) - 1, "createdAt": created}],
            "digest": r.digest,
        }
        if r.inputs:
            entry["inputs"] = [[{"link": index_of[d]}] if d in index_of else [] for d in r.inputs]
        out.append(entry)
    return base64.b64encode(_json(out)).decode()


# -- reading ------------------------------------------------------------------------------------


def parse_config(
    config: Mapping[str, Any], blobs: Mapping[str, LayerBlob]
) -> dict[str, tuple[LayerBlob, ...]]:
    """Record digest → layer chain, for every record with a result whose blobs ``blobs`` knows.

    Follows BuildKit's reading: ``parent`` absent means 0, -1 means none; loops and
    unknown indexes make the whole config invalid.
    """
    layers = config.get("layers") or []
    if not isinstance(layers, list):
        raise ValueError("layers is not a list")  # noqa: TRY004 - a malformed cache, reported as such
    chains: dict[int, tuple[LayerBlob, ...] | None] = {}

    def chain(index: int, seen: frozenset[int]) -> tuple[LayerBlob, ...] | None:
        if index in seen:
            raise ValueError("invalid looping layer")
        if not 0 <= index < len(layers):
            raise ValueError(f"invalid layer index {index}")
        if index in chains:
            return chains[index]
        layer = layers[index]
        blob = blobs.get(layer.get("blob", ""))
        parent = int(layer.get("parent", 0))
        below: tuple[LayerBlob, ...] | None = ()
        if parent != -1:
            below = chain(parent, seen | {index})
        result = None if blob is None or below is None else below + (blob,)
        chains[index] = result
        return result

    out: dict[str, tuple[LayerBlob, ...]] = {}
    for record in config.get("records") or []:
        digest = record.get("digest", "")
        for result in record.get("layers") or []:
            found = chain(int(result.get("layer", -1)), frozenset())
            if found:
                out.setdefault(digest, found)
    return out


def blobs_of_manifest(manifest: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, LayerBlob]]:
    """(the cache config descriptor or None, layer blobs by digest) of a cache manifest or index."""
    config = None
    entries: list[Mapping[str, Any]] = []
    if manifest.get("config", {}).get("mediaType") == CACHE_CONFIG:
        config = dict(manifest["config"])
        entries = manifest.get("layers") or []
    else:
        for entry in manifest.get("manifests") or []:
            if entry.get("mediaType") == CACHE_CONFIG:
                config = dict(entry)
            else:
                entries.append(entry)
    blobs: dict[str, LayerBlob] = {}
    for entry in entries:
        diff_id = (entry.get("annotations") or {}).get(ANNOTATION_UNCOMPRESSED)
        if diff_id:  # without the diff ID the layer cannot be unpacked into a chain
            blobs[entry["digest"]] = LayerBlob(
                entry["digest"], diff_id, int(entry["size"]), entry["mediaType"]
            )
    return config, blobs


def parse_inline(
    image_config: Mapping[str, Any], manifest: Mapping[str, Any]
) -> dict[str, tuple[LayerBlob, ...]]:
    """Record digest → layer chain from an image's inline cache (empty when it has none)."""
    value = image_config.get(INLINE_KEY)
    if not value:
        return {}
    data = json.loads(base64.b64decode(value))
    descs = manifest.get("layers") or []
    diff_ids = (image_config.get("rootfs") or {}).get("diff_ids") or []
    if len(descs) != len(diff_ids):
        return {}
    image = [
        LayerBlob(d["digest"], i, int(d["size"]), d["mediaType"])
        for d, i in zip(descs, diff_ids, strict=False)
    ]
    records = data.get("records", []) if isinstance(data, dict) else data
    layers = [{"blob": b.digest, "parent": i - 1} for i, b in enumerate(image)]
    return parse_config({"layers": layers, "records": records}, {b.digest: b for b in image})
