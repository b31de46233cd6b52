"""``type=oci``: an OCI image layout as a tarball (or a directory with ``tar=false``).

Layout as BuildKit writes it: ``oci-layout``, ``index.json`` whose entry carries
``io.containerd.image.name`` and ``org.opencontainers.image.ref.name`` for each name,
and ``blobs/sha256/*`` (mode 0444). Entries are sorted by name, all with mtime 0.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export._archive import ArchiveOut, open_dest
from bakec.export.image import Committed, ExportOptions, Image, commit_images, layout_index
from bakec.export.request import ExportRequest, Metadata, image_metadata

OCI_LAYOUT = json.dumps({"imageLayoutVersion": "1.0.0"}, separators=(",", ":")).encode()


def blobs_of(committed: Committed) -> list[str]:
    """Every digest the layout holds: root, manifests, configs, layers (deduplicated)."""
    seen: dict[str, None] = {committed.root.digest: None}
    for mdesc, _image, layers, cdesc in committed.manifests:
        seen[mdesc.digest] = None
        seen[cdesc.digest] = None
        for layer in layers:
            seen[layer.digest] = None
    return list(seen)


def write_layout_tar(
    out: ArchiveOut, store: ContentStore, committed: Committed, names: Sequence[str], extra: dict[str, bytes]
) -> None:
    files: dict[str, bytes | Path] = {
        "oci-layout": OCI_LAYOUT,
        "index.json": layout_index(committed, names),
        **extra,
    }
    for digest in blobs_of(committed):
        files["blobs/sha256/" + digest.split(":", 1)[1]] = store.path(digest)
    out.add_dir("blobs")
    out.add_dir("blobs/sha256")
    for name in sorted(files):
        item = files[name]
        if isinstance(item, Path):
            out.add_file(name, item, 0o444)
        else:
            out.add_bytes(name, item, 0o644)


def export(
    store: ContentStore,
    images: Sequence[Image],
    opts: ExportOptions,
    attach: Callable[[Committed], Committed] | None = None,
) -> Committed:
    """Write the images as an OCI layout to ``opts.dest`` and return what was written.

    ``attach`` may add to what was committed before it is written (attestation manifests).
    """
    committed = commit_images(store, images, opts)
    if attach is not None:
        committed = attach(committed)
    if opts.tar:
        with open_dest(opts.dest) as out:
            write_layout_tar(out, store, committed, opts.names, {})
    else:
        if not opts.dest:
            raise BuildError("oci exporter: tar=false needs dest= (the directory to write the layout to)")
        write_layout_dir(Path(opts.dest), store, committed, opts.names)
    return committed


def write_layout_dir(dest: Path, store: ContentStore, committed: Committed, names: Sequence[str]) -> None:
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for digest in blobs_of(committed):
        target = blobs / digest.split(":", 1)[1]
        if not target.exists():
            tmp = target.with_name(target.name + ".tmp")
            try:
                os.link(store.path(digest), tmp)
            except OSError:
                shutil.copyfile(store.path(digest), tmp)
            os.rename(tmp, target)
    (dest / "oci-layout").write_bytes(OCI_LAYOUT)
    (dest / "index.json").write_bytes(layout_index(committed, names))


def write(request: ExportRequest) -> Metadata:
    """The ``type=oci`` exporter: named by the target's tags unless ``name=`` is set; attestations attached."""
    request = request.named_by_tags()
    opts = ExportOptions.parse(request.attrs, kind="oci", source_date_epoch=request.source_date_epoch)
    attest = request.attest
    attach = (
        None
        if attest is None
        else (
            lambda c: attest.attach(
                c,
                kind="oci",
                push=False,
                names=opts.names,
                oci_mediatypes=opts.oci_mediatypes,
                epoch=request.source_date_epoch,
            )
        )
    )
    return image_metadata(export(request.store, request.images, opts, attach=attach), opts)
