"""The bake and realworld conformance corpora: pass counts printed, every case must pass.

Only the cases listed in tests/known_failures.py may fail; any other failure is a regression.
"""

from __future__ import annotations

import pytest

from known_failures import unexpected

from .bake_corpus import run_corpus


@pytest.mark.parametrize("corpus", ["bake", "realworld"])
def test_corpus_passes_but_known_failures(corpus: str, capsys) -> None:
    outcomes = run_corpus(corpus)
    failing = {o.name: (o.reason.splitlines() or [""])[0] for o in outcomes if not o.passed}
    with capsys.disabled():
        print(f"\n{corpus} conformance: {len(outcomes) - len(failing)}/{len(outcomes)} passed")
        for name, reason in failing.items():
            print(f"  FAIL {name}: {reason}")
    problems = unexpected(corpus, [o.name for o in outcomes], failing)
    assert not problems, f"{corpus} conformance:\n" + "\n".join(problems)
