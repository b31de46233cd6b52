"""bakec: a build-spec compiler and image builder for docker buildx bake files.

The library face is small; everything is imported lazily so the CLI starts fast::

    import bakec
    definition = bakec.load(["docker-bake.hcl"], env={"TAG": "1"})
    print(definition.print_json(["default"]))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from bakec.bake.definition import Definition

__all__ = ["__version__", "load"]
from bakec._version import __version__


def load(
    files: Sequence[str] = (),
    *,
    env: Mapping[str, str] | None = None,
    overrides: Sequence[str] = (),
    vars: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> "Definition":
    """Read and evaluate bake files as buildx does; ``overrides`` are ``--set`` values applied on resolve."""
    from bakec.bake.definition import load as _load

    definition = _load(files, env=env, cwd=cwd, vars=vars)
    definition.default_overrides = list(overrides)
    return definition
