"""An image's SPDX 2.3 document, built and validated with spdx-tools, and its in-toto statement.

The document describes one root package (the image) that ``CONTAINS`` every package found
in its filesystem (with a purl each) and lists every regular file with its SHA-1 and SHA-256.
It is a function of the layers (and of ``created``): ``documentNamespace`` is derived from
the layers' diffIDs, so an unchanged image gets the same document when ``SOURCE_DATE_EPOCH``
fixes the time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from packageurl import PackageURL
from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.jsonschema.file_converter import FileConverter
from spdx_tools.spdx.jsonschema.package_converter import PackageConverter
from spdx_tools.spdx.model import (
    Actor,
    ActorType,
    Checksum,
    ChecksumAlgorithm,
    CreationInfo,
    Document,
    ExternalPackageRef,
    ExternalPackageRefCategory,
    File,
    Relationship,
    RelationshipType,
    SpdxNoAssertion,
)
from spdx_tools.spdx.model import (
    Package as SpdxPackage,
)
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.write_utils import convert

from bakec._version import __version__
from bakec.attest.catalogers import APK, DPKG, GO, NPM, PYTHON, Findings, Package
from bakec.attest.layerscan import FileSum, cached_scan, merge
from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
PREDICATE_TYPE = "https://spdx.dev/Document"
SBOM_FILENAME = "sbom.spdx.json"  # BuildKit's name for the final image's SBOM (buildkit-syft-scanner)
_DEFAULT_NAMESPACE = {DPKG: "debian", APK: "alpine"}
_ID_CHARS = re.compile(r"[^A-Za-z0-9.-]+")


def purl_of(pkg: Package, os_release: Mapping[str, str]) -> str:
    """The package URL of ``pkg``; deb and apk purls name the image's distro (``os-release``)."""
    if pkg.kind in (DPKG, APK):
        distro_id = os_release.get("ID", "") or _DEFAULT_NAMESPACE[pkg.kind]
        qualifiers = {"arch": pkg.arch} if pkg.arch else {}
        if pkg.source:
            qualifiers["upstream"] = pkg.source
        if os_release.get("VERSION_ID"):
            qualifiers["distro"] = f"{distro_id}-{os_release['VERSION_ID']}"
        purl = PackageURL(pkg.kind, distro_id, pkg.name, pkg.version or None, qualifiers or None)
    elif pkg.kind == PYTHON:
        purl = PackageURL("pypi", None, re.sub(r"[-_.]+", "-", pkg.name).lower(), pkg.version or None)
    elif pkg.kind == NPM:
        purl = PackageURL("npm", pkg.namespace or None, pkg.name, pkg.version or None)
    elif pkg.kind == GO:
        namespace, _, name = pkg.name.rpartition("/")
        version = pkg.version if pkg.version and pkg.version != "(devel)" else None
        purl = PackageURL("golang", namespace or None, name, version)
    else:
        raise ValueError(f"unknown package kind {pkg.kind}")
    return purl.to_string()


def _id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
    readable = _ID_CHARS.sub("-", parts[1] if len(parts) > 1 else parts[0]).strip("-")[:60]
    return f"SPDXRef-{prefix}-{readable}-{digest}" if readable else f"SPDXRef-{prefix}-{digest}"


@functools.cache
def _licensing() -> Any:
    from license_expression import get_spdx_licensing  # its license index takes ~0.1 s to load

    return get_spdx_licensing()


@functools.lru_cache(maxsize=4096)
def _license(text: str) -> Any:
    """The SPDX license expression ``text`` names, None when it is not one (free text)."""
    if not text or len(text) > 200:
        return None
    from license_expression import ExpressionError

    try:
        return _licensing().parse(text, validate=True, strict=True)
    except (ExpressionError, ValueError, TypeError):
        return None


def _actor(text: str) -> Actor | SpdxNoAssertion:
    """``Name <email>`` (a maintainer field) as an SPDX person."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]*)>\s*", text)
    if match and match.group(1):
        return Actor(ActorType.PERSON, match.group(1), match.group(2) or None)
    return Actor(ActorType.PERSON, text.strip()) if text.strip() else SpdxNoAssertion()


def packages_of(findings: Mapping[str, Findings]) -> tuple[list[Package], dict[str, str]]:
    """The image's packages (sorted, duplicates dropped) and its ``os-release`` fields."""
    os_release: dict[str, str] = {}
    for path in ("usr/lib/os-release", "etc/os-release"):  # /etc wins, as on a running system
        if path in findings:
            os_release = findings[path].os_release
    seen: dict[tuple[str, str, str, str], Package] = {}
    for path in sorted(findings):
        for pkg in findings[path].packages:
            seen.setdefault((pkg.kind, pkg.namespace, pkg.name, pkg.version, pkg.location)[:4], pkg)
    return sorted(seen.values(), key=lambda p: (p.kind, p.namespace, p.name, p.version)), os_release


