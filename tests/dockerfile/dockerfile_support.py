"""Shared constants of the Dockerfile frontend tests (importable by name)."""

from __future__ import annotations

from bakec.dockerfile import ResolvedImage
from corpus import conformance

BUSYBOX = "127.0.0.1:5000/busybox:latest"
BASE_DIGEST = "sha256:" + "b" * 64
BUSYBOX_CONFIG = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "d" * 64]},
}
CORPUS = conformance("dockerfile")


def busybox_images() -> dict[str, ResolvedImage]:
    """The corpus README's base image: one layer, Env PATH=/bin, Cmd /bin/sh, no history."""
    return {BUSYBOX: ResolvedImage.from_config(BUSYBOX, BASE_DIGEST, BUSYBOX_CONFIG)}


def plan(text: str, **kwargs):
    """Compile ``text`` with the busybox base available."""
    from bakec.dockerfile import compile

    kwargs.setdefault("base_image_configs", busybox_images())
    return compile(text, **kwargs)


def history(p) -> list[str]:
    return [h.created_by for h in p.image.history]
