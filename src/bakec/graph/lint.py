"""``--call check`` / ``--check``: BuildKit's build checks on each target's Dockerfile, building nothing."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bakec.bake.model import Target, copy_target
from bakec.dockerfile.convert import check
from bakec.dockerfile.convert import targets as stages_of
from bakec.dockerfile.lint import LintWarning
from bakec.dockerfile.outline import Outline, outline
from bakec.errors import Pos, Range, excerpt
from bakec.graph.build import _Builder
from bakec.graph.context import ContextHasher
from bakec.graph.resolve import OfflineResolver
from bakec.graph.target_options import TargetBuildSpec, target_build_spec


@dataclass(frozen=True)
class TargetLint:
    """The build checks of one target's Dockerfile, as ``--call check`` reports them."""

    target: str
    filename: str  # as the target names it (``Dockerfile``, ``api/Dockerfile``, ``<inline>``)
    text: str
    warnings: tuple[LintWarning, ...]


def checked_spec(builder: _Builder, target: Target) -> TargetBuildSpec:
    """The build a check stands for: the target's inputs, with the build method (``call=`` is the check's)."""
    return target_build_spec(copy_target(target, call=None), "", builder.build_platform)


def dockerfile_names(builder: _Builder, spec: TargetBuildSpec, path: str) -> tuple[str, str]:
    """The Dockerfile's name as the frontend reports it, and its path as errors show it."""
    filename = "Dockerfile" if spec.dockerfile_inline is not None else os.path.basename(path)
    return filename, builder.shown_path(spec, path)


def _dockerfiles(builder: _Builder, names: Sequence[str], cwd: str | os.PathLike[str]):
    """Each target's name, resolved target, Dockerfile text, the name the frontend uses and the shown path."""
    for name in names:
        target = builder._target(name)
        spec = checked_spec(builder, target)
        context_dir = builder.context_dir(spec, name)
        text, path = builder._dockerfile(spec, context_dir, name)
        filename, shown = dockerfile_names(builder, spec, path)
        yield name, target, text, filename, shown


def render_targets(targets: Mapping[str, Target], *, cwd: str | os.PathLike[str]) -> str:
    """``--call targets``: every stage of each target's Dockerfile with its description."""

    builder = _Builder(targets, Path(cwd), OfflineResolver(), ContextHasher(), "linux/amd64", None)
    out: list[str] = []
    try:
        for name, _target, text, filename, _shown in _dockerfiles(builder, list(targets), cwd):
            if len(targets) > 1:
                out.extend([""] if out else [])
                out.append(f"# {name}")
            rows = [("TARGET", "DESCRIPTION")]
            for stage in stages_of(text, filename):
                if stage.name:
                    rows.append((stage.name + (" (default)" if stage.default else ""), stage.description))
            width = max(len(r[0]) for r in rows) + 3
            out.extend((label.ljust(width) + description).rstrip() for label, description in rows)
    finally:
        builder.hasher.close()
    return "\n".join(out) + "\n"


def render_outline(targets: Mapping[str, Target], *, cwd: str | os.PathLike[str]) -> str:
    """``--call outline``: the build args, secrets and ssh sockets each target's stage uses."""
    builder = _Builder(targets, Path(cwd), OfflineResolver(), ContextHasher(), "linux/amd64", None)
    out: list[str] = []
    try:
        for name, target, text, filename, _shown in _dockerfiles(builder, list(targets), cwd):
            if len(targets) > 1:
                out.append(("\n" if out else "") + f"# {name}\n")
            build_args = {k: v for k, v in (target.args or {}).items() if v is not None}
            found = outline(text, build_args=build_args, target=target.target or "", filename=filename)
            out.append(_print_outline(found))
    finally:
        builder.hasher.close()
    return "".join(out)


def _print_outline(found: Outline) -> str:
    """BuildKit's ``outline.PrintOutline`` text: each table laid out by Go's tabwriter, then a blank line."""
    out = ""
    if found.name or found.description:
        rows: list[tuple[str, ...]] = [("TARGET:", found.name or "(default)")]
        if found.description:
            rows.append(("DESCRIPTION:", found.description))
        out += _tabwriter(rows, padding=1) + "\n"
    if found.args:
        args = [(a.name, a.value, a.description) for a in found.args]
        out += _tabwriter([("BUILD ARG", "VALUE", "DESCRIPTION"), *args], padding=3) + "\n"
    for title, mounts in (("SECRET", found.secrets), ("SSH", found.ssh)):
        if mounts:
            table = [(title, "REQUIRED")] + [(m.name, "true" if m.required else "") for m in mounts]
            out += _tabwriter(table, padding=3) + "\n"
    return out


def _tabwriter(rows: Sequence[Sequence[str]], *, padding: int) -> str:
    """Go's ``tabwriter`` (minwidth 0, pad with spaces): every cell but the last padded to its column."""
    widths = [max(len(row[i]) for row in rows) + padding for i in range(len(rows[0]) - 1)]
    return "".join(
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + row[-1] + "\n"
        for row in rows
    )


def lint_targets(
    targets: Mapping[str, Target], *, cwd: str | os.PathLike[str], requested: Sequence[str] | None = None
) -> list[TargetLint]:
    """Run BuildKit's build checks on the Dockerfile of each requested target; nothing is built."""
    builder = _Builder(targets, Path(cwd), OfflineResolver(), ContextHasher(), "linux/amd64", None)
    try:
        out = []
        names = list(requested) if requested is not None else list(targets)
        for name, target, text, filename, shown in _dockerfiles(builder, names, cwd):
            out.append(TargetLint(name, shown, text, lint_dockerfile(target, text, filename)))
        return out
    finally:
        builder.hasher.close()


def lint_dockerfile(target: Target, text: str, filename: str) -> tuple[LintWarning, ...]:
    """BuildKit's build checks on one target's Dockerfile text (its build args and stage applied)."""
    return check(
        text,
        build_args={k: v for k, v in (target.args or {}).items() if v is not None},
        target=target.target or "",
        filename=filename,
    )


def render_lint(results: Sequence[TargetLint]) -> str:
    """The report ``docker buildx bake --check`` prints: a count, then each warning with its excerpt."""
    total = sum(len(r.warnings) for r in results)
    if total == 0:
        return "Check complete, no warnings found.\n"
    count = "1 warning has been found!" if total == 1 else f"{total} warnings have been found!"
    out = [f"Check complete, {count}"]
    for result in results:
        for warning in result.warnings:
            out.append("")
            out.append(f"WARNING: {warning.rule} - {warning.url}\n{warning.detail}")
            if warning.line:
                at = Pos(warning.line, 1)
                out.extend(excerpt(Range(result.filename, at, at), result.text.encode()))
    return "\n".join(out) + "\n"
