"""Attestations: which images get SLSA provenance, and the attestation manifests that carry it.

As buildx: without any ``attest``/``--provenance``, a ``mode=min`` provenance is
requested *inline-only*, so only images that are pushed get it (``type=registry``,
``type=image,push=true``, ``--push``); ``BUILDX_NO_DEFAULT_ATTESTATIONS=1`` turns that
default off. ``--provenance``/``attest=type=provenance,...`` (``mode=min|max``,
``builder-id=``) attaches it to pushed images, ``type=image`` and ``type=oci`` outputs;
``--provenance=false`` (``disabled=true``) to none. ``docker``, ``local`` and ``tar``
outputs never carry provenance here.

``--sbom=true``/``attest=type=sbom`` adds an SPDX document of each platform's final image
(:mod:`bakec.attest`, made in-process: ``generator=`` and ``scan-stage=true`` are refused
before anything builds) to ``image``, ``registry`` and ``oci`` outputs, pushed or not; for
``local`` and ``tar`` outputs the statement is written into the destination as
``sbom.spdx.json`` (see :func:`sbom_files`), as BuildKit's local exporter writes it.

Attaching turns the image into an index (even for one platform): the image manifests,
then one attestation manifest per image manifest, each an OCI manifest whose layers are the
in-toto statements (``application/vnd.in-toto+json``; the SBOM first, then the
provenance, as BuildKit orders them), described in the
index with platform ``unknown/unknown`` and the annotations
``vnd.docker.reference.type: attestation-manifest`` and
``vnd.docker.reference.digest: <the image manifest's digest>``.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export.image import (
    DOCKER_CONFIG,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Committed,
    Descriptor,
    Image,
    canonical_json,
)
from bakec.util.platform import Platform

if TYPE_CHECKING:
    from bakec.source.git import GitCheckout

INTOTO_MEDIA_TYPE = "application/vnd.in-toto+json"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
UNKNOWN_PLATFORM = Platform("unknown", "unknown")

_MODES = {"min": "min", "max": "max", "full": "max"}
_IMAGE_KINDS = ("image", "registry", "oci")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "t", "yes", "y", "on")


@dataclass(frozen=True)
class Provenance:
    """A target's provenance request: ``mode`` ``min``/``max``; ``inline_only`` for buildx's default."""

    mode: str = "min"
    inline_only: bool = False
    builder_id: str = ""

    def applies(self, kind: str, push: bool) -> bool:
        """Whether an output of ``kind`` (pushed or not) carries this provenance."""
        if self.inline_only:
            return push and kind in ("image", "registry")
        return kind in _IMAGE_KINDS


def provenance_of(attest: Sequence[Mapping[str, Any]] | None, env: Mapping[str, str]) -> Provenance | None:
    """The provenance a target's ``attest`` entries ask for (``None``: none)."""
    for entry in attest or []:
        if entry.get("type") != "provenance":
            continue
        if _truthy(entry.get("disabled", False)):
            return None
        mode = str(entry.get("mode", "min"))
        if mode not in _MODES:
            raise BuildError(f'invalid mode "{mode}"')
        version = str(entry.get("version", "v0.2"))
        if version != "v0.2":
            raise BuildError(f"provenance version {version} is not supported yet (only v0.2)")
        return Provenance(_MODES[mode], False, str(entry.get("builder-id", "")))
    if _truthy(env.get("BUILDX_NO_DEFAULT_ATTESTATIONS", "")):
        return None
    return Provenance("min", inline_only=True)


_SBOM_REFUSED = {
    "generator": "bakec makes SBOMs in-process and runs no scanner image",
    "scan-stage": "only the final image is scanned, not build stages",
    "scan-context": "only the final image is scanned, not the build context",
}


def sbom_of(attest: Sequence[Mapping[str, Any]] | None, target: str = "") -> bool:
    """Whether a target's ``attest`` entries ask for an SBOM; refuses what bakec cannot make."""
    for entry in attest or []:
        if entry.get("type") != "sbom" or _truthy(entry.get("disabled", False)):
            continue
        for key, why in _SBOM_REFUSED.items():
            if key in entry and (key == "generator" or _truthy(entry[key])):
                where = f"target {target}: " if target else ""
                raise BuildError(f"{where}attest type=sbom,{key}={entry[key]} is not supported: {why}")
        return True
    return False


def _invocation_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(25))


