"""The HCL stdlib that buildx bake exposes, as a registry of small functions.

Each function is a plain Python callable registered with its HCL signature::

    @function("upper", Param("str", STRING))
    def upper(s: str) -> str:
        return s.upper()

The evaluator checks arity, converts each argument to its parameter's type
(see :mod:`bakec.bake.hcl.types`), then calls the implementation. An
implementation signals a bad argument with ``FunctionError(msg, arg=i)`` and
any other failure with ``FunctionError(msg)``; the evaluator turns both into
HCL diagnostics positioned at the argument or the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from bakec.bake.hcl.types import ANY, Type
from bakec.bake.hcl.values import Value

MAX_STRING_RESULT = 16 * 1024 * 1024
"""Most characters a function may return in a string, or in a list or tuple of strings
(README "Limits"); ``range`` has its own cap of 1,024 values, as in cty."""


def check_result_size(value: Value) -> None:
    """Raise :class:`FunctionError` if ``value`` holds more than :data:`MAX_STRING_RESULT` characters."""
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, (list, tuple)):
        size = sum(len(item) for item in value if isinstance(item, str))
    else:
        return
    if size > MAX_STRING_RESULT:
        raise FunctionError(f"the result is over the limit of {MAX_STRING_RESULT} characters")


class FunctionError(Exception):
    """A stdlib function rejected its input; ``arg`` is the 0-based argument index if known."""

    def __init__(self, message: str, arg: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg


@dataclass(frozen=True)
class Param:
    """One parameter: its name (used in messages), type, and whether null is accepted."""

    name: str
    type: Type = ANY
    allow_null: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    params: tuple[Param, ...]
    variadic: Param | None
    impl: Callable[..., Value] = field(repr=False)


REGISTRY: dict[str, Function] = {}


def function(name: str, *params: Param, variadic: Param | None = None) -> Callable:
    """Register ``impl`` under ``name`` with the given parameters."""

    def register(impl: Callable[..., Value]) -> Callable[..., Value]:
        REGISTRY[name] = Function(name, tuple(params), variadic, impl)
        return impl

    return register


def lookup(name: str) -> Function | None:
    """The stdlib function called ``name``, loading the implementations on first use."""
    if not _loaded:
        _load()
    return REGISTRY.get(name)


def names() -> list[str]:
    if not _loaded:
        _load()
    return sorted(REGISTRY)


_loaded = False


def _load() -> None:
    global _loaded
    from bakec.bake.hcl.functions import stdlib  # noqa: F401  (registers every function)

    _loaded = True
