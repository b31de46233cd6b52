"""BuildKit's "did you mean" suggestions (util/suggest)."""

from __future__ import annotations


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(value: str, options: list[str], case_sensitive: bool = True) -> str | None:
    """BuildKit's ``suggest.WrapErrorMaybe``: the first option closer than 3 edits.

    An exact match means the error is unrelated to the value: no suggestion.
    """
    needle = value if case_sensitive else value.lower()
    match, best = None, 3
    for option in options:
        cand = option if case_sensitive else option.lower()
        if cand == needle:
            return None
        dist = _levenshtein(needle, cand)
        if dist < best:
            best = dist
            if case_sensitive or value == value.lower():
                match = cand
            elif value == value.upper():
                match = cand.upper()
            else:
                match = cand
    return match
