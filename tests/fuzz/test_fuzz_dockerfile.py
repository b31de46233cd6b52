"""Fuzzing Dockerfiles and ``.dockerignore`` files behind an inline bake target.

Each input runs ``bakec plan --format json a`` and ``bakec check a`` under a memory cap (3 GiB:
the compiled Dockerfile parser reserves ~1.1 GiB of address space) and a time limit, and must
end in a clean result or a clean error (see fuzzing.problems). Fixed seed.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from . import strategies as s
from .fuzzing import BATCH, assert_clean, dockerfile_case, fuzz_settings

IGNORE_OR_NONE = st.one_of(st.none(), s.dockerignores, s.mutated(s.DOCKERIGNORE_SEEDS, s.IGNORE_TOKENS))


def batches(dockerfiles):
    cases = st.builds(dockerfile_case, dockerfiles, IGNORE_OR_NONE)
    return st.lists(cases, min_size=BATCH, max_size=BATCH)


@fuzz_settings(examples=4)
@given(batches(s.dockerfiles().map(str.encode)))
def test_generated_dockerfiles(cases):
    assert_clean(cases)


@fuzz_settings(examples=4)
@given(batches(s.mutated(s.DOCKERFILE_SEEDS, s.DOCKERFILE_TOKENS)))
def test_mutated_dockerfiles(cases):
    assert_clean(cases)


@fuzz_settings(examples=4)
@given(batches(st.just(b"FROM busybox\nCOPY . /ctx\nCOPY dir/ a.txt /x/\n")))
def test_dockerignores(cases):
    assert_clean(cases)
