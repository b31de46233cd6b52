"""Time spent in emulated steps, per target, for the build summary."""

from __future__ import annotations

from collections.abc import Callable

from bakec.graph.build import Graph
from bakec.ops import Op
from bakec.solver.scheduler import RunOutcome, State


def is_emulated(op: Op, emulated: Callable[[str], bool]) -> bool:
    """Whether ``op`` runs through an emulator: only processes do (file ops and pulls are native)."""
    return op.kind == "exec" and emulated(getattr(op, "platform", "") or "")


def emulated_seconds(
    graph: Graph, outcome: RunOutcome[str], emulated: Callable[[str], bool]
) -> dict[str, float]:
    """Seconds each target's emulated steps ran in this build (an op shared by targets counts for each)."""
    nodes = graph.nodes
    totals: dict[str, float] = {}
    for node, result in outcome.results.items():
        if result.state not in (State.DONE, State.FAILED) or not is_emulated(nodes[node]["op"], emulated):
            continue
        for target in nodes[node].get("targets", ()):
            totals[target] = totals.get(target, 0.0) + result.seconds
    return totals
