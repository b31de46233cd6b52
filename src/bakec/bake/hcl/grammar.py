"""The Lark parser for HCL native syntax: python-hcl2's grammar with HCL's interpolation strip markers.

python-hcl2's grammar accepts ``~`` only in ``%{ }`` directives; HCL also allows it in
interpolations (``"a ${~ x ~} b"`` trims the whitespace around it). The grammar is
read from python-hcl2 and that one rule widened, so everything else stays python-hcl2's.
"""

from __future__ import annotations

import functools
from pathlib import Path

_INTERPOLATION = "interpolation: INTERP_START expression RBRACE"
_WITH_STRIP_MARKERS = "interpolation: INTERP_START STRIP_MARKER? expression STRIP_MARKER? RBRACE"


@functools.lru_cache(maxsize=1)
def parser():
    """The LALR parser (built once per process; Lark caches the tables on disk)."""
    import hcl2
    from hcl2.postlexer import PostLexer
    from lark import Lark

    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text()
    if _INTERPOLATION not in grammar:  # pragma: no cover - a python-hcl2 with another grammar
        from hcl2.parser import parser as stock

        return stock()
    return Lark(
        grammar.replace(_INTERPOLATION, _WITH_STRIP_MARKERS),
        parser="lalr",
        cache=True,
        propagate_positions=True,
        postlex=PostLexer(),
    )
