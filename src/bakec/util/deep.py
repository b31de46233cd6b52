"""Run recursive parsers and evaluators on deeply nested input without a RecursionError.

bakec's HCL builder and evaluator, its JSON reader and the Dockerfile word lexer
recurse once (or a few times) per nesting level, and CPython's default limit of
1,000 frames on the main thread's 8 MiB stack ends them at a few hundred levels.
:func:`call_deep` runs a function in a worker thread whose stack is large enough
for :data:`MAX_NESTING` levels, with the recursion limit raised to match; each
parser checks nesting itself and reports a positioned "nesting too deep" error
past :data:`MAX_NESTING`, so the raised limit is never reached by valid input.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from bakec.errors import SpecError

MAX_NESTING = 5000
"""Deepest nesting bakec accepts: brackets, parentheses, braces and templates in HCL,
arrays and objects in JSON, ``${...}`` expansions in a Dockerfile word (README "Limits")."""

# Measured on CPython 3.11 with MAX_NESTING levels of each HCL form (brackets, parentheses,
# objects, templates), parse cache on and off: under 30,000 frames (20,000 were too few) and
# under 8 MiB of C stack (2 MiB crashed). The limits leave margins of 3x and 32x; the stack is
# address space reserved, not memory used, until it is touched.
_STACK_BYTES = 256 * 1024 * 1024
_RECURSION_LIMIT = 100_000

_T = TypeVar("_T")
_lock = threading.Lock()
_active = 0
_saved_limit = 0
_local = threading.local()  # .deep is set on the worker threads call_deep starts


def call_deep(fn: Callable[..., _T], *args, **kwargs) -> _T:
    """``fn(*args, **kwargs)`` on a thread with a big stack; its result or its exception."""
    if getattr(_local, "deep", False):  # already on a deep thread
        return fn(*args, **kwargs)
    outcome: list = []

    def run() -> None:
        _local.deep = True
        try:
            outcome.append((True, fn(*args, **kwargs)))
        except BaseException as err:  # handed to the caller's thread
            outcome.append((False, err))

    _enter()
    try:
        with _lock:
            previous = threading.stack_size(_STACK_BYTES)
            try:
                thread = threading.Thread(target=run, name="bakec-deep")
                thread.start()
            finally:
                threading.stack_size(previous)
        thread.join()
    finally:
        _leave()
    ok, value = outcome[0]
    if ok:
        return value
    if isinstance(value, RecursionError):  # a recursion no parser bounds: still the user's input
        raise SpecError(f"nesting too deep: input nests more than {MAX_NESTING} levels") from None
    raise value


def _enter() -> None:
    global _active, _saved_limit
    with _lock:
        if _active == 0:
            _saved_limit = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_saved_limit, _RECURSION_LIMIT))
        _active += 1


def _leave() -> None:
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            sys.setrecursionlimit(_saved_limit)
