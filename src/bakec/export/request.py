"""What every exporter is given for one output of one target, and the metadata image outputs return."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bakec.content.store import ContentStore
from bakec.export.attest import image_manifests
from bakec.export.image import Committed, ExportOptions, Image

if TYPE_CHECKING:
    from bakec.export.attest import TargetAttestations
    from bakec.export.publish import Publisher

Metadata = dict[str, Any]  # what ``--metadata-file`` records of an output (``containerimage.digest``, ...)


@dataclass(frozen=True)
class ExportRequest:
    """One output (``type=...,attrs``) of one target: its images (one per platform) and the build's services.

    ``attrs`` are the output's attributes without ``type``, its ``dest`` already absolute;
    ``containerd`` is the build's leased containerd client (connected only when an exporter uses it).
    """

    target: str
    attrs: Mapping[str, str]
    images: Sequence[Image]
    store: ContentStore
    containerd: Any
    tags: Sequence[str]
    source_date_epoch: int | None
    publisher: Publisher
    attest: TargetAttestations | None = None

    def named_by_tags(self) -> ExportRequest:
        """This request with ``name=`` set to the target's tags when the output names none (oci, docker)."""
        if "name" in self.attrs or not self.tags:
            return self
        return replace(self, attrs={**self.attrs, "name": ",".join(self.tags)})


def image_metadata(committed: Committed, opts: ExportOptions) -> Metadata:
    """The metadata of an exported image: its root descriptor, its config (one platform) and names."""
    root = committed.root
    manifests = image_manifests(committed)
    config = manifests[0][3] if len(manifests) == 1 else None
    out: Metadata = {"containerimage.digest": root.digest, "containerimage.descriptor": root.json()}
    if config is not None:
        out["containerimage.config.digest"] = config.digest
    if opts.names:
        out["image.name"] = ",".join(opts.names)
    return out
