"""The image model the exporters share: options, config, manifest and index builders.

An :class:`Image` is a config (the OCI/Docker image config JSON as a dict) plus its
layers (blobs in a :class:`ContentStore`) and platform. :func:`commit_images` applies
the exporter options (compression, ``force-compression``, ``rewrite-timestamp``,
``oci-mediatypes``, annotations), writes config, manifests and, for several platforms,
an index into the store, and returns the root descriptor the exporters write out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bakec.content.layers import LayerBlob, convert_layer
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.util.compression import DEFAULT as DEFAULT_COMPRESSION
from bakec.util.compression import GZIP, UNCOMPRESSED, ZSTD, Compression, kind_of
from bakec.util.golang import parse_bool
from bakec.util.platform import Platform

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None

    def json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        if self.platform is not None:
            d["platform"] = self.platform.json()
        return d


@dataclass(frozen=True)
class Image:
    """One platform's image before export: its config dict and its layer blobs."""

    config: Mapping[str, Any]
    layers: Sequence[LayerBlob]
    platform: Platform = Platform("linux", "amd64")
    base_layers: int = 0  # leading layers pulled with the base image (kept as is by rewrite-timestamp)


def attr_bool(key: str, value: str) -> bool:
    """An exporter attribute's boolean value, as BuildKit's ``parseBoolOrTrue`` reads it.

    ``strconv.ParseBool``, except that a bare ``key`` (empty value) means true.
    """
    if value == "":
        return True
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise BuildError(f"non-bool value specified for {key}: {exc}") from None


@dataclass(frozen=True)
class ExportOptions:
    """The exporter attributes bakec understands (``type=oci,dest=...,name=...``)."""

    dest: str | None = None
    names: tuple[str, ...] = ()
    oci_mediatypes: bool = True
    compression: Compression = DEFAULT_COMPRESSION
    force_compression: bool = False
    rewrite_timestamp: bool = False
    source_date_epoch: int | None = None
    tar: bool = True
    annotations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # scope → key → value

    @classmethod
    def parse(
        cls, attrs: Mapping[str, str], *, kind: str = "oci", source_date_epoch: int | None = None
    ) -> ExportOptions:
        """Parse exporter attributes; ``kind`` (``oci``/``docker``/...) sets the media-type default."""
        comp, level = GZIP, None
        opts: dict[str, Any] = {"oci_mediatypes": kind != "docker", "source_date_epoch": source_date_epoch}
        annotations: dict[str, dict[str, str]] = {}
        for key, value in attrs.items():
            if key == "dest":
                opts["dest"] = value
            elif key == "name":
                opts["names"] = tuple(n.strip() for n in value.split(",") if n.strip())
            elif key == "oci-mediatypes":
                opts["oci_mediatypes"] = attr_bool(key, value)
            elif key == "compression":
                if value not in (GZIP, ZSTD, UNCOMPRESSED):
                    raise BuildError(f"unsupported compression type {value}")
                comp = value
            elif key == "compression-level":
                try:
                    level = int(value)
                except ValueError:
                    raise BuildError(f"non-int value {value} specified for compression-level") from None
            elif key == "force-compression":
                opts["force_compression"] = attr_bool(key, value)
            elif key == "rewrite-timestamp":
                opts["rewrite_timestamp"] = attr_bool(key, value)
            elif key == "source-date-epoch":
                try:
                    opts["source_date_epoch"] = int(value)
                except ValueError:
                    raise BuildError(
                        f"invalid source-date-epoch: {value!r} is not a number of seconds"
                    ) from None
            elif key == "tar":
                opts["tar"] = attr_bool(key, value)
            elif key.startswith("annotation"):
                scope, k = _annotation_key(key)
                annotations.setdefault(scope, {})[k] = value
        return cls(compression=Compression(comp, level), annotations=annotations, **opts)


def _annotation_key(key: str) -> tuple[str, str]:
    # annotation.<k> (manifest), annotation-<scope>.<k>; a [platform] suffix is kept in the scope.
    head, _, k = key.partition(".")
    if not k:
        raise BuildError(f"invalid annotation key {key!r}")
    scope = head.removeprefix("annotation").removeprefix("-") or "manifest"
    if scope.split("[")[0] not in ("manifest", "manifest-descriptor", "index", "index-descriptor"):
        raise BuildError(f"invalid annotation type {scope!r}")
    return scope, k


def _scoped(opts: ExportOptions, scope: str, platform: Platform | None) -> dict[str, str]:
    out = dict(opts.annotations.get(scope, {}))
    if platform is not None:
        out.update(opts.annotations.get(f"{scope}[{platform}]", {}))
    return out


