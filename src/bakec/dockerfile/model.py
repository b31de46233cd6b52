"""The frontend's output: a plain-data build plan per Dockerfile and target.

Everything here is frozen and built from tuples so that the graph layer can hash
steps into content-addressed keys. A :class:`BuildPlan` lists the stages the
target needs (in Dockerfile order), each with its base and ordered steps, and
the image config and history BuildKit would write for the target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from bakec.dockerfile.lint import LintWarning

__all__ = [
    "AddStep",
    "ArgInfo",
    "Base",
    "BuildPlan",
    "CopyStep",
    "HistoryEntry",
    "ImageConfig",
    "InlineFile",
    "Layer",
    "MetaStep",
    "Mount",
    "ResolvedImage",
    "RunStep",
    "Source",
    "Stage",
    "Step",
    "WorkdirStep",
]

KNOWN_AFTER_EXECUTION = "known after execution"


@dataclass(frozen=True)
class ResolvedImage:
    """What the image resolver found for a reference on one platform.

    ``config`` is the image config JSON (``{"architecture", "os", "config",
    "rootfs", "history", ...}``); ``digest`` the manifest digest.
    """

    ref: str
    digest: str
    config: str  # canonical JSON text, so the object stays hashable

    @classmethod
    def from_config(cls, ref: str, digest: str, config: dict[str, Any]) -> ResolvedImage:
        return cls(ref, digest, json.dumps(config, sort_keys=True, separators=(",", ":")))

    def config_dict(self) -> dict[str, Any]:
        return json.loads(self.config)


@dataclass(frozen=True)
class Source:
    """Where a COPY or mount reads from.

    kind: ``context`` (the main build context), ``stage`` (index into the plan's
    stages), ``image`` (a reference), ``named-context`` (the matching key of
    ``compile(named_contexts=...)``, e.g. ``base`` or ``base::linux/arm64``) or
    ``scratch``.
    """

    kind: Literal["context", "stage", "image", "named-context", "scratch"]
    name: str = ""
    stage: int = -1
    platform: str = ""


@dataclass(frozen=True)
class Base:
    """The starting point of a stage."""

    kind: Literal["scratch", "image", "stage", "named-context"]
    # normalised image ref (with digest when resolved) / stage name / named_contexts key
    name: str = ""
    stage: int = -1
    digest: str = ""
    resolved: bool = True
    platform: str = ""


@dataclass(frozen=True)
class InlineFile:
    """A heredoc body that becomes a file (COPY heredoc or RUN shebang script)."""

    name: str
    data: str
    mode: int = 0o644


@dataclass(frozen=True)
class Mount:
    """One ``RUN --mount``; secrets and ssh carry ids only, never content."""

    type: Literal["bind", "cache", "tmpfs", "secret", "ssh"]
    target: str
    source: str = ""
    origin: Source | None = None
    readonly: bool = False
    id: str = ""
    sharing: str = ""
    required: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int = 0
    env: str | None = None


_PRESENTATION = frozenset({"instruction", "line", "history", "description", "onbuild"})


@dataclass(frozen=True)
class _StepBase:
    instruction: str  # the instruction text as written (first line)
    line: int
    history: str  # created_by of the history entry
    description: str  # BuildKit vertex name, e.g. "[2/3] COPY a /b"
    onbuild: bool

    def definition(self) -> dict[str, Any]:
        """The fields that define the operation, for content-addressed keys.

        Presentation (instruction text, line, history, vertex name) is left out:
        the same command on the same parent is the same operation whatever the
        stage is called or where it sits in the Dockerfile.
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name not in _PRESENTATION:
                out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class RunStep(_StepBase):
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    user: str
    workdir: str
    mounts: tuple[Mount, ...]
    network: str
    security: str
    platform: str
    proxy_env: tuple[tuple[str, str], ...] = ()
    files: tuple[InlineFile, ...] = ()  # mounted read-only under /dev/pipes/
    kind: Literal["run"] = "run"

    @property
    def layer_description(self) -> str:
        return "mount / from exec " + " ".join(self.args)


@dataclass(frozen=True)
class CopyStep(_StepBase):
    origin: Source
    sources: tuple[str, ...]
    contents: tuple[InlineFile, ...]
    dest: str  # absolute, resolved against WORKDIR; trailing "/" kept
    chown: str
    chmod: str
    link: bool
    parents: bool
    exclude: tuple[str, ...]
    workdir: str
    user: str
    platform: str
    merge: bool  # COPY --link without --chmod: copy onto scratch, then merge
    kind: Literal["copy"] = "copy"

    @property
    def layer_description(self) -> str:
        return self.description


@dataclass(frozen=True)
class AddStep(CopyStep):
    checksum: str = ""
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    kind: Literal["add"] = "add"  # type: ignore[assignment]


@dataclass(frozen=True)
class WorkdirStep(_StepBase):
    path: str
    user: str
    platform: str
    kind: Literal["workdir"] = "workdir"

    @property
    def layer_description(self) -> str:
        return self.description


@dataclass(frozen=True)
class MetaStep(_StepBase):
    """A config-only instruction (ENV, LABEL, ARG, USER, CMD, ...)."""

    name: str
    kind: Literal["meta"] = "meta"


