"""What one layer contributes to an image's SBOM, read once per layer and cached by its diffID.

A scan streams the layer's tar: every regular file gets its SHA-1 and SHA-256 (SPDX 2.3 needs
SHA-1), files a cataloger reads (see :func:`bakec.attest.catalogers.kind_of_path`) and
executables (for Go build info) are read into memory, and whiteouts, opaque dirs and entries
that replace a lower file (a symlink or dir where a file was) are noted so that
:func:`merge` can apply the layers in order as the image's filesystem does.

The cache is one JSON file per diffID in ``cache_dir``: base layers shared by many images
are scanned once for all of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakec.attest.catalogers import ELF_MAGIC, GO, Findings, Package, kind_of_path, read
from bakec.content.layers import LayerBlob
from bakec.content.store import ContentStore
from bakec.content.tar import TYPE_LINK, TYPE_REG, TarReader
from bakec.util.compression import kind_of, open_decompressed

SCAN_VERSION = 1  # bump when what a scan records changes: older cache entries are ignored
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_MAX_EXECUTABLE = 512 << 20  # larger files are hashed but not searched for Go build info


@dataclass(frozen=True)
class FileSum:
    """A regular file's checksums and size."""

    sha1: str
    sha256: str
    size: int


@dataclass
class LayerScan:
    """One layer's files, deletions and findings (paths relative to the root, no leading ``/``)."""

    files: dict[str, FileSum] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # hard links to files of lower layers
    deleted: list[str] = field(default_factory=list)  # whiteouts and non-files replacing a path
    opaque: list[str] = field(default_factory=list)  # dirs whose lower content is hidden
    findings: dict[str, Findings] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": SCAN_VERSION,
            "files": {p: [s.sha1, s.sha256, s.size] for p, s in self.files.items()},
            "links": self.links,
            "deleted": self.deleted,
            "opaque": self.opaque,
            "findings": {
                p: {"packages": [pkg.to_json() for pkg in f.packages], "os_release": f.os_release}
                for p, f in self.findings.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerScan:
        return cls(
            {p: FileSum(*v) for p, v in data["files"].items()},
            dict(data["links"]),
            list(data["deleted"]),
            list(data["opaque"]),
            {
                p: Findings([Package.from_json(x) for x in f["packages"]], dict(f["os_release"]))
                for p, f in data["findings"].items()
            },
        )


def _clean(name: str) -> str:
    while name.startswith(("./", "/")):
        name = name[2:] if name.startswith("./") else name[1:]
    return name.rstrip("/")


def scan_layer(store: ContentStore, blob: LayerBlob) -> LayerScan:
    """Read ``blob`` from ``store`` and record what it contributes (no cache)."""
    out = LayerScan()
    with open(store.path(blob.digest), "rb") as f:
        reader = TarReader(open_decompressed(f, kind_of(blob.media_type)).read)
        for entry in reader:
            path = _clean(entry.name)
            if not path:
                continue
            parent, _, base = path.rpartition("/")
            if base == _OPAQUE:
                out.opaque.append(parent)
                continue
            if base.startswith(_WHITEOUT):
                out.deleted.append(f"{parent}/{base[4:]}" if parent else base[4:])
                continue
            if entry.typeflag == TYPE_LINK:
                target = _clean(entry.linkname)
                if target in out.files:
                    out.files[path] = out.files[target]
                    if target in out.findings:
                        out.findings[path] = out.findings[target]
                else:
                    out.links[path] = target
                continue
            if entry.is_dir():
                continue
            if entry.typeflag not in (TYPE_REG, b"\x00", b"7"):
                out.deleted.append(path)  # a symlink or device hides a lower file of that name
                continue
            _scan_file(out, path, entry.mode, reader.read_data(entry))
    return out


def _scan_file(out: LayerScan, path: str, mode: int, chunks: Iterable[bytes]) -> None:
    sha1, sha256 = hashlib.sha1(usedforsecurity=False), hashlib.sha256()
    kind = kind_of_path(path)
    keep: list[bytes] | None = [] if kind is not None or mode & 0o111 else None
    size = 0
    for chunk in chunks:
        sha1.update(chunk)
        sha256.update(chunk)
        if keep is not None:
            if size == 0 and kind is None and not chunk.startswith(ELF_MAGIC):
                keep = None  # an executable that is not ELF: no Go build info to read
            elif size + len(chunk) > _MAX_EXECUTABLE:
                keep = None
            else:
                keep.append(chunk)
        size += len(chunk)
    out.files[path] = FileSum(sha1.hexdigest(), sha256.hexdigest(), size)
    if keep:
        findings = read(kind or GO, path, b"".join(keep))
        if findings.packages or findings.os_release:
            out.findings[path] = findings


_SCANNED: dict[str, LayerScan] = {}  # this process's scans by diffID (a run exports many images)


def cached_scan(store: ContentStore, blob: LayerBlob, cache_dir: Path | None) -> LayerScan:
    """:func:`scan_layer`, through the per-diffID cache in ``cache_dir`` (None: no cache)."""
    if cache_dir is None:
        return scan_layer(store, blob)
    if blob.diff_id in _SCANNED:
        return _SCANNED[blob.diff_id]
    _SCANNED[blob.diff_id] = scan = _cached_on_disk(store, blob, cache_dir)
    return scan


def _cached_on_disk(store: ContentStore, blob: LayerBlob, cache_dir: Path) -> LayerScan:
    entry = cache_dir / f"{blob.diff_id.replace(':', '-')}.json"
    try:
        data = json.loads(entry.read_bytes())
        if data.get("version") == SCAN_VERSION:
            return LayerScan.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    scan = scan_layer(store, blob)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".scan-")
    with os.fdopen(fd, "w") as f:
        json.dump(scan.to_json(), f, separators=(",", ":"))
    os.replace(tmp, entry)
    return scan


def _under(path: str, dirs: set[str]) -> bool:
    """Whether ``path`` is one of ``dirs`` or below one of them."""
    while path:
        if path in dirs:
            return True
        path = path.rpartition("/")[0]
    return False


def merge(scans: Sequence[LayerScan]) -> tuple[dict[str, FileSum], dict[str, Findings]]:
    """The image's regular files and their findings, applying ``scans`` bottom to top."""
    files: dict[str, FileSum] = {}
    findings: dict[str, Findings] = {}
    for scan in scans:
        gone = set(scan.deleted)
        hidden = {p + "/" for p in scan.opaque}
        if gone or hidden:
            for path in list(files):
                if _under(path, gone) or any(path.startswith(h) for h in hidden):
                    del files[path]
                    findings.pop(path, None)
        for path, target in scan.links.items():
            if target in files:
                files[path] = files[target]
                if target in findings:
                    findings[path] = findings[target]
        for path, sums in scan.files.items():
            files[path] = sums
            findings.pop(path, None)
        findings.update(scan.findings)
    return files, findings
