"""``type=image`` (and ``--load``): name an image in bakec's containerd, kept whole by its GC.

containerd's garbage collector keeps what a named image reaches through
``containerd.io/gc.ref.content.*`` labels on the blobs, which its own pull and
import handlers set: an index names its manifests (``m.<i>``), a manifest its
config and layers (``config``, ``l.<i>``). Without them, once the build's lease
ends, everything but the image's root blob is collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakec.content.store import ContentStore
from bakec.export.image import Committed, normalize_name
from bakec.export.oci import blobs_of

GC_CONTENT = "containerd.io/gc.ref.content"


def gc_labels(committed: Committed) -> dict[str, dict[str, str]]:
    """The child-reference labels of each index and manifest blob, by digest."""
    labels: dict[str, dict[str, str]] = {}
    manifests = [mdesc for mdesc, _image, _layers, _config in committed.manifests]
    if committed.root.digest not in {m.digest for m in manifests}:
        labels[committed.root.digest] = {f"{GC_CONTENT}.m.{i}": m.digest for i, m in enumerate(manifests)}
    for mdesc, _image, layers, config in committed.manifests:
        labels[mdesc.digest] = {
            f"{GC_CONTENT}.config": config.digest,
            **{f"{GC_CONTENT}.l.{i}": layer.digest for i, layer in enumerate(layers)},
        }
    return labels


def store_image(client: Any, store: ContentStore, committed: Committed, names: Sequence[str]) -> None:
    """Copy the image's blobs into containerd (``client`` holds a lease) and name the root ``names``."""
    from bakec.worker.client import Descriptor

    labels = gc_labels(committed)
    for digest in blobs_of(committed):
        if not client.has_content(digest):
            client.write_content(
                f"bakec-{digest}",
                store.chunks(digest),
                expected=digest,
                total=store.size(digest),
                labels=labels.get(digest),
            )
        elif digest in labels:
            client.update_content_labels(digest, labels[digest])
    root = committed.root
    for name in names:
        client.put_image(
            normalize_name(name), Descriptor(media_type=root.media_type, digest=root.digest, size=root.size)
        )