@dataclass
class RunAttestations:
    """One build run's attestation settings: created when the run starts, asked by each output."""

    env: Mapping[str, str]
    cwd: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    invocation_id: str = field(default_factory=_invocation_id)

    @classmethod
    def start(cls, targets: Mapping[str, Any], env: Mapping[str, str], cwd: str) -> RunAttestations:
        """Check every target's requests (SBOM options, provenance modes) and note the start."""
        for name, target in targets.items():
            sbom_of(target.attest, name)
            provenance_of(target.attest, env)
        return cls(env, cwd)

    def for_target(
        self, target: Any, builds: Sequence[Any], graph: Any, store: ContentStore
    ) -> TargetAttestations:
        """What the outputs of ``target`` (built as ``builds``, one per platform) attach."""
        return TargetAttestations(self, target, tuple(builds), graph, store)

    def dockerfile(self, target: Any, build: Any, git_checkouts: Mapping[str, GitCheckout]) -> bytes | None:
        """The Dockerfile's bytes as the build read them (``mode=max`` records them), None if unreadable.

        ``git_checkouts``: the graph's fetched git URLs (a git context's Dockerfile is read from its tree).
        """
        import os

        from bakec.util.gitref import is_git_url

        if target.dockerfile_inline is not None:
            return target.dockerfile_inline.encode()
        name = target.dockerfile or "Dockerfile"
        if name.startswith("cwd://"):
            path = os.path.join(self.cwd, name[len("cwd://") :])
        elif is_git_url(build.context):
            checkout = git_checkouts.get(build.context)
            path = os.path.join(checkout.path if checkout else "/nonexistent", name)
        else:
            path = os.path.join(self.cwd, build.context, name)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None


