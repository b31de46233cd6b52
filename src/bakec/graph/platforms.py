"""The platforms a target builds for, read from its ``platforms`` as buildx reads them.

As buildx's ``platformutil.Parse``: an entry may hold several comma-separated platforms,
``local`` is the platform bakec runs on, and every platform is normalized
(``linux/arm64/v8`` is ``linux/arm64``, ``linux/arm`` is ``linux/arm/v7``). A platform
named twice is built once (``platformutil.Dedupe``). A value that does not parse is kept
as written, for the Dockerfile compiler to report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bakec.errors import BuildError
from bakec.util.platform import Platform, PlatformError


def target_platforms(values: Sequence[str] | None, build_platform: str) -> list[str]:
    """The normalized, deduplicated platforms of a target; ``[""]`` (the default) when it names none."""
    out: list[str] = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip()
            if part.lower() == "local":
                part = build_platform
            try:
                part = str(Platform.parse(part).normalize())
            except PlatformError:
                pass
            if part not in out:
                out.append(part)
    return out or [""]


def refuse_docker_manifest_lists(targets: Iterable[Any]) -> None:
    """As buildx does before building: a ``docker`` output of several platforms is an error.

    buildx counts the platforms as written (commas split, nothing deduplicated); its message
    for a tarball (``dest``) points to the oci exporter, the one for ``--load`` does not.
    """
    for target in targets:
        count = sum(len(value.split(",")) for value in target.platforms or ())
        if count < 2:
            continue
        for out in target.output or ():
            if out.get("type") != "docker":
                continue
            if out.get("dest"):
                raise BuildError(
                    "docker exporter does not support exporting manifest lists, use the oci exporter instead"
                )
            raise BuildError("docker exporter does not currently support exporting manifest lists")
