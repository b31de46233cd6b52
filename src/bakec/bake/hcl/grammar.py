"""python-hcl2's Lark grammar, with its long-token terminals rewritten to match in constant memory.

Python's ``re`` keeps a backtracking record for every repetition of a group, so a
terminal like python-hcl2's ``STRING_CHARS`` — one alternation per character — needs
about 150 bytes per character: a 10 MB string took 2 GB to lex. Each rewrite below
matches exactly the same text but consumes runs of ordinary characters in one step
(``[^...]+``) or uses a single-character class (``[\\s\\S]*?``), which ``re`` repeats
without records. The rest of the grammar is python-hcl2's, unchanged.
"""

from __future__ import annotations

import functools
from pathlib import Path

# (python-hcl2's pattern, the same language in constant memory), as written in hcl2.lark.
_REWRITES = (
    (  # quoted-string text: a run of plain characters, an escape, or a $/% not opening ${ or %{
        r'/(?:(?!\$\$\{)(?!\$\{)(?!%%\{)(?!%\{)[^"\\]|\\.|(?:\$(?!\$?\{))|(?:%(?!%?\{)))+/',
        r'/(?:[^"\\$%]+|\\.|\$(?!\$?\{)|%(?!%?\{))+/',
    ),
    (r"/\/\*(.|\n)*?(\*\/)/", r"/\/\*[\s\S]*?\*\//"),  # /* block comments */
    (r"\r?\n(?:(?:.|\n)*?\r?\n)??", r"\r?\n(?:[\s\S]*?\r?\n)??"),  # heredoc bodies (both kinds)
)


@functools.cache
def hcl_parser():
    """The LALR parser (a ``lark.Lark``), built once per process; Lark caches its tables on disk."""
    import hcl2
    from hcl2.postlexer import PostLexer
    from lark import Lark

    grammar = (Path(hcl2.__file__).parent / "hcl2.lark").read_text(encoding="utf-8")
    for original, linear in _REWRITES:
        if original not in grammar:  # a python-hcl2 upgrade changed the grammar: fail loudly
            raise RuntimeError(f"python-hcl2's grammar no longer contains {original}")
        grammar = grammar.replace(original, linear)
    return Lark(grammar, parser="lalr", cache=True, propagate_positions=True, postlex=PostLexer())
