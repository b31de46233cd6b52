"""Word expansion follows BuildKit's shell lexer (frontend/dockerfile/shell)."""

from __future__ import annotations

import pytest

from bakec.dockerfile.lexer import Env, Lex, LexError

ENV = Env({"PWD": "/home", "NULL": "", "P": "abc.tar.gz", "KOREAN": "한국어"})


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("hello", "hello"),
        ('he"l"lo', "hello"),
        ("he'll'o", "hello"),
        (r"he\"llo", 'he"llo'),
        ("$PWD/x", "/home/x"),
        ("${PWD}x", "/homex"),
        (r"\$PWD", "$PWD"),
        ("'$PWD'", "$PWD"),
        ('"$PWD"', "/home"),
        ('"a\\b"', "a\\b"),
        ('"a\\"b"', 'a"b'),
        ("$", "$"),
        ("a$", "a$"),
        ("${KOREAN}", "한국어"),
        ("x\\", "x"),
    ],
)
def test_quotes_escapes_and_plain_references(word: str, expected: str) -> None:
    assert Lex().process_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${NOPE:-def}", "def"),
        ("${NULL:-def}", "def"),
        ("${NULL-def}", ""),
        ("${NOPE-def}", "def"),
        ("${NULL:+alt}", ""),
        ("${NULL+alt}", "alt"),
        ("${PWD:+x}", "x"),
        ("${NOPE+x}", ""),
        ('"${PWD:-foo}"', "/home"),
        ("${NOPE:-$PWD}", "/home"),
    ],
)
def test_default_and_alternative_modifiers(word: str, expected: str) -> None:
    assert Lex().process_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("${P%.gz}", "abc.tar"),
        ("${P%%.*}", "abc"),
        ("${P%.*}", "abc.tar"),
        ("${P#*.}", "tar.gz"),
        ("${P##*.}", "gz"),
        ("${P/tar/zip}", "abc.zip.gz"),
        ("${P//a/X}", "Xbc.tXr.gz"),
        ("${P/?/_}", "_bc.tar.gz"),
    ],
)
def test_pattern_modifiers(word: str, expected: str) -> None:
    assert Lex().process_word(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${NOPE:?}", "NOPE: is not allowed to be unset"),
        ("${NULL:?}", "NULL: is not allowed to be empty"),
        ("${NULL:?must be set}", "NULL: must be set"),
        ("${NOPE?custom}", "NOPE: custom"),
        ("${}", "syntax error: bad substitution"),
        ("${:a}", "syntax error: bad substitution"),
        ("'abc", "unexpected end of statement while looking for matching single-quote"),
        ('"abc', "unexpected end of statement while looking for matching double-quote"),
        ("${P:#x}", "unsupported modifier (:#) in substitution"),
        ("${PWD:-x", "syntax error: missing '}'"),
    ],
)
def test_errors_use_buildkit_wording(word: str, message: str) -> None:
    with pytest.raises(LexError, match="failed to process") as info:
        Lex().process_word(word, ENV)
    assert message in str(info.value)


def test_question_mark_returns_value_when_set() -> None:
    assert Lex().process_word("${PWD:?}", ENV) == "/home"
    assert Lex().process_word("${NULL?}", ENV) == ""


def test_words_split_after_expansion_but_quotes_keep_spaces() -> None:
    env = Env({"V": "a b"})
    assert Lex().process_words("$V 'c d' e", env) == ["a", "b", "c d", "e"]


def test_backtick_escape_makes_backslash_literal() -> None:
    lex = Lex("`")
    assert lex.process_word(r"a\b", ENV) == r"a\b"
    assert lex.process_word("`$PWD", ENV) == "$PWD"
    assert lex.process_word('"a`"b"', ENV) == 'a"b'


def test_raw_quotes_and_skip_unset_keep_text_for_run_names() -> None:
    lex = Lex(raw_quotes=True, skip_unset_env=True)
    assert (
        lex.process_word("echo \"$NOPE\" '$PWD' $PWD ${NOPE:-x}", ENV)
        == "echo \"$NOPE\" '$PWD' /home ${NOPE:-x}"
    )


def test_skip_process_quotes_for_heredoc_bodies() -> None:
    lex = Lex(skip_process_quotes=True)
    assert lex.process_word("say 'hi $PWD' \"x\"", ENV) == "say 'hi /home' \"x\""


def test_matches_and_unmatches_are_reported() -> None:
    result = Lex().process("$PWD ${NOPE:-x} $NULL", ENV)
    assert result.matched == {"PWD", "NULL"}
    assert result.unmatched == {"NOPE"}


def test_special_and_positional_parameters_expand_empty() -> None:
    assert Lex().process_word("[$1][$#][$@]", ENV) == "[][][]"