@dataclass(frozen=True)
class TargetAttestations:
    """One target's attestations, asked by each of its outputs (see :meth:`attach`)."""

    run: RunAttestations
    target: Any
    builds: tuple[Any, ...]
    graph: Any
    store: ContentStore

    def attach(
        self,
        committed: Committed,
        *,
        kind: str,
        push: bool,
        names: Sequence[str],
        oci_mediatypes: bool = True,
        epoch: int | None = None,
    ) -> Committed:
        """``committed`` with the SBOM and provenance an output of ``kind`` should carry, else unchanged."""
        request = provenance_of(self.target.attest, self.run.env)
        provenance = request is not None and request.applies(kind, push)
        sbom = sbom_of(self.target.attest) and kind in _IMAGE_KINDS
        if not provenance and not sbom:
            return committed
        images = image_manifests(committed)
        statements: list[list[dict[str, Any]]] = [[] for _ in images]
        if sbom:
            for i, (mdesc, image, layers, _config) in enumerate(images):
                platform = str(image.platform)
                subjects = _subjects(names, mdesc.digest, platform)
                document = self.sbom_document(layers, names, platform, epoch)
                statements[i].append(sbom_statement(document, subjects))
        if provenance and request is not None:
            for i, stmt in enumerate(self._provenance(images, request, names)):
                statements[i].append(stmt)
        return attach_statements(self.store, committed, statements, oci_mediatypes=oci_mediatypes)

    def _provenance(
        self, images: Sequence[tuple[Descriptor, Image, Any, Any]], request: Provenance, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        from bakec.bake.definition import local_platform
        from bakec.export.provenance import Invocation, statement

        invocation = Invocation(self.run.invocation_id, self.run.started, local_platform())
        checkouts = self.graph.git_checkouts  # what planning fetched: each git URL's commit and tree
        commits = {url: checkout.commit for url, checkout in checkouts.items()}
        return [
            statement(
                names=names,
                manifest_digest=mdesc.digest,
                platform=str(image.platform),
                build=build,
                graph=self.graph,
                target=self.target,
                mode=request.mode,
                invocation=invocation,
                git_commits=commits,
                builder_id=request.builder_id,
                dockerfile=self.run.dockerfile(self.target, build, checkouts)
                if request.mode == "max"
                else None,
            )
            for (mdesc, image, _layers, _config), build in zip(images, self.builds, strict=False)
        ]

    def sbom_document(
        self, layers: Sequence[LayerBlob], names: Sequence[str], platform: str, epoch: int | None
    ) -> dict[str, Any]:
        """The SPDX document of the image made of ``layers`` (its time: ``epoch``, else the run's start)."""
        from bakec.attest.sbom import image_sbom

        created = datetime.fromtimestamp(epoch, UTC) if epoch is not None else self.run.started
        return image_sbom(
            self.store,
            layers,
            name=names[0] if names else self.target.name,
            platform=platform,
            created=created,
            cache_dir=self.store.root.parent / "sbom-layers",
        )

    def sbom_files(self, images: Sequence[Image], epoch: int | None) -> list[tuple[Image, bytes]]:
        """For ``local``/``tar`` outputs: each image's ``sbom.spdx.json`` (none when no SBOM is asked for).

        As BuildKit's local exporter: the statement (indented JSON) whose subjects are the
        image's regular files with their SHA-256.
        """
        if not sbom_of(self.target.attest):
            return []
        from bakec.attest.layerscan import cached_scan, merge

        out = []
        for image in images:
            cache = self.store.root.parent / "sbom-layers"
            files, _ = merge([cached_scan(self.store, blob, cache) for blob in image.layers])
            subjects = [{"name": path, "digest": {"sha256": s.sha256}} for path, s in sorted(files.items())]
            document = self.sbom_document(image.layers, (), str(image.platform), epoch)
            out.append((image, json.dumps(sbom_statement(document, subjects), indent=2).encode()))
        return out


def _subjects(names: Sequence[str], digest: str, platform: str) -> list[dict[str, Any]]:
    """The statement subjects of an image manifest: each name as a purl, as provenance names them."""
    from bakec.export.provenance import purl

    algo, _, hexpart = digest.partition(":")
    return [{"name": purl(n, platform), "digest": {algo: hexpart}} for n in names] or [
        {"name": "_", "digest": {algo: hexpart}}
    ]


def sbom_statement(document: Mapping[str, Any], subjects: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The in-toto statement carrying an SPDX ``document``."""
    from bakec.attest.sbom import statement

    return statement(document, subjects)


def attestation_manifest(
    store: ContentStore,
    statements: Sequence[Mapping[str, Any]],
    subject: Descriptor,
    *,
    oci_mediatypes: bool = True,
) -> tuple[Descriptor, Image, tuple[LayerBlob, ...], Descriptor]:
    """Write the statements' layers, config and manifest into ``store``; the index entry and its parts."""
    layers = []
    layer_json: list[dict[str, Any]] = []
    for st in statements:
        data = json.dumps(st, separators=(",", ":"), ensure_ascii=False).encode()
        digest = store.put(data, fsync=False)
        layers.append(LayerBlob(digest, digest, len(data), INTOTO_MEDIA_TYPE, len(data)))
        entry: dict[str, Any] = {"mediaType": INTOTO_MEDIA_TYPE, "digest": digest, "size": len(data)}
        if oci_mediatypes:
            entry["annotations"] = {PREDICATE_ANNOTATION: str(st.get("predicateType", ""))}
        layer_json.append(entry)
    config = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    craw = canonical_json(config)
    cdesc = Descriptor(
        OCI_CONFIG if oci_mediatypes else DOCKER_CONFIG, store.put(craw, fsync=False), len(craw)
    )
    mt = OCI_MANIFEST if oci_mediatypes else DOCKER_MANIFEST
    manifest = {
        "mediaType": mt,
        "schemaVersion": 2,
        "config": {"mediaType": cdesc.media_type, "digest": cdesc.digest, "size": cdesc.size},
        "layers": layer_json,
    }
    mraw = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    annotations = {REFERENCE_DIGEST: subject.digest, REFERENCE_TYPE: ATTESTATION_MANIFEST}
    mdesc = Descriptor(mt, store.put(mraw, fsync=False), len(mraw), annotations, UNKNOWN_PLATFORM)
    return mdesc, Image(config, tuple(layers), UNKNOWN_PLATFORM), tuple(layers), cdesc


def attach_statements(
    store: ContentStore,
    committed: Committed,
    statements: Sequence[Sequence[Mapping[str, Any]]],
    *,
    oci_mediatypes: bool = True,
) -> Committed:
    """An index of ``committed``'s image manifests followed by one attestation manifest each.

    ``statements[i]``: the statements about the i-th image manifest, one layer each.
    """
    images = list(committed.manifests)
    attestations = [
        attestation_manifest(store, sts, mdesc, oci_mediatypes=oci_mediatypes)
        for sts, (mdesc, *_rest) in zip(statements, images, strict=False)
    ]
    entries = images + attestations
    index_annotations: dict[str, str] = {}
    if len(images) > 1:  # keep an existing index's annotations
        old = json.loads(store.read(committed.root.digest))
        index_annotations = old.get("annotations") or {}
    mt = OCI_INDEX if oci_mediatypes else DOCKER_LIST
    index: dict[str, Any] = {"schemaVersion": 2, "mediaType": mt, "manifests": [e[0].json() for e in entries]}
    if index_annotations:
        index["annotations"] = index_annotations
    raw = canonical_json(index)
    root_annotations = dict(committed.root.annotations) if len(images) > 1 else {}
    return Committed(Descriptor(mt, store.put(raw), len(raw), root_annotations), tuple(entries))


def image_manifests(
    committed: Committed,
) -> list[tuple[Descriptor, Image, tuple[LayerBlob, ...], Descriptor]]:
    """The image manifests of ``committed``, without attestation manifests."""
    return [m for m in committed.manifests if m[0].annotations.get(REFERENCE_TYPE) != ATTESTATION_MANIFEST]
