"""Early check of COPY/ADD sources against the main build context.

BuildKit notices a missing source only while computing the copy's cache key,
with ``"/path": not found`` (the same for files removed by .dockerignore).
With the context directory at hand the planner can report it before any work
starts, in the same words.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

from bakec.dockerfile.dockerignore import find_ignore_file, read_patterns
from bakec.dockerfile.errors import DockerfileError
from bakec.dockerfile.model import AddStep, BuildPlan, CopyStep
from bakec.util.gitref import is_add_git_source, is_http_source
from bakec.util.patternmatch import PatternMatcher

__all__ = ["check_context_sources", "missing_context_sources"]

_WILDCARDS = frozenset("*?[")


def _has_wildcard(path: str) -> bool:
    i = 0
    while i < len(path):
        if path[i] == "\\":
            i += 2
            continue
        if path[i] in _WILDCARDS:
            return True
        i += 1
    return False


def check_context_sources(
    plan: BuildPlan, context_dir: Path, dockerfile: Path | None = None, filename: str = "Dockerfile"
) -> None:
    """Raise the error BuildKit would for a COPY/ADD source missing from the sent context."""
    for error in missing_context_sources(plan, context_dir, dockerfile, filename):
        raise error


def missing_context_sources(
    plan: BuildPlan, context_dir: Path, dockerfile: Path | None = None, filename: str = "Dockerfile"
) -> Iterator[DockerfileError]:
    """BuildKit's error for each COPY/ADD source missing from the sent context (or .dockerignored).

    Sources with wildcards are left to the build (this check does not list the context).
    """
    ignore = find_ignore_file(context_dir, dockerfile)
    matcher = PatternMatcher(
        read_patterns(ignore.read_text(encoding="utf-8", errors="surrogateescape")) if ignore else []
    )
    for stage in plan.stages:
        for step in stage.steps:
            if not isinstance(step, CopyStep) or step.origin.kind != "context":
                continue
            for src in step.sources:
                if isinstance(step, AddStep) and (is_http_source(src) or is_add_git_source(src)):
                    continue
                if step.parents and "/./" in src:
                    src = src.replace("/./", "/", 1)
                if _has_wildcard(src):
                    continue
                rel = posixpath.normpath(posixpath.join("/", src)).lstrip("/")
                if rel in ("", "."):
                    continue
                excluded = matcher.patterns and matcher.matches(rel)
                if excluded or not os.path.lexists(context_dir / rel):
                    yield DockerfileError(
                        f'failed to compute cache key: failed to calculate checksum of ref: "/{rel}": not found',
                        filename=filename,
                        line=step.line,
                    )
