"""A cache of parsed HCL files, keyed by content, like Python's ``.pyc`` files.

Loading python-hcl2's Lark parser costs about a quarter of a second on every
run; an unchanged bake file instead loads its pickled AST in a millisecond.
The key covers the file's bytes, its name (ranges name the file) and bakec's
version, AST module and parser modules, so a stale entry can never be used. Entries are
written atomically (temporary file, then rename); any cache problem just
falls back to parsing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from bakec._version import __version__
from bakec.bake.hcl import ast
from bakec.bake.hcl.parse import parse_hcl

_MAX_ENTRIES = 512


def _fingerprint() -> str:

    here = Path(ast.__file__)  # the tree's shape, and how the parser builds it, decide an entry
    source = b"".join(here.with_name(name).read_bytes() for name in ("ast.py", "parse.py", "grammar.py"))
    return __version__ + ":" + hashlib.sha256(source).hexdigest()[:16]


def parse_hcl_cached(data: bytes, filename: str, cache_dir: Path | None) -> ast.Body:
    """Parse ``data`` (or load its cached AST from ``cache_dir``)."""

    if cache_dir is None or os.environ.get("BAKEC_NO_PARSE_CACHE"):
        return parse_hcl(data, filename)
    key = hashlib.sha256(_fingerprint().encode() + b"\0" + filename.encode() + b"\0" + data).hexdigest()
    path = cache_dir / f"{key}.pickle"
    try:
        with open(path, "rb") as handle:
            body = pickle.load(handle)
        if isinstance(body, ast.Body):
            return body
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        pass
    body = parse_hcl(data, filename)  # errors propagate: a bad file is never cached
    _store(cache_dir, path, body)
    return body


def _store(cache_dir: Path, path: Path, body: ast.Body) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(body, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        _bound(cache_dir)
    except (OSError, pickle.PicklingError, RecursionError):
        pass


def _bound(cache_dir: Path) -> None:
    entries = list(cache_dir.glob("*.pickle"))
    if len(entries) <= _MAX_ENTRIES:
        return
    entries.sort(key=lambda p: p.stat().st_mtime)
    for stale in entries[: len(entries) - _MAX_ENTRIES // 2]:
        stale.unlink(missing_ok=True)
