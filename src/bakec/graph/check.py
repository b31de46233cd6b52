"""``bakec check`` beyond the bake files: each selected target's Dockerfile and context.

Reported per target, with ``file:line`` positions (the Dockerfile relative to the
working directory):

* a missing context directory or Dockerfile (errors);
* Dockerfile syntax and plan errors (errors), as a build would report them;
* BuildKit's build checks (warnings, from the engine ``--check`` uses: :mod:`bakec.graph.lint`);
* COPY/ADD sources missing from the context after ``.dockerignore`` (errors; the
  frontend's own early check, :mod:`bakec.dockerfile.context`);
* ``FROM`` / ``COPY --from`` names that are no stage and no build context but look
  meant as one (warnings): BuildKit would try to pull them as images.

No daemon, no network: base images are not resolved, git contexts are not fetched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from bakec.bake.check import Finding, did_you_mean
from bakec.bake.model import Target
from bakec.dockerfile import BuildPlan, DockerfileError, TargetInfo, compile
from bakec.dockerfile import targets as stages_of
from bakec.dockerfile.context import missing_context_sources
from bakec.errors import BakecError, Pos, Range
from bakec.graph.build import _Builder
from bakec.graph.context import ContextHasher
from bakec.graph.lint import checked_spec, dockerfile_names, lint_dockerfile
from bakec.graph.resolve import OfflineResolver
from bakec.util.gitref import is_git_url

__all__ = ["check_targets"]

_FROM_FLAG = re.compile(r"--from=(\S+)")
_IMAGE_LIKE = re.compile(r"[/:@.]")  # a registry, tag, digest or domain: surely an image


def check_targets(
    targets: Mapping[str, Target], *, cwd: str | os.PathLike[str], build_platform: str = "linux/amd64"
) -> list[Finding]:
    """Findings for the Dockerfile and context of each target (each Dockerfile checked once per setup)."""
    builder = _Builder(targets, Path(cwd), OfflineResolver(), ContextHasher(persist=False), build_platform)
    findings: list[Finding] = []
    seen: set[tuple[str, str, str | None, int | None]] = set()
    done: set[tuple] = set()
    try:
        for name, target in targets.items():
            key = (
                target.context,
                target.dockerfile,
                target.dockerfile_inline,
                target.target,
                tuple(sorted((target.args or {}).items(), key=lambda kv: kv[0])),
                tuple(sorted(target.contexts or {})),
            )
            if key in done:
                continue
            done.add(key)
            for finding in _check_target(builder, name, target):
                rng = finding.range
                ident = (
                    finding.rule,
                    finding.message,
                    rng.filename if rng else None,
                    rng.start.line if rng else None,
                )
                if ident not in seen:
                    seen.add(ident)
                    findings.append(finding)
    finally:
        builder.hasher.close()
    return findings


def _check_target(builder: _Builder, name: str, target: Target) -> Iterator[Finding]:
    if is_git_url(target.context or "."):
        return  # checking it would mean fetching it
    try:  # what the build would take from the target (call= is --check's business, not a build input)
        spec = checked_spec(builder, target)
    except BakecError as err:
        yield Finding("error", err.message, rule="unsupported-attribute", target=name)
        return
    try:
        context_dir = builder.context_dir(spec, name)
    except BakecError as err:
        yield Finding("error", err.message, rule="context-not-found", target=name)
        return
    try:
        text, path = builder._dockerfile(spec, context_dir, name)
    except BakecError as err:
        yield Finding("error", err.message, rule="dockerfile-not-found", target=name)
        return
    filename, shown = dockerfile_names(builder, spec, path)
    lines = text.split("\n")

    def at(line: int) -> Range | None:
        if line <= 0:
            return None
        width = len(lines[line - 1]) if line <= len(lines) else 0
        return Range(shown, Pos(line, 1), Pos(line, width + 1))

    try:
        warnings = lint_dockerfile(target, text, filename)
        platforms = builder.platforms_of(name)
        plan = compile(
            text,
            build_args={k: v for k, v in (target.args or {}).items() if v is not None},
            target=target.target or "",
            platform=platforms[0] or None,
            build_platform=builder.build_platform,
            check_entitlements=False,
            filename=filename,
        )
    except DockerfileError as err:
        yield Finding("error", err.summary, at(err.line), "dockerfile-syntax", name)
        return
    for warning in warnings:
        yield Finding("warning", warning.detail, at(warning.line), warning.rule, name)
    for missing in missing_context_sources(
        plan, context_dir, None if spec.dockerfile_inline is not None else Path(path), filename
    ):
        yield Finding("error", missing.summary, at(missing.line), "copy-source-not-found", name)
    infos = stages_of(text, filename)
    contexts = {key.lower() for key in target.contexts or {}}
    for finding in _unknown_stages(infos, contexts, plan):
        yield Finding("warning", finding[1], at(finding[0]), "unknown-stage", name)


def _unknown_stages(
    infos: Sequence[TargetInfo], contexts: set[str], plan: BuildPlan
) -> Iterator[tuple[int, str]]:
    """(line, message) of each ``FROM`` / ``--from`` name that is no stage and no build context
    but looks meant as a stage."""
    stages = {info.name.lower() for info in infos if info.name}
    known = stages | contexts | {"scratch", "context"}
    for stage in infos:
        base = stage.base.lower()
        hint = did_you_mean(base, stages)
        if base not in known and "$" not in base and hint:
            yield stage.line, f'FROM {stage.base}: no stage or build context named "{stage.base}"{hint}'

    for built in plan.stages:
        for step in built.steps:
            origin = getattr(step, "origin", None)
            match = _FROM_FLAG.search(step.instruction)
            if origin is None or origin.kind != "image" or match is None:
                continue
            written = match.group(1)
            if written.lower() in known or _IMAGE_LIKE.search(written):
                continue
            yield (
                step.line,
                (
                    f'COPY --from={written}: no stage or build context named "{written}", '
                    f"so it would be pulled as the image {origin.name}{did_you_mean(written.lower(), stages)}"
                ),
            )