Step = RunStep | CopyStep | AddStep | WorkdirStep | MetaStep


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool
    comment: str = "buildkit.dockerfile.v0"
    created: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created is not None:
            out["created"] = self.created
        out["created_by"] = self.created_by
        out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class Layer:
    """One layer of the image, described as BuildKit's exporter would."""

    description: str
    from_base: bool


@dataclass(frozen=True)
class ImageConfig:
    """The image config as BuildKit writes it (only the fields the exporter keeps)."""

    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    author: str = ""
    created: str | None = None
    config: str = "{}"  # canonical JSON of the "config" object, omitempty applied
    history: tuple[HistoryEntry, ...] = ()  # the base image's entries first

    def config_dict(self) -> dict[str, Any]:
        return json.loads(self.config)

    @property
    def platform(self) -> str:
        out = f"{self.os}/{self.architecture}"
        if self.variant:
            out += "/" + self.variant
        return out


@dataclass(frozen=True)
class Stage:
    index: int
    name: str  # lower-cased stage name, "" when unnamed
    display_name: str  # name in vertex descriptions ("stage-2" when unnamed)
    base: Base
    platform: str
    steps: tuple[Step, ...]
    image: ImageConfig
    layers: tuple[Layer, ...]
    deps: tuple[int, ...]  # stages this one reads from (base, --from, mounts)


@dataclass(frozen=True)
class ArgInfo:
    """A build argument the target uses (``--call outline``)."""

    name: str
    value: str
    description: str
    line: int


@dataclass(frozen=True)
class BuildPlan:
    """Everything the frontend decides for one Dockerfile, target and platform."""

    stages: tuple[Stage, ...]
    target: int  # index into ``stages``
    platform: str
    build_args: tuple[tuple[str, str], ...]
    warnings: tuple[LintWarning, ...] = ()
    syntax: str = ""
    # Paths of the main context the target reads (BuildKit's FollowPaths);
    # "/" among them means the whole context.
    context_paths: tuple[str, ...] = field(default=())
    args: tuple[ArgInfo, ...] = ()

    def outline(self) -> dict[str, Any]:
        """``--call outline``: the target's arguments, secrets and ssh ids."""
        secrets: dict[str, bool] = {}
        ssh: dict[str, bool] = {}
        for stage in self.stages:
            for step in stage.steps:
                for mount in getattr(step, "mounts", ()):
                    if mount.type == "secret":
                        secrets[mount.id] = secrets.get(mount.id, False) or mount.required
                    elif mount.type == "ssh":
                        ssh[mount.id] = ssh.get(mount.id, False) or mount.required
        out: dict[str, Any] = {"name": self.target_stage.name}
        if self.args:
            out["args"] = [
                {k: v for k, v in (("name", a.name), ("description", a.description), ("value", a.value)) if v}
                for a in self.args
            ]
        if secrets:
            out["secrets"] = [{"name": k, **({"required": True} if v else {})} for k, v in secrets.items()]
        if ssh:
            out["ssh"] = [{"name": k, **({"required": True} if v else {})} for k, v in ssh.items()]
        return out

    @property
    def target_stage(self) -> Stage:
        return self.stages[self.target]

    @property
    def image(self) -> ImageConfig:
        return self.target_stage.image

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.target_stage.layers

    @property
    def layer_count(self) -> int:
        return len(self.target_stage.layers)

    @property
    def known_after_execution(self) -> tuple[str, ...]:
        """What this plan cannot know before running: listed, never guessed.

        Every RUN/COPY/ADD/WORKDIR commits a layer even when its diff is empty
        (BuildKit keeps empty layers), so layer counts are static; timestamps
        without SOURCE_DATE_EPOCH and unresolved base images are not.
        """
        out: list[str] = []
        if self.image.created is None:
            out.append("created timestamps (no SOURCE_DATE_EPOCH)")
        for stage in self.stages:
            if not stage.base.resolved:
                out.append(f"base image {stage.base.name}: config, digest and layer count (unresolved)")
        return tuple(out)

    def exported_history(self) -> list[HistoryEntry]:
        """History as the image exporter writes it (``normalizeLayersAndHistory``).

        Layers without a history entry get one appended at the end, described
        like BuildKit's vertices; surplus non-empty entries are marked empty.
        """
        image = self.image
        history = list(image.history)
        layers = self.layers
        with_layer = sum(1 for h in history if not h.empty_layer)
        if with_layer > len(layers):
            fixed: list[HistoryEntry] = []
            count = 0
            for h in history:
                if count >= len(layers) and not h.empty_layer:
                    h = HistoryEntry(h.created_by, True, h.comment, h.created)
                if not h.empty_layer:
                    count += 1
                fixed.append(h)
            history = fixed
            with_layer = len(layers)
        for layer in layers[with_layer:]:
            history.append(
                HistoryEntry(layer.description, False, "buildkit.exporter.image.v0", image.created)
            )
        return history

    def expected_config(self) -> dict[str, Any]:
        """The subset compared by the conformance corpus (``expected-config.json``)."""
        out: dict[str, Any] = {
            "config": self.image.config_dict(),
            "history": [
                {"created_by": h.created_by, "empty_layer": h.empty_layer} for h in self.exported_history()
            ],
            "layer_count": self.layer_count,
            "platform": self.image.platform,
        }
        if self.image.author:
            out["author"] = self.image.author
        return out
