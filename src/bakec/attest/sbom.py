"""An image's SPDX 2.3 JSON document and the in-toto statement that carries it.

The document describes one root package (the image) that ``CONTAINS`` every package found
in its filesystem (with a purl each) and lists every regular file with its SHA-1 and SHA-256.
It is a function of the layers (and of ``created``): ``documentNamespace`` is derived from
the layers' diffIDs, so an unchanged image gets the same document when ``SOURCE_DATE_EPOCH``
fixes the time.

The JSON is written here, field for field as spdx-tools' converter writes its model:
importing spdx-tools (beartype-checked model classes) costs ~0.3 s of CPU, more than the
rest of a monorepo build's SBOMs together. :func:`validate` reads a document back with
spdx-tools, validates it and checks that spdx-tools writes the same JSON; the tests run it on
every kind of document bakec writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from bakec._version import __version__
from bakec.attest.catalogers import APK, DPKG, GO, NPM, PYTHON, Findings, Package
from bakec.attest.layerscan import FileSum, cached_scan, merge
from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore

NOASSERTION = "NOASSERTION"
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
def _license(text: str) -> str:
    """``text`` as an SPDX license expression, NOASSERTION when it is not one (free text)."""
    if not text or len(text) > 200:
        return NOASSERTION
    from license_expression import ExpressionError

    try:
        return str(_licensing().parse(text, validate=True, strict=True))
    except (ExpressionError, ValueError, TypeError):
        return NOASSERTION


def _actor(text: str) -> str:
    """``Name <email>`` (a maintainer field) as an SPDX person."""
    match = re.fullmatch(r"\s*(.*?)\s*<([^<>]*)>\s*", text)
    if match and match.group(1):
        return (
            f"Person: {match.group(1)} ({match.group(2)})" if match.group(2) else f"Person: {match.group(1)}"
        )
    return f"Person: {text.strip()}" if text.strip() else NOASSERTION


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
    """One file's entry (memoised: images sharing a base layer share its files' entries)."""
    return {
        "SPDXID": _id("File", path),
        "checksums": [
            {"algorithm": "SHA1", "checksumValue": sums.sha1},
            {"algorithm": "SHA256", "checksumValue": sums.sha256},
        ],
        "fileName": "./" + path,
    }


@functools.lru_cache(maxsize=1 << 14)
def _package_json(pkg: Package, os_release: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """One package's entry, with its purl."""
    entry: dict[str, Any] = {
        "SPDXID": _id("Package", pkg.kind, pkg.namespace + pkg.name, pkg.version, pkg.location),
        "copyrightText": NOASSERTION,
        "downloadLocation": NOASSERTION,
        "externalRefs": [
            {
                "referenceCategory": "PACKAGE_MANAGER",
                "referenceLocator": purl_of(pkg, dict(os_release)),
                "referenceType": "purl",
            }
        ],
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": _license(pkg.license),
        "name": f"{pkg.namespace}/{pkg.name}" if pkg.namespace else pkg.name,
        "sourceInfo": f"acquired package info from /{pkg.location}",
        "supplier": _actor(pkg.supplier),
    }
    if pkg.version:
        entry["versionInfo"] = pkg.version
    return entry


def document(
    name: str,
    platform: str,
    files: Mapping[str, FileSum],
    findings: Mapping[str, Findings],
    layer_ids: Sequence[str],
    created: datetime,
) -> dict[str, Any]:
    """The SPDX 2.3 JSON document (a dict) of an image with these files and findings."""
    packages, os_release = packages_of(findings)
    key = "\n".join([name, platform, *layer_ids])
    namespace_id = uuid.uuid5(uuid.NAMESPACE_URL, "bakec-sbom:" + key)
    doc_name = name or "image"
    root_id = "SPDXRef-DocumentRoot-Image"
    root: dict[str, Any] = {"SPDXID": root_id, "downloadLocation": NOASSERTION, "filesAnalyzed": False}
    if platform:
        root["comment"] = f"platform {platform}"
    root["name"] = doc_name
    release = tuple(sorted(os_release.items()))
    package_entries = [_package_json(pkg, release) for pkg in packages]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relatedSpdxElement": root_id, "relationshipType": "DESCRIBES"}
    ]
    relationships += [
        {"spdxElementId": root_id, "relatedSpdxElement": entry["SPDXID"], "relationshipType": "CONTAINS"}
        for entry in package_entries
    ]
    return {
        "SPDXID": "SPDXRef-DOCUMENT",
        "creationInfo": {
            "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "creators": [f"Tool: bakec-{__version__}"],
        },
        "dataLicense": "CC0-1.0",
        "name": doc_name,
        "spdxVersion": "SPDX-2.3",
        "documentNamespace": f"https://spdx.org/spdxdocs/bakec-{_ID_CHARS.sub('-', doc_name)}-{namespace_id}",
        "packages": [root, *package_entries],
        "files": [_file_json(path, sums) for path, sums in sorted(files.items())],
        "relationships": relationships,
    }


def validate(doc: Mapping[str, Any]) -> list[str]:
    """What is wrong with the JSON document ``doc`` for spdx-tools (empty: nothing).

    spdx-tools parses it into its model and validates that (SPDX 2.3 rules: ids, checksums,
    relationships, license expressions, purls); its converter must then write the same JSON.
    """
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    from spdx_tools.spdx.writer.write_utils import convert

    parsed = JsonLikeDictParser().parse(json.loads(json.dumps(doc)))
    problems = [m.validation_message for m in validate_full_spdx_document(parsed)]
    written = convert(parsed, DocumentConverter())
    if json.dumps(written, sort_keys=True) != json.dumps(doc, sort_keys=True):
        problems.append("spdx-tools writes this document differently")
    return problems


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
