"""What each op is expected to cost, in milliseconds: a static estimate, or measured durations.

The static estimate reads only the op and the files it names, so two clean checkouts give
the same numbers. It is rough on purpose: shards are balanced against each other, and a
plan must not move work between shards because a file grew by a few bytes (context sizes
count by powers of two).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bakec.errors import UsageError
from bakec.graph.build import Graph
from bakec.graph.context import ContextHasher

__all__ = ["EMULATION_FACTOR", "estimate", "load_costs", "op_cost", "render_costs"]

EMULATION_FACTOR = 5  # a RUN for a foreign platform runs under QEMU
_RUN_BASE = 1500  # starting a container
_PER_COMMAND = 300
_HEAVY = 20000  # package managers and compilers
_HEAVY_WORDS = re.compile(
    r"\b(apt-get|apt|apk|yum|dnf|pip3?|npm|yarn|pnpm|cargo|make|cmake|gcc|g\+\+|clang|mvn|gradle|"
    r"go build|go install|dotnet|bundle install)\b"
)
_SLEEP = re.compile(r"\bsleep\s+(\d+(?:\.\d+)?)")
_SEPARATORS = re.compile(r"&&|\|\||;|\n|\|")


def load_costs(path: str | Path) -> dict[str, int]:
    """Durations a user committed: ``{"version": 1, "ops": {"sha256:…": seconds}}`` → ms per op."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--costs {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"--costs {path}: not JSON: {exc}") from None
    ops = data.get("ops") if isinstance(data, dict) else None
    if not isinstance(ops, dict) or data.get("version") != 1:
        raise UsageError(f'--costs {path}: expected {{"version": 1, "ops": {{"sha256:…": seconds}}}}')
    out: dict[str, int] = {}
    for digest, seconds in ops.items():
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise UsageError(f"--costs {path}: {digest}: duration must be a number of seconds >= 0")
        out[digest] = round(seconds * 1000)
    return out


def render_costs(steps: Mapping[str, Mapping[str, Any]]) -> str:
    """The ``--costs`` file of recorded steps (``start``/``end`` seconds): sorted, stable JSON.

    Steps without both times (records of older bakec versions) are left out.
    """
    ops = {
        digest: round(max(0.0, step["end"] - step["start"]), 3)
        for digest, step in sorted(steps.items())
        if isinstance(step.get("start"), (int, float)) and isinstance(step.get("end"), (int, float))
    }
    return json.dumps({"version": 1, "ops": ops}, indent=2, sort_keys=True) + "\n"


def estimate(
    graph: Graph,
    native: str,
    measured: Mapping[str, int] | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, int]:
    """Milliseconds per op: ``measured`` where it names the op, else :func:`op_cost`."""
    measured = measured or {}
    out: dict[str, int] = {}
    with ContextHasher(cache_dir) as hasher:
        for digest, attrs in graph.nodes.items():
            found = measured.get(digest)
            out[digest] = found if found is not None else op_cost(attrs["op"], native, hasher)
    return out


def op_cost(op: Any, native: str, hasher: ContextHasher | None = None) -> int:
    """The static estimate of one op (see the README, "Running on a CI fleet")."""
    kind = op.kind
    if kind == "exec":
        script = " ".join(op.args) + "".join(f.data for f in op.files)
        cost = _RUN_BASE + _PER_COMMAND * (1 + len(_SEPARATORS.findall(script)))
        cost += _HEAVY * len(_HEAVY_WORDS.findall(script))
        cost += sum(round(float(s) * 1000) for s in _SLEEP.findall(script))
        if op.platform and op.platform != native:
            cost *= EMULATION_FACTOR
        return cost
    if kind == "file":
        return 200 + 50 * len(op.actions)
    if kind == "local":
        return 100 + 100 * _size_class(_context_bytes(op, hasher))
    if kind == "image":
        return 500 + 1000 * _layer_count(op.config)
    if kind in ("http", "git"):
        return 2000
    return 100  # merge


def _size_class(size: int) -> int:
    """0 up to 64 KiB, then one more per doubling: small edits keep their class."""
    return 0 if size < 65536 else int(math.log2(size / 65536)) + 1


def _context_bytes(op: Any, hasher: ContextHasher | None) -> int:
    if hasher is None or not op.path:
        return 0
    index = hasher.index(op.path, op.exclude, op.name)
    return sum(e.size for e in index.select(op.include or ("/",), op.exclude_selected) if e.type == "f")


def _layer_count(config: str) -> int:
    """Layers of a resolved base image; 3 when the image was not resolved."""
    if not config:
        return 3
    try:
        layers = json.loads(config).get("rootfs", {}).get("diff_ids", [])
    except (ValueError, AttributeError):
        return 3
    return max(1, len(layers))
