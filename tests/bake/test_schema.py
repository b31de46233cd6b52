"""The checked-in JSON Schema is current, accepts the corpora's JSON bake files and rejects malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from bakec.bake.schema import bake_schema, render
from corpus import conformance

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "bake.schema.json"


def test_checked_in_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text() == render(), "run: python -m bakec.bake.schema > schemas/bake.schema.json"


def _corpus_json_files() -> list[Path]:
    files = []
    for corpus in ("bake", "realworld"):
        root = conformance(corpus)
        for case in sorted(root.iterdir()):
            spec_file = case / "case.json"
            if not spec_file.exists() or json.loads(spec_file.read_text()).get("expect_error"):
                continue
            files.extend(p for p in case.rglob("*.json") if p.name not in ("case.json", "expected.json"))
    return files


def test_schema_accepts_every_valid_corpus_json_file() -> None:
    files = _corpus_json_files()
    assert files, "no JSON bake files in the bake/realworld corpora"
    validator = jsonschema.Draft202012Validator(bake_schema())
    for path in files:
        errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=str)
        assert not errors, f"{path}: {errors[0].message}"


@pytest.mark.parametrize(
    "document",
    [
        {"target": {"app": {"tags": "not-a-list"}}},
        {"target": {"app": {"tagz": ["typo"]}}},
        {"target": {"my.app": {}}},
        {"group": {"g": {"targets": [1]}}},
        {"target": {"app": {"args": {"A": ["x"]}}}},
        {"function": {"f": {"params": ["a"]}}},
    ],
)
def test_schema_rejects_structurally_wrong_documents(document) -> None:
    validator = jsonschema.Draft202012Validator(bake_schema())
    assert list(validator.iter_errors(document))


def test_schema_accepts_templates_in_place_of_lists() -> None:
    document = {"target": {"app": {"platforms": "${PLATFORMS}", "tags": ["${REPO}:1"], "no-cache": "${NC}"}}}
    assert not list(jsonschema.Draft202012Validator(bake_schema()).iter_errors(document))
