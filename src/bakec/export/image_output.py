"""``type=image`` and ``type=registry``: the image named in bakec's containerd and, when pushed, queued.

As buildx: ``registry`` is ``image,push=true``; the target's tags replace ``name=``.
Pushed images are only queued here (:class:`bakec.export.publish.Publisher`): they are
sent once every target has built.
"""

from __future__ import annotations

from bakec.errors import BuildError
from bakec.export.containerd_store import store_image
from bakec.export.image import ExportOptions, commit_images
from bakec.export.publish import attr_flag, image_names
from bakec.export.request import ExportRequest, Metadata, image_metadata


def write_image(request: ExportRequest) -> Metadata:
    """The ``type=image`` exporter (pushed with ``push=true``, kept in containerd unless ``store=false``)."""
    return _write(request, "image", attr_flag(request.attrs, "push", False))


def write_registry(request: ExportRequest) -> Metadata:
    """The ``type=registry`` exporter: ``type=image`` that is always pushed."""
    return _write(request, "registry", True)


def _write(request: ExportRequest, kind: str, push: bool) -> Metadata:
    names = image_names(request.attrs, list(request.tags))
    opts = ExportOptions.parse(
        {**request.attrs, "name": ",".join(names)}, kind="oci", source_date_epoch=request.source_date_epoch
    )
    if push and not names:
        raise BuildError("tag is needed when pushing to registry")
    committed = commit_images(request.store, request.images, opts)
    if request.attest is not None:
        committed = request.attest.attach(
            committed,
            kind=kind,
            push=push,
            names=opts.names,
            oci_mediatypes=opts.oci_mediatypes,
            epoch=request.source_date_epoch,
        )
    if attr_flag(request.attrs, "store", True):
        store_image(request.containerd, request.store, committed, opts.names)
    if push:
        request.publisher.add(request.target, opts.names, committed, request.attrs)
    return image_metadata(committed, opts)
