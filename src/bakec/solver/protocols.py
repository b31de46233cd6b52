"""What the solver needs from the parts it drives: a runner for ops and, optionally, imported results.

The worker's :class:`bakec.worker.deferred.DeferredRunner` (and its ``OpRunner``) is the runner;
:class:`bakec.remotecache.import_.ImportedCache` holds imported results. The solver knows
them only through these protocols, so it can be driven by anything that keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from bakec.content.layers import LayerBlob
from bakec.content.result import LogFn, OpResult
from bakec.content.store import ContentStore
from bakec.graph.build import Graph
from bakec.ops import Op


class Runner(Protocol):
    """Runs one op on its inputs' results; knows which committed snapshots still exist."""

    @property
    def store(self) -> ContentStore:
        """The content store that holds every result's layer blobs."""
        ...

    def run(self, op: Op, inputs: Mapping[str, OpResult], log: LogFn | None = None) -> OpResult:
        """Run ``op`` (its inputs' results by op digest); ``log`` gets the process's output."""
        ...

    def snapshot_exists(self, name: str) -> bool:
        """Whether the committed snapshot ``name`` (a cached result's) still exists."""
        ...

    def unpack(self, blobs: Sequence[LayerBlob], top: str = "") -> str:
        """A committed snapshot holding ``blobs`` applied in order; its name."""
        ...


class ImportedResults(Protocol):
    """Results of ops imported from ``cache-from`` sources, by op digest."""

    def lookup(self, digest: str) -> OpResult | None:
        """The imported result of op ``digest`` (layers only, no snapshot yet), or None."""
        ...

    def needed(self, graph: Graph, uncached: Callable[[str], bool]) -> set[str]:
        """The ops of ``graph`` its builds still need once imported results are taken."""
        ...

    def materialise(self, result: OpResult, runner: Runner) -> OpResult:
        """``result`` with its layers unpacked into a snapshot, for an op that runs on it."""
        ...
