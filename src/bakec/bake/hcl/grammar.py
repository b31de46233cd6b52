"""The Lark parser for HCL native syntax: python-hcl2's grammar, corrected where HCL differs.

python-hcl2's grammar accepts ``~`` only in ``%{ }`` directives; HCL also allows it in
interpolations (``"a ${~ x ~} b"`` trims the whitespace around it). And it lexes every
``/* */`` comment as a newline, where HCL treats one within a line as white space. The
grammar is read from python-hcl2 and those two spots changed; everything else stays its own.
"""

from __future__ import annotations

import functools
from pathlib import Path

_INTERPOLATION = "interpolation: INTERP_START expression RBRACE"
_WITH_STRIP_MARKERS = "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"
# A /* */ comment on one line is white space in HCL (`a = /* c */ "v"`); python-hcl2 makes every
# one a newline token. Only a comment spanning lines stays one; the others are ignored.
_BLOCK_COMMENT = r"/\/\*(.|\n)*?(\*\/)/"
_MULTI_LINE_BLOCK_COMMENT = r"/\/\*(?:[^*]|\*(?!\/))*?\n(?:.|\n)*?\*\//"
_IGNORE_ONE_LINE_BLOCK_COMMENTS = "\n%ignore /\\/\\*(?:[^*\\n]|\\*(?!\\/))*\\*\\//\n"


@functools.lru_cache(maxsize=1)
def parser():
    """The LALR parser (built once per process; Lark caches the tables on disk)."""
    import hcl2
    from hcl2.postlexer import PostLexer
    from lark import Lark

    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text()
    if _INTERPOLATION not in grammar or _BLOCK_COMMENT not in grammar:  # pragma: no cover - another grammar
        from hcl2.parser import parser as stock

        return stock()
    grammar = grammar.replace(_INTERPOLATION, _WITH_STRIP_MARKERS)
    grammar = grammar.replace(_BLOCK_COMMENT, _MULTI_LINE_BLOCK_COMMENT) + _IGNORE_ONE_LINE_BLOCK_COMMENTS
    return Lark(
        grammar,
        parser="lalr",
        cache=True,
        propagate_positions=True,
        postlex=PostLexer(),
    )