def canonical_json(obj: Any) -> bytes:
    """JSON as Go's encoding/json writes these structs: compact, keys as given, no HTML escaping issues."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Committed:
    """What an exporter writes out: the root descriptor and every manifest below it."""

    root: Descriptor
    manifests: tuple[
        tuple[Descriptor, Image, tuple[LayerBlob, ...], Descriptor], ...
    ]  # desc, image, layers, config


def layer_for_export(
    store: ContentStore, blob: LayerBlob, opts: ExportOptions, *, base: bool = False
) -> LayerBlob:
    """``blob`` as the options want it: re-compressed and/or with mtimes clamped to the epoch.

    As BuildKit's ``rewrite-timestamp``, layers of the base image are kept as pulled,
    and a layer with no entry newer than the epoch keeps its blob.
    """
    want = opts.compression
    have = kind_of(blob.media_type)
    epoch = opts.source_date_epoch if opts.rewrite_timestamp and not base else None
    if opts.rewrite_timestamp and opts.source_date_epoch is None:
        raise BuildError("rewrite-timestamp needs SOURCE_DATE_EPOCH (build arg or source-date-epoch=)")
    recompress = have != want.kind and (opts.force_compression or have == UNCOMPRESSED)
    if opts.force_compression and want.level is not None:
        recompress = True
    if epoch is not None:
        rewritten = convert_layer(
            store, blob, want, rewrite_timestamp=epoch, oci_mediatypes=opts.oci_mediatypes
        )
        if rewritten.diff_id != blob.diff_id or recompress:
            blob = rewritten
    elif recompress:
        blob = convert_layer(store, blob, want, oci_mediatypes=opts.oci_mediatypes)
    mt = Compression(kind_of(blob.media_type)).media_type(opts.oci_mediatypes)
    return replace(blob, media_type=mt)


def commit_images(store: ContentStore, images: Sequence[Image], opts: ExportOptions) -> Committed:
    """Write configs, manifests and (for more than one image) an index into ``store``."""
    if not images:
        raise BuildError("nothing to export")
    manifests = []
    for image in images:
        layers = tuple(
            layer_for_export(store, b, opts, base=i < image.base_layers) for i, b in enumerate(image.layers)
        )
        config = dict(image.config)
        config.setdefault("architecture", image.platform.architecture)
        config.setdefault("os", image.platform.os)
        if image.platform.variant:
            config.setdefault("variant", image.platform.variant)
        config["rootfs"] = {"type": "layers", "diff_ids": [b.diff_id for b in layers]}
        raw = canonical_json(config)
        cdesc = Descriptor(OCI_CONFIG if opts.oci_mediatypes else DOCKER_CONFIG, store.put(raw), len(raw))
        mt = OCI_MANIFEST if opts.oci_mediatypes else DOCKER_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": cdesc.media_type, "digest": cdesc.digest, "size": cdesc.size},
            "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in layers],
        }
        if ann := _scoped(opts, "manifest", image.platform):
            if not opts.oci_mediatypes:
                raise BuildError("manifest annotations need oci-mediatypes=true")
            manifest["annotations"] = ann
        mraw = canonical_json(manifest)
        dann = _scoped(opts, "manifest-descriptor", image.platform)
        created = config.get("created")
        if created and len(images) == 1:
            dann.setdefault(ANNOTATION_CREATED, created)
        mdesc = Descriptor(mt, store.put(mraw), len(mraw), dann, image.platform)
        manifests.append((mdesc, image, layers, cdesc))
    if len(images) == 1:
        root = manifests[0][0]
    else:
        mt = OCI_INDEX if opts.oci_mediatypes else DOCKER_LIST
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mt,
            "manifests": [m[0].json() for m in manifests],
        }
        if ann := _scoped(opts, "index", None):
            index["annotations"] = ann
        iraw = canonical_json(index)
        root = Descriptor(mt, store.put(iraw), len(iraw), _scoped(opts, "index-descriptor", None))
    return Committed(root, tuple(manifests))


def layout_index(committed: Committed, names: Sequence[str]) -> bytes:
    """``index.json`` of an OCI layout: one entry per name (the root, annotated), or one unnamed."""
    entries = []
    for name in names or [""]:
        ann = dict(committed.root.annotations)
        if name:
            ann[ANNOTATION_IMAGE_NAME] = normalize_name(name)
            ann[ANNOTATION_REF_NAME] = ref_name(name)
        entries.append(replace(committed.root, annotations=ann).json())
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})


def normalize_name(name: str) -> str:
    """``busybox`` → ``docker.io/library/busybox:latest`` (tags kept, digests kept)."""
    repo, tag = split_name(name)
    return f"{repo}:{tag}" if tag and not tag.startswith("sha256:") else (f"{repo}@{tag}" if tag else repo)


def split_name(name: str) -> tuple[str, str]:
    """(full repository, tag or digest) of an image reference; the tag defaults to latest."""
    if "@" in name:
        repo, _, digest = name.partition("@")
        return _full_repo(repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo), digest
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, _, tag = name.rpartition(":")
    else:
        repo, tag = name, "latest"
    return _full_repo(repo), tag


def _full_repo(repo: str) -> str:
    first, _, rest = repo.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        repo = "docker.io/" + (repo if rest else "library/" + repo)
    return repo


def ref_name(name: str) -> str:
    """The ``org.opencontainers.image.ref.name`` BuildKit writes: the tag of the reference."""
    _, tag = split_name(name)
    return tag
