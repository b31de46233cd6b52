"""Fuzzing bake files: HCL, JSON and compose, from the grammar and mutated from the corpora.

Each input runs ``bakec build --print`` and ``bakec check`` under a memory cap and a time limit
and must end in a clean result or a clean error (see fuzzing.problems). Fixed seed: the same
inputs on every run; ``BAKEC_FUZZ_SCALE=N`` runs N times as many (CONTRIBUTING.md).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from . import strategies as s
from .fuzzing import BATCH, assert_bake_clean, fuzz_settings


def batches(files):
    return st.lists(files, min_size=BATCH, max_size=BATCH)


@fuzz_settings(examples=4)
@given(batches(s.hcl_files().map(str.encode)))
def test_generated_hcl(inputs):
    assert_bake_clean("docker-bake.hcl", inputs)


@fuzz_settings(examples=4)
@given(batches(s.mutated(s.HCL_SEEDS, s.HCL_TOKENS)))
def test_mutated_hcl(inputs):
    assert_bake_clean("docker-bake.hcl", inputs)


@fuzz_settings(examples=3)
@given(batches(s.json_bake_files))
def test_generated_json(inputs):
    assert_bake_clean("docker-bake.json", inputs)


@fuzz_settings(examples=3)
@given(batches(s.mutated(s.JSON_SEEDS, s.JSON_TOKENS)))
def test_mutated_json(inputs):
    assert_bake_clean("docker-bake.json", inputs)


@fuzz_settings(examples=3)
@given(batches(s.compose_files))
def test_generated_compose(inputs):
    assert_bake_clean("compose.yaml", inputs)


@fuzz_settings(examples=3)
@given(batches(s.mutated(s.COMPOSE_SEEDS, s.YAML_TOKENS)))
def test_mutated_compose(inputs):
    assert_bake_clean("compose.yaml", inputs)
