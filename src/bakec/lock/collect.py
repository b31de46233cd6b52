"""What a build needs from outside: the references a lockfile pins.

Each requested target's Dockerfile is compiled on each of its platforms, as
:func:`bakec.graph.build.build_graph` compiles it, with a resolver that only records
what it is asked; no context is hashed and nothing is fetched except the trees of git
contexts (their Dockerfile lives there). That keeps ``bakec lock --check`` offline and
fast. A need is keyed by ``(kind, ref, platform)`` and remembers the first target and
stage that asked for it, for messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bakec.dockerfile import NamedContext, compile
from bakec.dockerfile.model import AddStep
from bakec.errors import BakecError, SpecError
from bakec.graph.target_options import frontend_inputs, target_build_spec
from bakec.util.gitref import is_add_git_source, is_git_url, is_http_source, parse_git_url

if TYPE_CHECKING:
    from bakec.bake.model import Target
    from bakec.dockerfile import BuildPlan, NamedContext

__all__ = ["Need", "collect"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


@dataclass(frozen=True, order=True)
class Need:
    """One external input: ``image`` (per platform), ``git``, ``http`` or ``remote``."""

    kind: str
    ref: str
    platform: str = ""

    def shown(self) -> str:
        return f"{self.kind} {self.ref}" + (f" ({self.platform})" if self.platform else "")


def collect(
    targets: Mapping[str, Target],
    *,
    cwd: str,
    build_platform: str,
    git_dir: Callable[[str], Path],
    remote: str | None = None,
) -> dict[Need, str]:
    """Every input the build of ``targets`` needs → who needs it (``target T, stage S``).

    ``git_dir(url)`` returns the checked-out tree of a git context (the build's fetcher).
    """
    collector = _Collector(targets, Path(cwd), build_platform, git_dir)
    if remote:
        collector.need(Need("remote", remote), "the bake definition")
    for name in targets:
        spec = target_build_spec(targets[name], "", build_platform)
        for platform in spec.platforms or ("",):
            collector.plan(name, platform, ())
    return dict(sorted(collector.needs.items()))


class _Collector:
    def __init__(
        self,
        targets: Mapping[str, Target],
        cwd: Path,
        build_platform: str,
        git_dir: Callable[[str], Path],
    ) -> None:
        self.targets = targets
        self.cwd = cwd
        self.build_platform = build_platform
        self.git_dir = git_dir
        self.needs: dict[Need, str] = {}
        self.plans: dict[tuple[str, str], BuildPlan] = {}

    def need(self, need: Need, where: str) -> None:
        if need.kind == "git" and _COMMIT.match(parse_git_url(need.ref).ref):
            return  # a full commit id pins itself
        self.needs.setdefault(need, where)

    def plan(self, name: str, platform: str, stack: tuple[str, ...]) -> BuildPlan:
        found = self.plans.get((name, platform))
        if found is not None:
            return found
        if name in stack:
            raise SpecError("target cycle: " + " -> ".join(stack[stack.index(name) :] + (name,)))
        target = self.targets.get(name)
        if target is None:
            raise SpecError(f"failed to find target {name}")
        spec = target_build_spec(target, platform, self.build_platform)
        where = f"target {name}"
        context_dir = self._dir(spec.context, where)
        text, filename = self._dockerfile(spec.dockerfile, spec.dockerfile_inline, context_dir)
        named = self._named(spec.contexts, platform, stack + (name,), where)
        asked: list[tuple[str, str]] = []

        plan = compile(
            text,
            **frontend_inputs(spec, platform, self.build_platform),
            named_contexts=named,
            resolver=lambda ref, p: asked.append((ref, p)),
            multi_platform=len(spec.platforms) > 1,
            filename=filename,
        )
        self.plans[(name, platform)] = plan
        stages: dict[tuple[str, str], str] = {}
        for stage in plan.stages:
            base = stage.base
            if base.kind == "image":
                stages.setdefault((base.name, base.platform or stage.platform), stage.display_name)
            for step in stage.steps:
                if isinstance(step, AddStep) and not step.checksum:
                    for src in step.sources:
                        if is_add_git_source(src):
                            self.need(Need("git", src), f"{where}, stage {stage.display_name}")
                        elif is_http_source(src):
                            self.need(Need("http", src), f"{where}, stage {stage.display_name}")
        for ref, p in asked:
            if "@" not in ref:  # a digest in the Dockerfile pins itself
                shown = stages.get((ref, p))
                self.need(Need("image", ref, p), f"{where}, stage {shown}" if shown else where)
        return plan

    def _named(
        self, contexts: Mapping[str, str], platform: str, stack: tuple[str, ...], where: str
    ) -> dict[str, NamedContext]:

        out: dict[str, NamedContext] = {}
        for key, value in contexts.items():
            nc = NamedContext.parse(value)
            if nc.kind == "target":
                other = [
                    p for p in target_build_spec(self.targets[nc.value], "", self.build_platform).platforms
                ]
                linked = other[0] if not platform and len(other) == 1 else platform
                nc = NamedContext("target", nc.value, plan=self.plan(nc.value, linked, stack))
            elif nc.kind == "image":
                if "@" not in nc.value:
                    self.need(
                        Need("image", nc.value, platform or self.build_platform), f"{where}, context {key}"
                    )
            elif nc.kind == "local":
                nc = NamedContext("local", str(self._dir(nc.value, f"{where}, context {key}")))
            out[key] = nc
        return out

    def _dir(self, value: str, where: str) -> Path:
        if value.startswith("cwd://"):
            value = value[len("cwd://") :] or "."
        elif is_git_url(value):
            self.need(Need("git", value), where)
            return self.git_dir(value)
        elif "://" in value:
            raise BakecError(f"{where}: context {value!r}: only local and git contexts are supported")
        return (self.cwd / value).resolve()

    def _dockerfile(self, name: str, inline: str | None, context_dir: Path) -> tuple[str, str]:
        if inline is not None:
            return inline, "Dockerfile"
        if name.startswith("cwd://"):
            name = str(self.cwd / name[len("cwd://") :])
        path = name if os.path.isabs(name) else str(context_dir / name)
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(), os.path.basename(path)
        except OSError as exc:
            raise BakecError(
                f"failed to read dockerfile: open {name}: {(exc.strerror or str(exc)).lower()}"
            ) from None
