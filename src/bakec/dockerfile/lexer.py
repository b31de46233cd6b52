"""Word expansion with BuildKit's shell-lexer rules (frontend/dockerfile/shell).

The lexer expands ``$V``, ``${V}`` and the ``${V<op>word}`` forms, removes quotes
and applies the escape character, exactly as the Dockerfile frontend does for
ENV, LABEL, COPY, WORKDIR, FROM and friends. It never runs a shell: RUN, CMD and
ENTRYPOINT text is not expanded by the frontend.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bakec.dockerfile._gofmt import go_quote
from bakec.util.deep import MAX_NESTING, call_deep

__all__ = ["Env", "Lex", "LexError", "WordResult"]


# Words with more ${ than this are expanded on a deep stack (a thread costs ~0.1 ms, so not always).
_SHALLOW = 100


class LexError(ValueError):
    """A word could not be expanded (bad substitution, unterminated quote, ...)."""


class Env:
    """An ordered, case-sensitive variable scope (Linux semantics of EnvGetter)."""

    __slots__ = ("_values",)

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        self._values: dict[str, str] = {}
        pairs = items.items() if isinstance(items, Mapping) else items
        for key, value in pairs:
            self._values[key] = value

    @classmethod
    def from_list(cls, entries: Iterable[str]) -> Env:
        """Build from ``KEY=value`` strings (an image config's Env); later keys win."""
        env = cls()
        for entry in entries:
            key, _, value = entry.partition("=")
            env._values[key] = value
        return env

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def keys(self) -> list[str]:
        return list(self._values)

    def items(self) -> list[tuple[str, str]]:
        return list(self._values.items())

    def set(self, key: str, value: str) -> Env:
        """A copy with ``key`` added or replaced (keeps the first position)."""
        env = Env(self._values)
        env._values[key] = value
        return env

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Env({self._values!r})"


@dataclass
class WordResult:
    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


def _go_isspace(ch: str) -> bool:
    """Go's ``unicode.IsSpace`` (the White_Space property)."""
    return _GO_SPACE.fullmatch(ch) is not None


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _is_digit(ch: str) -> bool:
    return unicodedata.category(ch) == "Nd"


_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_EOF = ""


class _Words:
    __slots__ = ("buf", "in_word", "words")

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _go_isspace(ch) and self.in_word:
            if self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        elif not _go_isspace(ch):
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class Lex:
    """BuildKit's ``shell.Lex``: options mirror its fields.

    ``raw_quotes`` keeps quote characters in the result, ``raw_escapes`` keeps
    escape characters, ``skip_process_quotes`` treats quotes as plain text (used
    for heredoc bodies) and ``skip_unset_env`` leaves references to unset
    variables verbatim.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Env | Mapping[str, str]) -> str:
        return self.process(word, env).result

    def process_words(self, word: str, env: Env | Mapping[str, str]) -> list[str]:
        return self.process(word, env).words

    def process(self, word: str, env: Env | Mapping[str, str]) -> WordResult:
        scope = env if isinstance(env, Env) else Env(env)
        specials = "$" + self.escape + ("" if self.skip_process_quotes else "'\"")
        if not any(ch in word for ch in specials):
            # Nothing to expand, unquote or unescape: the word stands as written.
            return WordResult(word, [w for w in _GO_SPACE.split(word) if w])
        state = _ShellWord(self, word, scope)
        try:
            if word.count("${") > _SHALLOW:  # each ${...} recurses: give a deep word a deep stack
                result, words = call_deep(state.process_stop_on, _EOF, self.raw_escapes)
            else:
                result, words = state.process_stop_on(_EOF, self.raw_escapes)
        except LexError as exc:
            if isinstance(exc, _TooDeep):  # quoting a word this deep would bury the message
                raise
            raise LexError(f"failed to process {_go_quote(word)}: {exc}") from None
        return WordResult(result, words, state.matches, state.nonmatches)


class _TooDeep(LexError):
    """A word nests ``${...}`` past :data:`MAX_NESTING`."""


def _go_quote(text: str) -> str:

    return go_quote(text)


class _ShellWord:
    def __init__(self, lex: Lex, text: str, env: Env) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matches: set[str] = set()
        self.nonmatches: set[str] = set()
        self.depth = 0  # ${...} expansions open around the current position

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            while self.peek() != _EOF:
                ch = self.peek()
                if stop != _EOF and ch == stop:
                    self.next()
                    return "".join(result), words.get_words()
                if ch == "$":
                    tmp = self.process_dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                    continue
                if not self.lex.skip_process_quotes and ch in "'\"":
                    tmp = self.process_single_quote() if ch == "'" else self.process_double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                    continue
                ch = self.next()
                if ch == self.lex.escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        finally:
            self.raw_escapes = saved
        if stop != _EOF:
            raise LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def process_single_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            ch = self.next()
            if ch == _EOF:
                raise LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        out: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            out.append(ch)
        while True:
            peek = self.peek()
            if peek == _EOF:
                raise LexError("unexpected end of statement while looking for matching double-quote")
            if peek == '"':
                ch = self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if peek == "$":
                out.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == self.lex.escape:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self.peek()
                if nxt == _EOF:
                    continue
                if nxt in ('"', "$", self.lex.escape):
                    ch = self.next()
            out.append(ch)

    def get_env(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is not None:
            self.matches.add(name)
        else:
            self.nonmatches.add(name)
        return value

    def process_name(self) -> str:
        name: list[str] = []
        while self.peek() != _EOF:
            ch = self.peek()
            if not name and _is_digit(ch):
                while self.peek() != _EOF and _is_digit(self.peek()):
                    name.append(self.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return self.next()
            if not _is_letter(ch) and not _is_digit(ch) and ch != "_":
                break
            name.append(self.next())
        return "".join(name)

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            if name == "":
                return "$"
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "$" + name
            return value or ""

        self.next()
        if self.peek() == _EOF:
            raise LexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise LexError("syntax error: bad substitution")
        self.depth += 1
        try:
            return self._process_braced()
        finally:
            self.depth -= 1

    def _process_braced(self) -> str:
        if self.depth > MAX_NESTING:
            raise _TooDeep(f"nesting too deep: more than {MAX_NESTING} nested ${{...}} expansions")
        name = self.process_name()
        ch = self.next()
        chs = ch or "\ufffd"  # Go prints the EOF rune as U+FFFD
        null_is_unset = False
        if ch == "}":
            value = self.get_env(name)
            if value is None and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value or ""
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch or "\ufffd"
        if ch in ("+", "-", "?", "#", "%") and ch != _EOF:
            raw = ch in "#%"
            if null_is_unset and raw:
                raise LexError(f"unsupported modifier ({chs}) in substitution")
            try:
                word, _ = self.process_stop_on("}", raw)
            except LexError:
                if self.peek() == _EOF:
                    raise LexError("syntax error: missing '}'") from None
                raise
            value = self.get_env(name)
            if self.lex.skip_unset_env and value is None:
                return "${" + name + chs + word + "}"
            is_set = value is not None
            value = value or ""
            if ch == "-":
                if not is_set or (null_is_unset and value == ""):
                    return word
                return value
            if ch == "+":
                if not is_set or (null_is_unset and value == ""):
                    return ""
                return word
            if ch == "?":
                if not is_set:
                    raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = False
            if word and word[0] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        if ch == "/" and not null_is_unset:
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            try:
                pattern, _ = self.process_stop_on("/", True)
            except LexError:
                if self.peek() == _EOF:
                    raise LexError("syntax error: missing '/' in ${}") from None
                raise
            try:
                replacement, _ = self.process_stop_on("}", True)
            except LexError:
                if self.peek() == _EOF:
                    raise LexError("syntax error: missing '}'") from None
                raise
            value = self.get_env(name)
            if self.lex.skip_unset_env and value is None:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            regex = _shell_pattern_to_regex(pattern, greedy=True, anchored=False)
            value = value or ""
            if replace_all:
                return regex.sub(lambda m: _go_expand(replacement, m), value)
            match = regex.search(value)
            if match:
                value = value[: match.start()] + replacement + value[match.end() :]
            return value
        raise LexError(f"unsupported modifier ({chs}) in substitution")


def _shell_pattern_to_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            tok = nxt
            i += 1
            if tok not in ("*", "?", "\\"):
                raise LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{tok}'")
            out.append("\\" + tok)
            continue
        out.append(re.escape(tok) if tok in "[]{}.+()|^$" else tok)
    return re.compile("".join(out))


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Go's regexp template expansion for a pattern without groups."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2 : end] if end >= 0 else ""
            if end < 0 or not re.fullmatch(r"\w+", name):
                out.append(ch)
                i += 1
                continue
            i = end + 1
        else:
            m = re.match(r"\w+", template[i + 1 :])
            if not m:
                out.append(ch)
                i += 1
                continue
            name = m.group(0)
            i += 1 + len(name)
        if name == "0":
            out.append(match.group(0))
    return "".join(out)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    regex = _shell_pattern_to_regex(pattern, greedy=greedy, anchored=True)
    match = regex.search(value)
    if match:
        return value[match.end() :]
    return value


def _reverse_pattern(pattern: str) -> str:
    chars = list(pattern)
    out = [""] * len(chars)
    last = len(chars) - 1
    i = 0
    while i <= last:
        tok = chars[i]
        out_idx = last - i
        if tok == "\\" and i != last:
            out[out_idx - 1] = tok
            out[out_idx] = chars[i + 1]
            i += 2
        else:
            out[out_idx] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
