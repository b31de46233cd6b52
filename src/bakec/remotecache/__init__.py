"""Cache import and export in BuildKit's cache manifest format (``cache-from`` / ``cache-to``).

* :mod:`bakec.remotecache.format`  the cache config, manifest and inline value, both ways;
* :mod:`bakec.remotecache.import_` every ``cache-from`` of a run read once → results by op digest;
* :mod:`bakec.remotecache.export`  a target's solved ops → local layout, registry or inline cache.

The functions here are what ``bakec.builder`` calls; each cache transfer shows as one
progress vertex, numbered after the graph's own (as BuildKit's "importing cache
manifest" and "exporting cache" steps).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from bakec.graph.target_options import TargetBuildSpec
from bakec.progress.reporter import Progress
from bakec.remotecache import export, import_
from bakec.remotecache.export import with_inline_cache
from bakec.remotecache.import_ import ImportedCache

__all__ = [
    "ImportedCache",
    "Steps",
    "export_caches",
    "import_caches",
    "prefetch_outputs",
    "with_inline_cache",
]


class Steps:
    """Runs cache transfers as progress steps (BuildKit's "importing cache manifest", "exporting cache")."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def __call__(self, name: str, fn: Callable[[], None]) -> None:
        with self.progress.step(name):
            fn()


def _warn(message: str) -> None:
    sys.stderr.write(f"WARNING: {message}\n")
    sys.stderr.flush()


def import_caches(
    specs: Mapping[str, TargetBuildSpec], *, store: Any, registry: Any, cwd: str, steps: Steps
) -> ImportedCache | None:
    """Read every ``cache-from`` of the run's targets (their build specs) once (None when none has one)."""
    return import_.load(specs, store=store, registry=registry, cwd=cwd, step=steps, warn=_warn)


def prefetch_outputs(graph: Any, solved: Any, imported: ImportedCache | None) -> None:
    """Fetch the blobs of every imported result an image is exported from (``cacheonly`` needs none)."""
    if imported is None:
        return
    for build in graph.builds:
        outputs = build.spec.outputs if build.spec is not None else None
        if outputs is not None and all(o.get("type") == "cacheonly" for o in outputs):
            continue
        result = solved.results.get(build.output) if build.output else None
        if result is not None:
            imported.fetch(result.layers)


def export_caches(
    graph: Any,
    solved: Any,
    specs: Mapping[str, TargetBuildSpec],
    *,
    store: Any,
    registry: Any,
    imported: ImportedCache | None,
    cwd: str,
    steps: Steps,
) -> None:
    """Write every ``cache-to`` of every target (inline caches are written with the image)."""
    export.export(
        graph,
        solved,
        specs,
        store=store,
        registry=registry,
        imported=imported,
        cwd=cwd,
        step=steps,
        warn=_warn,
    )
