"""Finding and reading bake files exactly as buildx does (bake-spec §1).

Without ``-f``, every default file that exists is read, in buildx's order;
``BUILDX_BAKE_FILE`` names files instead. ``-f -`` reads stdin. Each file is
classified as compose YAML, bakec's own YAML form, JSON or HCL; ``*.yaml.j2``
and ``*.yml.j2`` are rendered with Jinja2 first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Mapping

from bakec.errors import SpecError
from bakec.util.sourcefile import read_source, read_stream

DEFAULT_FILES = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
    "docker-bake.json",
    "docker-bake.hcl",
    "docker-bake.override.json",
    "docker-bake.override.hcl",
)

OWN_YAML_KEYS = ("target", "group", "variable", "function")


@dataclass(frozen=True)
class SourceFile:
    """One bake file's name (as the user gave it) and bytes."""

    name: str
    data: bytes


def read_files(names: list[str], cwd: str, env: Mapping[str, str]) -> list[SourceFile]:
    """Read the files named with ``-f`` (or the defaults); raise buildx's errors.

    An empty file counts as no file at all (buildx's reader leaves its data nil and skips
    it, named or not), except standard input.
    """
    files = [f for f in _read_named_or_default(names, cwd, env) if f.data or f.name == "-"]
    if not files:
        raise SpecError("couldn't find a bake definition")
    return files


def _read_named_or_default(names: list[str], cwd: str, env: Mapping[str, str]) -> list[SourceFile]:
    if names:
        return [_read_explicit(name, cwd) for name in names]
    env_files = env.get("BUILDX_BAKE_FILE")
    if env_files:
        separator = env.get("BUILDX_BAKE_PATH_SEPARATOR") or os.pathsep
        out = []
        for name in env_files.split(separator):
            path = os.path.join(cwd, name)
            if not os.path.exists(path):
                raise SpecError(f"stat {name}: no such file or directory")
            out.append(_read_explicit(name, cwd))
        return out
    out = []
    for name in DEFAULT_FILES:
        path = os.path.join(cwd, name)
        if os.path.isfile(path):
            out.append(SourceFile(name, read_source(path, name)))
    if not out:
        raise SpecError("couldn't find a bake definition")
    return out


def _read_explicit(name: str, cwd: str) -> SourceFile:
    if name == "-":
        return SourceFile("-", read_stream(sys.stdin.buffer, "-"))
    local = name[len("cwd://") :] if name.startswith("cwd://") else name
    path = os.path.join(cwd, local)
    try:
        return SourceFile(local, read_source(path, local))
    except FileNotFoundError:
        raise SpecError(f"open {local}: no such file or directory") from None
    except IsADirectoryError:
        raise SpecError(f"read {local}: is a directory") from None
    except PermissionError:
        raise SpecError(f"open {local}: permission denied") from None


def classify(source: SourceFile) -> str:
    """``compose``, ``yaml`` (bakec's own form), ``json``, ``hcl``, or ``unknown`` (try compose, then HCL)."""
    lower = source.name.lower()
    if lower.endswith((".yml", ".yaml")):
        return "yaml" if _is_own_yaml(source.data) else "compose"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".hcl"):
        return "hcl"
    return "unknown"


def _is_own_yaml(data: bytes) -> bool:
    import yaml

    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and "services" not in doc and any(k in doc for k in OWN_YAML_KEYS)


def render_template(source: SourceFile, context: Mapping[str, str]) -> SourceFile:
    """Render a ``*.yaml.j2``/``*.yml.j2`` file with Jinja2 (environment and ``--var`` values)."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    try:
        text = env.from_string(source.data.decode("utf-8")).render(**context)
    except jinja2.TemplateSyntaxError as err:
        raise SpecError(f"{source.name}:{err.lineno}: template syntax error: {err.message}") from None
    except jinja2.UndefinedError as err:
        raise SpecError(f"{source.name}: template error: {err.message}") from None
    return SourceFile(source.name[: -len(".j2")], text.encode("utf-8"))


def is_template(name: str) -> bool:
    return name.lower().endswith((".yaml.j2", ".yml.j2"))
