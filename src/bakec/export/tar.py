"""``type=tar``: the same filesystem as ``type=local``, as one tar stream or file.

The image is unpacked (owners kept) into a scratch dir next to ``dest`` and written out
with the layer tar writer, so entries are sorted and in Go's tar format. Several
platforms become top-level ``<os>_<arch>`` dirs, as in BuildKit; an SBOM is in it as
``type=local`` writes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bakec.content.layers import LowerView, _ChangeWriter, changes
from bakec.content.store import ContentStore
from bakec.export._archive import ArchiveOut, open_dest
from bakec.export.image import Image
from bakec.export.local import platform_dir, unpack, write_attestations
from bakec.export.request import ExportRequest, Metadata


def _write_tree(out: ArchiveOut, root: str) -> None:
    changes(root, LowerView(()), _ChangeWriter(out.tw, root, 0, None).handle)


def export(
    store: ContentStore,
    images: Sequence[Image],
    dest: str | None,
    *,
    platform_split: bool | None = None,
    attestations: Sequence[tuple[Image, bytes]] = (),
    epoch: int | None = None,
) -> None:
    """Write the images' filesystems (and ``attestations``, placed as ``type=local`` places them)."""
    split = len(images) > 1 if platform_split is None else platform_split
    scratch_parent = Path(dest).parent if dest not in (None, "-") else Path(tempfile.gettempdir())
    scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".bakec-tar-", dir=scratch_parent)
    try:
        os.chmod(scratch, 0o755)
        for image in images:
            target = os.path.join(scratch, platform_dir(image.platform)) if split else scratch
            unpack(store, image, target, keep_owners=True)
        write_attestations(scratch, attestations, len(images), platform_split, epoch)
        with open_dest(dest) as out:
            _write_tree(out, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write(request: ExportRequest) -> Metadata:
    """The ``type=tar`` exporter: to ``dest``, or stdout when it is ``-`` or unset (with the SBOM files asked for)."""
    epoch = request.source_date_epoch
    sbom = request.attest.sbom_files(request.images, epoch) if request.attest is not None else []
    export(request.store, request.images, request.attrs.get("dest"), attestations=sbom, epoch=epoch)
    return {}
