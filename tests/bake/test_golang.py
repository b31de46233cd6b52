"""bakec.util.golang: Go's strconv.Quote and time.ParseDuration, shared by the stdlib, the frontend and prune."""

from __future__ import annotations

import pytest

from bakec.solver.prune import parse_duration as prune_duration
from bakec.util.golang import go_quote, parse_duration


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("1h30m", 5400 * 10**9),
        ("1.5h", 5400 * 10**9),
        ("90s", 90 * 10**9),
        ("-2ms", -2 * 10**6),
        ("1.1s", 1_100_000_000),
        ("3\u00b5s", 3000),
        (".5m", 30 * 10**9),
    ],
)
def test_parse_duration_as_go(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("5", 'time: missing unit in duration "5"'),
        ("5d", 'time: unknown unit "d" in duration "5d"'),
        (".s", 'time: invalid duration ".s"'),
    ],
)
def test_parse_duration_errors_as_go(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value) == message


def test_prune_until_takes_every_go_duration() -> None:
    assert prune_duration("1h30m") == 5400.0
    assert prune_duration("1.5h") == 5400.0
    assert prune_duration("250ms") == 0.25


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\x00\u00a0é\U0001f600') == '"a\\"b\\\\c\\n\\x00\\u00a0é\U0001f600"'
