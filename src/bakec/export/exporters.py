"""The one registry of exporters: an output's ``type=`` chooses what writes it and how its step is named.

Every exporter takes an :class:`~bakec.export.request.ExportRequest` and returns the output's
metadata; adding an output type is one entry here and one ``write`` function in its module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bakec.errors import BuildError
from bakec.export import docker, docker_daemon, image_output, local, oci, tar
from bakec.export.request import ExportRequest, Metadata


@dataclass(frozen=True)
class Exporter:
    """One output type: BuildKit's name for its progress step (None: no step) and its writer."""

    step: str | None
    write: Callable[[ExportRequest], Metadata]


def _docker(request: ExportRequest) -> Metadata:
    """``type=docker``: an archive at ``dest``, or without one (``--load``) into containerd and docker."""
    return docker.write(request) if request.attrs.get("dest") else docker_daemon.write_loaded(request)


EXPORTERS: Mapping[str, Exporter] = {
    "cacheonly": Exporter(None, lambda _request: {}),
    "local": Exporter("exporting to client directory", local.write),
    "tar": Exporter("exporting to client tarball", tar.write),
    "oci": Exporter("exporting to oci image format", oci.write),
    "docker": Exporter("exporting to docker image format", _docker),
    "image": Exporter("exporting to image", image_output.write_image),
    "registry": Exporter("exporting to image", image_output.write_registry),
}


def exporter_for(kind: str) -> Exporter:
    """The exporter of output type ``kind``; an unknown type is an error."""
    found = EXPORTERS.get(kind)
    if found is None:
        raise BuildError(f"unknown output type {kind!r}")
    return found


def with_absolute_dest(attrs: Mapping[str, str], cwd: str) -> dict[str, str]:
    """``attrs`` with a relative ``dest`` taken from ``cwd`` (its parent directory created); ``-`` is stdout."""
    dest = attrs.get("dest")
    if not dest or dest == "-" or os.path.isabs(dest):
        return dict(attrs)
    absolute = os.path.join(cwd, dest)
    Path(absolute).parent.mkdir(parents=True, exist_ok=True)
    return {**attrs, "dest": absolute}
