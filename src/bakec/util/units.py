"""Sizes as docker/go-units reads and prints them.

Two parsers that differ only in their multipliers: :func:`ram_in_bytes` (``RAMInBytes``,
binary: ``1k`` is 1024) for ``shm-size``, ``shm_size``, ``--mount=type=tmpfs,size=`` and
``prune --keep-storage``, and :func:`from_human_size` (``FromHumanSize``, decimal: ``1k`` is
1000). Both accept ``<number>[ ][kmgtp][i][b]`` in any case and truncate to whole bytes.
"""

from __future__ import annotations

import re

__all__ = ["bytes_size", "from_human_size", "human_size", "ram_in_bytes"]

_DECIMAL = {"k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}
_BINARY = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
# go-units' sizeRegex; ASCII digits only, and no trailing newline, as Go's regexp reads it.
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)*) ?([kmgtp])?i?b?", re.IGNORECASE | re.ASCII)


def _parse(text: str, multipliers: dict[str, int]) -> int:
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size: '{text}'")
    number = match.group(1)
    if number.count(".") > 1:  # the pattern takes "1.2.3"; strconv.ParseFloat then refuses it
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    return int(float(number) * multipliers.get((match.group(2) or "").lower(), 1))


def ram_in_bytes(text: str) -> int:
    """``units.RAMInBytes``: binary multipliers (``64m`` is 64 MiB); ValueError with go-units' message."""
    return _parse(text, _BINARY)


def from_human_size(text: str) -> int:
    """``units.FromHumanSize``: decimal multipliers (``64m`` is 64 MB); ValueError with go-units' message."""
    return _parse(text, _DECIMAL)


def _format(size: float, base: float, names: list[str]) -> str:
    i = 0
    while size >= base and i < len(names) - 1:
        size /= base
        i += 1
    return f"{size:.4g}{names[i]}"


def bytes_size(size: float) -> str:
    """``units.BytesSize``: four significant digits, binary units (``256MiB``)."""
    return _format(size, 1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"])


def human_size(size: float) -> str:
    """``units.HumanSize``: four significant digits, decimal units (``1.049MB``)."""
    return _format(size, 1000.0, ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"])
