"""The Lark parser for HCL native syntax: python-hcl2's grammar, corrected where HCL differs and
rewritten where Python's ``re`` would need memory in proportion to a token's length.

Corrections (HCL's own behaviour, checked against ``buildx bake --print``):

* ``~`` strip markers are allowed in interpolations too (``"a ${~ x ~} b"``), not only in
  ``%{ }`` directives;
* a ``/* */`` comment within one line is white space (``a = /* c */ "v"``); only a comment
  spanning lines is a newline token, as python-hcl2 makes every one.

Constant memory: Python's ``re`` keeps a backtracking record for every repetition of a group,
so a terminal like python-hcl2's ``STRING_CHARS`` (one alternation per character) needs about
150 bytes per character: a 10 MB string took 2 GB to lex. Each rewrite below matches exactly
the same text but consumes runs of ordinary characters in one step (``[^...]+``) or uses a
single-character class (``[\\s\\S]*?``), which ``re`` repeats without records.
"""

from __future__ import annotations

import functools
from pathlib import Path

# A comment's text up to a newline or its end, without "*/": runs of ordinary characters,
# one group repetition per "*" only.
_COMMENT_LINE = r"[^*\n]*(?:\*(?!\/)[^*\n]*)*"

# (python-hcl2's text, what bakec uses instead), as written in hcl2.lark.
_REWRITES = (
    (  # quoted-string text: a run of plain characters, an escape, or a $/% not opening ${ or %{
        r'/(?:(?!\$\$\{)(?!\$\{)(?!%%\{)(?!%\{)[^"\\]|\\.|(?:\$(?!\$?\{))|(?:%(?!%?\{)))+/',
        r'/(?:[^"\\$%]+|\\.|\$(?!\$?\{)|%(?!%?\{))+/',
    ),
    (  # a /* */ comment is a newline token only when it spans lines (one-line ones are ignored below)
        r"/\/\*(.|\n)*?(\*\/)/",
        r"/\/\*" + _COMMENT_LINE + r"\n[\s\S]*?\*\//",
    ),
    (r"\r?\n(?:(?:.|\n)*?\r?\n)??", r"\r?\n(?:[\s\S]*?\r?\n)??"),  # heredoc bodies (both kinds)
    (  # strip markers in interpolations
        "interpolation: INTERP_START expression RBRACE",
        "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE",
    ),
)
_IGNORE_ONE_LINE_BLOCK_COMMENTS = "\n%ignore /\\/\\*" + _COMMENT_LINE + "\\*\\//\n"


@functools.cache
def hcl_parser():  # a lark.Lark
    """The LALR parser (built once per process; Lark caches its tables on disk)."""
    import hcl2
    from hcl2.postlexer import PostLexer
    from lark import Lark

    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    for original, replacement in _REWRITES:
        if original not in grammar:  # a python-hcl2 upgrade changed the grammar: fail loudly
            raise RuntimeError(f"python-hcl2's grammar no longer contains {original}")
        grammar = grammar.replace(original, replacement)
    grammar += _IGNORE_ONE_LINE_BLOCK_COMMENTS
    return Lark(grammar, parser="lalr", cache=True, propagate_positions=True, postlex=PostLexer())
