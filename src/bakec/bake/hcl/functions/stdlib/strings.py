"""String functions: case, trimming, splitting/joining, substrings, format, regex."""

from __future__ import annotations

import re
from decimal import Decimal

from bakec.bake.hcl.functions import FunctionError, Param, function
from bakec.bake.hcl.functions.stdlib._common import graphemes, int_arg
from bakec.bake.hcl.functions.stdlib._format import FormatError, format_string
from bakec.bake.hcl.functions.stdlib._goregex import PatternError, compile_go, expand, find_all
from bakec.bake.hcl.types import ANY, NUMBER, STRING, list_of
from bakec.bake.hcl.values import HList, Value, number

# Go's unicode.IsSpace (str.isspace also accepts the \x1c-\x1f separators).
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def _map_runes(text: str, mapper) -> str:
    """Apply a one-rune case mapping; multi-rune results are ignored, as Go's simple mapping does."""
    out = []
    for ch in text:
        mapped = mapper(ch)
        out.append(mapped if len(mapped) == 1 else ch)
    return "".join(out)


@function("upper", Param("str", STRING))
def upper(text: str) -> str:
    """Uppercase every letter (Go ``strings.ToUpper``)."""
    return _map_runes(text, str.upper)


@function("lower", Param("str", STRING))
def lower(text: str) -> str:
    """Lowercase every letter (Go ``strings.ToLower``)."""
    return _map_runes(text, lambda ch: "i" if ch == "\u0130" else ch.lower())


def _is_separator(ch: str) -> bool:
    """Go ``strings.Title``'s word separator test."""
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdigit():
        return False
    return ch in _GO_SPACE


@function("title", Param("str", STRING))
def title(text: str) -> str:
    """Title-case the first letter of each word, leaving the rest unchanged (Go ``strings.Title``)."""
    out, prev = [], " "
    for ch in text:
        if _is_separator(prev):
            mapped = ch.title()
            out.append(mapped if len(mapped) == 1 else ch)
        else:
            out.append(ch)
        prev = ch
    return "".join(out)


@function("reverse", Param("str", STRING))
def reverse(text: str) -> str:
    """Reverse the characters (grapheme clusters) of a string."""
    return "".join(reversed(graphemes(text)))


@function("strlen", Param("str", STRING))
def strlen(text: str) -> Decimal:
    """Number of characters (grapheme clusters)."""
    return number(len(graphemes(text)))


@function("substr", Param("str", STRING), Param("offset", NUMBER), Param("length", NUMBER))
def substr(text: str, offset: Decimal, length: Decimal) -> str:
    """Characters from ``offset`` (negative counts from the end); ``length`` -1 means the rest."""
    start = int_arg(offset)
    count = int_arg(length)
    clusters = graphemes(text)
    if start < 0:
        start = max(start + len(clusters), 0)
    elif count == 0:
        return ""
    rest = clusters[start:]
    # go-cty's seek loop never stops at length 0 once the offset was negative.
    return "".join(rest if count <= 0 else rest[:count])


@function("join", Param("separator", STRING), variadic=Param("lists", list_of(STRING)))
def join(separator: str, *lists: HList) -> str:
    """Concatenate the elements of one or more lists of strings with a separator."""
    if not lists:
        raise FunctionError("at least one list is required")
    items: list[str] = []
    for li, values in enumerate(lists):
        for ei, value in enumerate(values):
            if value is None:
                where = f"element {ei} of list {li + 1}" if len(lists) > 1 else f"element {ei}"
                raise FunctionError(f"{where} is null; cannot concatenate null values", arg=li + 1)
            items.append(value)
    return separator.join(items)


@function("sort", Param("list", list_of(STRING)))
def sort(values: HList) -> HList:
    """Sort a list of strings lexicographically (by UTF-8 bytes, which is code point order)."""
    for i, value in enumerate(values):
        if value is None:
            raise FunctionError(f"given list element {i} is null; a null string cannot be sorted")
    return HList(sorted(values))


@function("split", Param("separator", STRING), Param("str", STRING))
def split(separator: str, text: str) -> HList:
    """Split on every occurrence of the separator; an empty separator splits into characters."""
    if separator == "":
        return HList(list(text))
    return HList(text.split(separator))


@function("chomp", Param("str", STRING))
def chomp(text: str) -> str:
    """Remove trailing newline sequences (``\\n``, ``\\r\\n``, ``\\r``)."""
    return re.sub(r"(?:\r\n?|\n)*\Z", "", text, count=1)


@function("indent", Param("spaces", NUMBER), Param("str", STRING))
def indent(spaces: Decimal, text: str) -> str:
    """Prefix every line but the first with ``spaces`` spaces."""
    count = int_arg(spaces)
    return text.replace("\n", "\n" + " " * max(count, 0))


