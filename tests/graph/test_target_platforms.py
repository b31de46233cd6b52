"""A target's ``platforms`` as buildx reads them: commas, ``local``, normalization, duplicates."""

from __future__ import annotations

from bakec.graph.platforms import target_platforms


def test_no_platforms_is_the_default():
    assert target_platforms(None, "linux/amd64") == [""]
    assert target_platforms([], "linux/amd64") == [""]


def test_commas_local_and_normalization():
    assert target_platforms(["linux/amd64,linux/arm64/v8", "local", "linux/arm"], "linux/riscv64") == [
        "linux/amd64", "linux/arm64", "linux/riscv64", "linux/arm/v7"]


def test_a_platform_named_twice_is_built_once():
    assert target_platforms(["linux/arm64", "linux/arm64/v8", "linux/amd64", "local"], "linux/amd64") == [
        "linux/arm64", "linux/amd64"]


def test_an_unparsable_value_is_kept_for_the_compiler_to_report():
    assert target_platforms(["linux/amd64", "not a platform"], "linux/amd64") == ["linux/amd64", "not a platform"]
