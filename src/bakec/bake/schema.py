"""JSON Schema (draft 2020-12) of the JSON/YAML bake format, generated from the model.

Run ``python -m bakec.bake.schema > schemas/bake.schema.json`` to refresh the
checked-in copy; a test fails when it is out of date.
"""

from __future__ import annotations

import json
from typing import Any

from bakec.bake.model import Kind, target_fields

SCHEMA_ID = "https://bakec.dev/schemas/bake.schema.json"

# A string that is a whole `${...}` template may stand for a value of any type (bake-spec §1.1).
TEMPLATE = {"type": "string", "pattern": r"^\$\{[\s\S]*\}$"}
SCALAR = {"type": ["string", "number", "boolean", "null"]}

_KIND_SCHEMAS: dict[Kind, dict[str, Any]] = {
    Kind.STRING: {"type": ["string", "null"]},
    Kind.BOOL: {
        "anyOf": [
            {"type": ["boolean", "null"]},
            {"type": "string", "pattern": r"^(true|false|\$\{[\s\S]*\})$"},
        ]
    },
    Kind.STRING_LIST: {"type": "array", "items": {"type": ["string", "null"]}},
    Kind.STRING_MAP: {"type": "object", "additionalProperties": SCALAR},
    Kind.ENTRY_LIST: {
        "type": "array",
        "items": {"anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": SCALAR}]},
    },
    Kind.OBJECT: {"type": "object"},
    Kind.OBJECT_LIST: {"type": "array", "items": {"type": "object"}},
}


def _templatable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, TEMPLATE]}


def target_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for field in target_fields():
        meta = field.metadata
        entry = dict(_KIND_SCHEMAS[meta["kind"]])
        entry = _templatable(entry) if meta["kind"] is not Kind.STRING else entry
        properties[meta["bake"]] = entry
    properties["name"] = {"type": "string"}
    properties["matrix"] = _templatable(
        {"type": "object", "additionalProperties": _templatable({"type": "array"})}
    )
    return {"type": "object", "properties": properties, "additionalProperties": False}


def bake_schema() -> dict[str, Any]:
    """The whole schema: top-level blocks keyed by label, plus top-level variables."""
    variable = {
        "type": "object",
        "properties": {
            "default": {},
            "type": {"type": "string"},
            "description": {"type": "string"},
            "validation": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"condition": {}, "error_message": {"type": "string"}},
                    "required": ["condition"],
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }
    function = {
        "type": "object",
        "properties": {
            "params": {"type": "array", "items": {"type": "string"}},
            "variadic_params": {"type": "string"},
            "result": {},
        },
        "required": ["result"],
        "additionalProperties": False,
    }
    group = {
        "type": "object",
        "properties": {
            "targets": _templatable({"type": "array", "items": {"type": "string"}}),
            "description": {"type": "string"},
        },
        "additionalProperties": False,
    }
    name_pattern = r"^[a-zA-Z0-9_-]+$"

    def labelled(schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "propertyNames": {"pattern": name_pattern}, "additionalProperties": schema}

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "docker buildx bake file (JSON/YAML form), as read by bakec",
        "type": "object",
        "properties": {
            "target": labelled(target_schema()),
            "group": labelled(group),
            "variable": {"type": "object", "additionalProperties": variable},
            "function": {"type": "object", "additionalProperties": function},
        },
        "additionalProperties": {"description": "a top-level attribute: an untyped variable"},
    }


def render() -> str:
    return json.dumps(bake_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(render())
