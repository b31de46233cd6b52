"""The bake and realworld conformance corpora: pass counts printed, bars enforced.

Bars (issue #2): bake >= 97 %, realworld >= 95 %; the goal is 100 %.
"""

from __future__ import annotations

import pytest

from .bake_corpus import SHARED, run_corpus

BARS = {"bake": 0.97, "realworld": 0.95}


@pytest.mark.parametrize("corpus", ["bake", "realworld"])
def test_corpus_meets_bar(corpus: str, capsys) -> None:
    if not (SHARED / corpus).is_dir():
        pytest.skip(f"conformance corpus not found at {SHARED / corpus}")
    outcomes = run_corpus(corpus)
    passed = [o for o in outcomes if o.passed]
    failed = [o for o in outcomes if not o.passed]
    with capsys.disabled():
        print(f"\n{corpus} conformance: {len(passed)}/{len(outcomes)} passed")
        for outcome in failed:
            print(f"  FAIL {outcome.name}: {outcome.reason.splitlines()[0] if outcome.reason else ''}")
    assert len(passed) / len(outcomes) >= BARS[corpus], (
        f"{corpus}: {len(passed)}/{len(outcomes)} below the bar"
    )
