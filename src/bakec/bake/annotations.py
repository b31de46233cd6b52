"""A target's ``annotations`` as exporter attributes, as buildx adds them to every output.

``org.example.k=v`` becomes ``annotation.org.example.k=v`` (the image manifest);
``index,manifest[linux/arm64]:k=v`` becomes ``annotation-index.k`` and
``annotation-manifest[linux/arm64].k``. The entries were validated when the target was
resolved (:func:`bakec.bake.options.validate_annotations`). Like buildx, they override an
output's own attribute of the same key.
"""

from __future__ import annotations

from collections.abc import Iterable


def export_attrs(annotations: Iterable[str]) -> dict[str, str]:
    """The exporter attributes for a target's ``annotations`` entries."""
    out: dict[str, str] = {}
    for item in annotations:
        key, sep, value = item.partition("=")
        if not sep:
            continue
        types, colon, name = key.partition(":")
        if not colon:
            out[f"annotation.{key}"] = value
            continue
        for scope in types.split(","):
            out[f"annotation-{scope}.{name}"] = value
    return out
