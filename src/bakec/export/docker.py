"""``type=docker``: a tarball for ``docker load`` (and skopeo's ``docker-archive:``).

It is the OCI layout (so containerd's importer reads ``index.json``) plus Docker's
``manifest.json`` (``Config``, ``RepoTags``, ``Layers`` as paths into ``blobs/``) and
``repositories``. Media types default to Docker's (``oci-mediatypes=false``), as in
BuildKit. A docker archive holds one platform, so several images are refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bakec.content.store import ContentStore
from bakec.errors import BuildError
from bakec.export._archive import open_dest
from bakec.export.image import Committed, ExportOptions, Image, commit_images, split_name
from bakec.export.oci import write_layout_tar
from bakec.export.request import ExportRequest, Metadata, image_metadata


def familiar(name: str) -> str:
    """``docker.io/library/foo:latest`` → ``foo:latest``, as ``docker images`` shows it."""
    repo, tag = split_name(name)
    repo = repo.removeprefix("docker.io/").removeprefix("library/") if repo.startswith("docker.io/") else repo
    return f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"


def docker_files(committed: Committed, names: Sequence[str]) -> dict[str, bytes]:
    (_mdesc, _image, layers, cdesc) = committed.manifests[0]
    tags = [familiar(n) for n in names if not split_name(n)[1].startswith("sha256:")]
    manifest = [
        {
            "Config": "blobs/sha256/" + cdesc.digest.split(":", 1)[1],
            "RepoTags": tags or None,
            "Layers": ["blobs/sha256/" + b.digest.split(":", 1)[1] for b in layers],
        }
    ]
    repositories: dict[str, dict[str, str]] = {}
    for tag in tags:
        repo, _, t = tag.rpartition(":")
        repositories.setdefault(repo, {})[t] = cdesc.digest.split(":", 1)[1]
    files = {"manifest.json": json.dumps(manifest, separators=(",", ":")).encode()}
    if repositories:
        files["repositories"] = json.dumps(repositories, separators=(",", ":")).encode()
    return files


def export(store: ContentStore, images: Sequence[Image], opts: ExportOptions) -> Committed:
    if len(images) != 1:
        raise BuildError("docker exporter does not currently support exporting manifest lists")
    committed = commit_images(store, images, opts)
    with open_dest(opts.dest) as out:
        write_layout_tar(out, store, committed, opts.names, docker_files(committed, opts.names))
    return committed


def write(request: ExportRequest) -> Metadata:
    """The ``type=docker`` exporter with a ``dest``: the archive written there (``-``: stdout)."""
    request = request.named_by_tags()
    opts = ExportOptions.parse(request.attrs, kind="docker", source_date_epoch=request.source_date_epoch)
    return image_metadata(export(request.store, request.images, opts), opts)
