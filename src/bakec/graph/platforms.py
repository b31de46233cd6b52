"""The platforms a target builds for, read from its ``platforms`` as buildx reads them.

As buildx's ``platformutil.Parse``: an entry may hold several comma-separated platforms,
``local`` is the platform bakec runs on, and every platform is normalized
(``linux/arm64/v8`` is ``linux/arm64``, ``linux/arm`` is ``linux/arm/v7``). A platform
named twice is built once (``platformutil.Dedupe``). A value that does not parse is kept
as written, for the Dockerfile compiler to report.
"""

from __future__ import annotations

from collections.abc import Sequence

from bakec.registry.errors import RegistryError
from bakec.registry.platform import Platform


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
            except RegistryError:
                pass
            if part not in out:
                out.append(part)
    return out or [""]