@functools.lru_cache(maxsize=1 << 16)
def _file_json(path: str, sums: FileSum) -> dict[str, Any]:
    """One file's SPDX JSON (memoised: images sharing a base layer share its files' entries)."""
    checksums = [Checksum(ChecksumAlgorithm.SHA1, sums.sha1), Checksum(ChecksumAlgorithm.SHA256, sums.sha256)]
    return FileConverter().convert(
        File("./" + path, _id("File", path), checksums), _annotation_free_document()
    )


@functools.cache
def _annotation_free_document() -> Document:
    """What the package converter looks up a package's annotations in: bakec writes none."""
    info = CreationInfo(
        "SPDX-2.3", "SPDXRef-DOCUMENT", "-", "https://spdx.org/spdxdocs/-", [], datetime.now()
    )
    return Document(info)


@functools.lru_cache(maxsize=1 << 14)
def _package_json(pkg: Package, os_release: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """One package's SPDX JSON, with its purl."""
    license_ = _license(pkg.license)
    spdx = SpdxPackage(
        _id("Package", pkg.kind, pkg.namespace + pkg.name, pkg.version, pkg.location),
        f"{pkg.namespace}/{pkg.name}" if pkg.namespace else pkg.name,
        SpdxNoAssertion(),
        version=pkg.version or None,
        files_analyzed=False,
        supplier=_actor(pkg.supplier),
        source_info=f"acquired package info from /{pkg.location}",
        license_declared=license_ if license_ is not None else SpdxNoAssertion(),
        license_concluded=SpdxNoAssertion(),
        copyright_text=SpdxNoAssertion(),
        external_references=[
            ExternalPackageRef(
                ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl_of(pkg, dict(os_release))
            )
        ],
    )
    return PackageConverter().convert(spdx, _annotation_free_document())


def document(
    name: str,
    platform: str,
    files: Mapping[str, FileSum],
    findings: Mapping[str, Findings],
    layer_ids: Sequence[str],
    created: datetime,
) -> dict[str, Any]:
    """The SPDX 2.3 JSON document (a dict) of an image with these files and findings.

    Every element is an spdx-tools model object converted by spdx-tools; the files' and
    packages' entries are converted once per process and reused (see :func:`_file_json`).
    """
    packages, os_release = packages_of(findings)
    key = "\n".join([name, platform, *layer_ids])
    namespace_id = uuid.uuid5(uuid.NAMESPACE_URL, "bakec-sbom:" + key)
    doc_name = name or "image"
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=doc_name,
        document_namespace=f"https://spdx.org/spdxdocs/bakec-{_ID_CHARS.sub('-', doc_name)}-{namespace_id}",
        creators=[Actor(ActorType.TOOL, f"bakec-{__version__}")],
        created=created.replace(microsecond=0),
    )
    root_id = "SPDXRef-DocumentRoot-Image"
    root = SpdxPackage(
        root_id,
        doc_name,
        SpdxNoAssertion(),
        files_analyzed=False,
        comment=f"platform {platform}" if platform else None,
    )
    release = tuple(sorted(os_release.items()))
    package_entries = [_package_json(pkg, release) for pkg in packages]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, root_id)]
    relationships += [
        Relationship(root_id, RelationshipType.CONTAINS, entry["SPDXID"]) for entry in package_entries
    ]
    out = convert(Document(info, packages=[root], relationships=relationships), DocumentConverter())
    out["packages"] = out["packages"] + package_entries
    out["files"] = [_file_json(path, sums) for path, sums in sorted(files.items())]
    return out


def validate(doc: Mapping[str, Any]) -> list[str]:
    """spdx-tools' validation messages for the JSON document ``doc`` (empty: valid).

    Not run on every build: spdx-tools' validator is quadratic in the number of packages
    (seconds for a few hundred); the tests run it on every kind of document bakec writes.
    """
    from spdx_tools.spdx.parser.json.json_parser import parse_from_file

    with tempfile.NamedTemporaryFile("w", suffix=".spdx.json") as f:
        json.dump(doc, f)
        f.flush()
        parsed = parse_from_file(f.name)
    return [m.validation_message for m in validate_full_spdx_document(parsed)]


def image_sbom(
    store: ContentStore,
    layers: Sequence[LayerBlob],
    *,
    name: str,
    platform: str,
    created: datetime,
    cache_dir: Path | None,
) -> dict[str, Any]:
    """The SPDX document of the image made of ``layers`` (each layer scanned once, see ``cache_dir``)."""
    files, findings = merge([cached_scan(store, blob, cache_dir) for blob in layers])
    return document(name, platform, files, findings, [b.diff_id for b in layers], created)


def statement(predicate: Mapping[str, Any], subjects: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The in-toto statement carrying an SPDX document about ``subjects``."""
    return {
        "_type": STATEMENT_TYPE,
        "predicateType": PREDICATE_TYPE,
        "subject": list(subjects),
        "predicate": dict(predicate),
    }
