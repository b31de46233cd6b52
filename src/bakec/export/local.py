"""``type=local``: the image's filesystem written into ``dest``.

Layers are applied in order with OCI whiteout rules (``.wh.<name>`` deletes what lower
layers had, ``.wh..wh..opq`` empties a dir of lower layers' entries). Extraction never
leaves ``dest``: every parent path is resolved inside it the way containerd's
``fs.RootPath`` does (``..`` stops at the root, absolute symlinks restart at the root),
and the last component is never followed. Names a layer records as one inode
(``LayerBlob.links``: a RUN hard-linked a lower layer's file) are linked again. Owners become the exporting user's, as with
BuildKit (``keep_owners=True`` keeps the layers' owners; ``bakec`` runs as root, so
both work). Several platforms go to ``dest/<os>_<arch>[_<variant>]``, or with
``platform-split=false`` all into ``dest``, refused when two platforms have the same file.
An SBOM asked for is written beside the files (:func:`write_attestations`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bakec.content.apply import apply_layer
from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export.image import Image
from bakec.export.request import ExportRequest, Metadata
from bakec.util.golang import parse_bool
from bakec.util.platform import Platform


def platform_dir(p: Platform) -> str:
    return "_".join(x for x in (p.os, p.architecture, p.variant) if x)


def unpack(
    store: ContentStore, image: Image, dest: str | Path, *, keep_owners: bool = False, delete: bool = False
) -> None:
    """Write ``image``'s filesystem into ``dest`` (``delete`` empties it first: ``mode=delete``)."""
    dest = Path(dest)
    if delete and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    owner = None if keep_owners else (os.geteuid(), os.getegid())
    for blob in image.layers:
        apply_layer(dest, store, blob, owner=owner)


def export(
    store: ContentStore,
    images: Sequence[Image],
    dest: str | Path,
    *,
    platform_split: bool | None = None,
    keep_owners: bool = False,
    mode: str = "copy",
) -> None:
    if mode not in ("copy", "delete"):
        raise BuildError(f"invalid local exporter mode {mode!r}")
    split = len(images) > 1 if platform_split is None else platform_split
    if not split and len(images) > 1:
        _export_merged(store, images, Path(dest), keep_owners=keep_owners, delete=mode == "delete")
        return
    for image in images:
        target = Path(dest) / platform_dir(image.platform) if split else Path(dest)
        unpack(store, image, target, keep_owners=keep_owners, delete=mode == "delete")


def attestation_paths(
    files: Sequence[tuple[Image, bytes]], count: int, platform_split: bool | None
) -> list[tuple[str, bytes]]:
    """Where BuildKit's local exporter puts each image's ``sbom.spdx.json``, relative to ``dest``.

    One platform: ``sbom.spdx.json``; several: ``<os>_<arch>/sbom.spdx.json``, or with
    ``platform-split=false`` ``sbom.<os>_<arch>.spdx.json``.
    """
    split = count > 1 if platform_split is None else platform_split
    out = []
    for image, data in files:
        if count == 1:
            out.append(("sbom.spdx.json", data))
        elif split:
            out.append((f"{platform_dir(image.platform)}/sbom.spdx.json", data))
        else:
            out.append((f"sbom.{platform_dir(image.platform)}.spdx.json", data))
    return out


def write_attestations(
    dest: str | Path,
    files: Sequence[tuple[Image, bytes]],
    count: int,
    platform_split: bool | None,
    epoch: int | None,
) -> None:
    """Write the attestation files (see :func:`attestation_paths`): mode 0600, mtime ``epoch`` or now."""
    moment = epoch if epoch is not None else int(time.time())
    for rel, data in attestation_paths(files, count, platform_split):
        path = Path(dest) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.utime(path, (moment, moment))


def platform_split(attrs: Mapping[str, str]) -> bool | None:
    """The ``platform-split`` attribute (``None`` when unset: split when there are several platforms)."""
    value = attrs.get("platform-split")
    if value is None:
        return None
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise BuildError(f"non-bool value for platform-split: {value}: {exc}") from None


def _export_merged(
    store: ContentStore, images: Sequence[Image], dest: Path, *, keep_owners: bool, delete: bool
) -> None:
    """Every platform's files in ``dest``; as BuildKit, a file two platforms both have is an error.

    Each platform is unpacked on its own first (a whiteout in one platform's layers must not
    delete another platform's file), then the trees are copied into ``dest``.
    """
    seen: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix=".bakec-merge-", dir=dest.parent) as tmp:
        trees = []
        for i, image in enumerate(images):
            tree = Path(tmp) / str(i)
            unpack(store, image, tree, keep_owners=True)
            for rel in _files(str(tree), ""):
                if rel in seen:
                    raise BuildError(
                        f"cannot overwrite {rel} from {seen[rel]} with {image.platform} "
                        "when split option is disabled"
                    )
                seen[rel] = str(image.platform)
            trees.append(tree)
        if delete and dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for tree in trees:
            owners = [] if keep_owners else ["--no-preserve=ownership"]
            proc = subprocess.run(
                ["cp", "-a", "--no-target-directory", *owners, f"{tree}/.", str(dest)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise BuildError(f"exporting to {dest}: {proc.stderr.strip()}")


def _files(root: str, prefix: str) -> Iterator[str]:
    """Relative paths of everything under ``root`` that is not a directory (symlinks included)."""
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from _files(entry.path, rel + "/")
            else:
                yield rel


def write(request: ExportRequest) -> Metadata:
    """The ``type=local`` exporter: ``dest`` (required) receives the files, and the SBOM files asked for."""
    epoch = request.source_date_epoch
    sbom = request.attest.sbom_files(request.images, epoch) if request.attest is not None else []
    split = platform_split(request.attrs)
    export(request.store, request.images, request.attrs["dest"], platform_split=split)
    write_attestations(request.attrs["dest"], sbom, len(request.images), split, epoch)
    return {}