@function("replace", Param("str", STRING), Param("substr", STRING), Param("replace", STRING))
def replace(text: str, substring: str, replacement: str) -> str:
    """Replace every literal occurrence (bake has no ``/regex/`` form)."""
    if substring == "":
        # Go inserts the replacement before every rune and at the end.
        return replacement + "".join(ch + replacement for ch in text)
    return text.replace(substring, replacement)


@function("regex_replace", Param("str", STRING), Param("pattern", STRING), Param("replace", STRING))
def regex_replace(text: str, pattern: str, replacement: str) -> str:
    """Replace every match of an RE2 pattern; ``$1``/``${name}`` refer to captures."""
    try:
        regex = compile_go(pattern)
    except PatternError as err:
        raise FunctionError(str(err)) from None
    out, last = [], 0
    for match in find_all(regex, text):
        out.append(text[last : match.start()])
        out.append(expand(replacement, match))
        last = match.end()
    out.append(text[last:])
    return "".join(out)


@function("trim", Param("str", STRING), Param("cutset", STRING))
def trim(text: str, cutset: str) -> str:
    """Remove any of the ``cutset`` characters from both ends."""
    return text.strip(cutset) if cutset else text


@function("trimprefix", Param("str", STRING), Param("prefix", STRING))
def trimprefix(text: str, prefix: str) -> str:
    return text.removeprefix(prefix)


@function("trimsuffix", Param("str", STRING), Param("suffix", STRING))
def trimsuffix(text: str, suffix: str) -> str:
    return text.removesuffix(suffix)


@function("trimspace", Param("str", STRING))
def trimspace(text: str) -> str:
    """Remove leading and trailing Unicode white space (Go ``unicode.IsSpace``)."""
    return text.strip(_GO_SPACE)


@function("sanitize", Param("name", STRING))
def sanitize(name: str) -> str:
    """Replace every character outside ``[A-Za-z0-9_-]`` with ``_`` (valid bake target names)."""
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "_-" else "_" for ch in name)


# --- format ---------------------------------------------------------------------------------


@function("format", Param("format", STRING), variadic=Param("args", ANY, allow_null=True))
def format_(fmt: str, *args: Value) -> str:
    """printf-style formatting with cty's verbs (``%s %d %f %v %#v %q %t``...)."""
    try:
        return format_string(fmt, list(args))
    except FormatError as err:
        raise FunctionError(str(err)) from None


@function("formatlist", Param("format", STRING), variadic=Param("args", ANY, allow_null=True))
def formatlist(fmt: str, *args: Value) -> HList:
    """``format`` applied element-wise over list arguments, repeating scalar arguments."""
    if not args:
        return HList([format_(fmt)])
    length, chooser = -1, -1
    for i, arg in enumerate(args):
        if isinstance(arg, list):
            if length == -1:
                length, chooser = len(arg), i
            elif len(arg) != length:
                raise FunctionError(
                    f"argument {i + 1} has length {len(arg)}, which is inconsistent with "
                    f"argument {chooser + 1} of length {length}",
                    arg=i + 1,
                )
    if length == 0:
        return HList()
    results = []
    for index in range(max(length, 1)):
        row = [arg[index] if isinstance(arg, list) else arg for arg in args]
        try:
            results.append(format_string(fmt, row))
        except FormatError as err:
            raise FunctionError(f"error on format iteration {index}: {err}") from None
    return HList(results)


# --- regex ----------------------------------------------------------------------------------


def _compile_pattern(pattern: str) -> tuple[re.Pattern[str], str]:
    """Compile and classify a pattern: ``string`` (no groups), ``tuple`` or ``object`` captures."""
    try:
        regex = compile_go(pattern)
    except PatternError as err:
        raise FunctionError(f"invalid regexp pattern: {err.code} in {err.expr}", arg=0) from None
    named = len(regex.groupindex)
    unnamed = regex.groups - named
    if named and unnamed:
        raise FunctionError("invalid regexp pattern: cannot mix both named and unnamed capture groups", arg=0)
    return regex, "object" if named else "tuple" if unnamed else "string"


def _captures(regex: re.Pattern[str], kind: str, match: re.Match[str]) -> Value:
    if kind == "string":
        return match.group(0)
    if kind == "tuple":
        return list(match.groups())
    return {name: match.group(name) for name in sorted(regex.groupindex)}


@function("regex", Param("pattern", STRING), Param("string", STRING))
def regex(pattern: str, text: str) -> Value:
    """First match: the matched string, a tuple of captures, or an object of named captures."""
    compiled, kind = _compile_pattern(pattern)
    match = compiled.search(text)
    if match is None:
        raise FunctionError("pattern did not match any part of the given string")
    return _captures(compiled, kind, match)


@function("regexall", Param("pattern", STRING), Param("string", STRING))
def regexall(pattern: str, text: str) -> HList:
    """Every match, each shaped as ``regex`` shapes its single result."""
    compiled, kind = _compile_pattern(pattern)
    return HList(_captures(compiled, kind, match) for match in find_all(compiled, text))
