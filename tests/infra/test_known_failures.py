"""tests/known_failures.py: a failure not listed is a regression; a listed case that passes is reported too."""

from __future__ import annotations

import pytest

from known_failures import KNOWN_FAILURES, unexpected


def test_unlisted_failure_is_a_regression_and_listed_ones_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(KNOWN_FAILURES, "bake", {"002-b": "waits for the frontend's fix"})
    cases = ["001-a", "002-b", "003-c"]
    assert unexpected("bake", cases, {"002-b": "output differs"}) == []
    assert unexpected("bake", cases, {"002-b": "output differs", "003-c": "exit 1: boom"}) == [
        "regression: 003-c: exit 1: boom"
    ]


def test_listed_case_that_passes_or_left_the_corpus_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KNOWN_FAILURES, "realworld", {"002-b": "reason", "009-gone": "reason"})
    assert unexpected("realworld", ["001-a", "002-b"], {}) == [
        "passes now, remove it from tests/known_failures.py: 002-b",
        "listed in tests/known_failures.py but not in the corpus: 009-gone",
    ]


def test_every_listed_failure_has_a_reason() -> None:
    assert set(KNOWN_FAILURES) == {"bake", "realworld", "dockerfile-config", "dockerfile-executor"}
    for corpus, cases in KNOWN_FAILURES.items():
        for name, reason in cases.items():
            assert reason.strip(), f"{corpus}/{name} has no reason"
