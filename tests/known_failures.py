"""Conformance cases known to fail, by corpus, each with its reason: the only allowed failures.

Every conformance test compares its failing cases with this list (:func:`unexpected`): a
case failing that is not listed here is a regression and fails the test; a listed case
that passes again fails the test too, until its entry is removed, so the list stays true.

Corpora: ``bake`` and ``realworld`` (tests/bake/test_conformance_bake.py),
``dockerfile-config`` (tests/dockerfile/test_conformance_config.py) and
``dockerfile-executor`` (tests/conformance/test_dockerfile_build.py).
"""

from __future__ import annotations

from collections.abc import Iterable

KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "bake": {},
    "realworld": {},
    "dockerfile-config": {},
    "dockerfile-executor": {},
}


def unexpected(corpus: str, cases: Iterable[str], failing: dict[str, str]) -> list[str]:
    """What is wrong with ``failing`` (case -> reason) against the list, one line each; empty if nothing.

    ``cases`` are all the case names run, so a listed name the corpus no longer has is reported too.
    """
    known = KNOWN_FAILURES[corpus]
    names = set(cases)
    out = [f"regression: {name}: {reason}" for name, reason in sorted(failing.items()) if name not in known]
    out += [
        f"passes now, remove it from tests/known_failures.py: {name}"
        for name in sorted(known)
        if name in names and name not in failing
    ]
    out += [
        f"listed in tests/known_failures.py but not in the corpus: {name}"
        for name in sorted(known)
        if name not in names
    ]
    return out


def expected_to_fail(corpus: str, name: str) -> str | None:
    """The listed reason when ``name`` is a known failure of ``corpus``, else None."""
    return KNOWN_FAILURES[corpus].get(name)
