"""``--list``: parse its value (``targets``, ``type=variables,format=json``) and render."""

from __future__ import annotations

from bakec.bake.printer import list_targets, list_variables
from bakec.errors import SpecError


def parse_list_value(value: str) -> tuple[str, str]:
    """``(type, format)`` from a ``--list`` value, as buildx parses it."""
    kind, fmt = "", "table"
    if "=" not in value:
        kind = value
    else:
        for part in value.split(","):
            key, _, item = part.partition("=")
            key = key.strip().lower()
            if key == "type":
                kind = item
            elif key == "format":
                fmt = item
            else:
                raise SpecError(f"invalid list key {key!r}")
    if kind not in ("targets", "variables"):
        raise SpecError(f'invalid list type "{kind}"')
    if fmt not in ("table", "json"):
        raise SpecError(f'invalid list format "{fmt}"')
    return kind, fmt


def render_list(definition, value: str) -> str:
    """The text ``docker buildx bake --list VALUE`` prints for this definition."""
    kind, fmt = parse_list_value(value)
    if kind == "targets":
        return list_targets(definition.groups, definition.targets, fmt)
    return list_variables(definition.variables, fmt)
